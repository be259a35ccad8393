//! Plain data every other module shares; imports nothing of this crate.

use std::collections::BTreeMap;

use dk_core::Secret;
use serde::Serialize;

/// Key → value, sorted by key. Values never leave their `Secret` except to be compared, encrypted
/// or written to their destination.
pub type Entries = BTreeMap<String, Secret<String>>;

/// `Entries` from literal pairs, for the modules' unit tests.
#[cfg(test)]
pub fn entries(pairs: &[(&str, &str)]) -> Entries {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Secret::new(v.to_string())))
        .collect()
}

/// The tag that marks a secret as written (and so prunable) by this tool.
pub const MANAGED_BY_KEY: &str = "managed-by";
pub const MANAGED_BY_VALUE: &str = "secrets-sync";

/// What happens to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// In the source, not in the target: written.
    Added,
    /// In both, values differ (compared in memory): written.
    Changed,
    /// In the target only, managed by this tool, and `--prune`: deleted.
    Removed,
    /// GitHub cannot read a secret back: present there, so written again.
    Unknown,
    /// In both with the same value: not written.
    Unchanged,
    /// In the target only and left alone (no `--prune`, or not managed by this tool).
    Kept,
}

impl Change {
    /// Whether apply writes or deletes this key.
    pub fn acts(self) -> bool {
        matches!(
            self,
            Change::Added | Change::Changed | Change::Removed | Change::Unknown
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Changed => "changed",
            Change::Removed => "removed",
            Change::Unknown => "unknown",
            Change::Unchanged => "unchanged",
            Change::Kept => "kept",
        }
    }
    pub fn symbol(self) -> char {
        match self {
            Change::Added => '+',
            Change::Changed => '~',
            Change::Removed => '-',
            Change::Unknown => '?',
            Change::Unchanged => '=',
            Change::Kept => ' ',
        }
    }
}

/// One key of a plan: its name and fate, and why (never a value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanItem {
    pub key: String,
    pub change: Change,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What the target holds now, as far as it can be read.
#[derive(Debug, Default)]
pub struct TargetState {
    /// Readable values (Secrets Manager), by key.
    pub values: BTreeMap<String, Secret<String>>,
    /// Keys present whose values cannot be read (GitHub).
    pub opaque: Vec<String>,
    /// Keys that this tool manages (tagged), and so may prune.
    pub managed: Vec<String>,
}
