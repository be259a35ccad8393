//! The plan: what each key's fate is, decided from the source and what the target holds. Values
//! are compared in memory and never leave this module in any form — not a prefix, not a length.

use crate::model::{Change, Entries, PlanItem, TargetState};

/// Compare `source` with `target`. `prune` deletes keys only the target has, when this tool
/// manages them; `opaque` keys (GitHub) cannot be compared and are written again.
pub fn plan(source: &Entries, target: &TargetState, prune: bool) -> Vec<PlanItem> {
    let mut items = Vec::new();
    for (key, value) in source {
        let (change, note) = if let Some(current) = target.values.get(key) {
            if current.expose() == value.expose() {
                (Change::Unchanged, None)
            } else {
                (Change::Changed, None)
            }
        } else if target.opaque.contains(key) {
            (
                Change::Unknown,
                Some("present; GitHub cannot be read back, so it is written again".to_string()),
            )
        } else {
            (Change::Added, None)
        };
        items.push(PlanItem {
            key: key.clone(),
            change,
            note,
        });
    }
    let target_keys = target.values.keys().chain(target.opaque.iter());
    let mut extra: Vec<&String> = target_keys.filter(|k| !source.contains_key(*k)).collect();
    extra.sort();
    extra.dedup();
    for key in extra {
        let managed = target.managed.contains(key);
        let (change, note) = match (prune, managed) {
            (true, true) => (Change::Removed, None),
            (true, false) => (
                Change::Kept,
                Some("not managed by secrets-sync: never pruned".to_string()),
            ),
            (false, _) => (
                Change::Kept,
                Some("not in the source (--prune removes it)".to_string()),
            ),
        };
        items.push(PlanItem {
            key: key.clone(),
            change,
            note,
        });
    }
    items.sort_by(|a, b| a.key.cmp(&b.key));
    items
}

/// How many keys of each kind, in the order people read them.
pub fn counts(items: &[PlanItem]) -> Vec<(Change, usize)> {
    [
        Change::Added,
        Change::Changed,
        Change::Removed,
        Change::Unknown,
        Change::Unchanged,
        Change::Kept,
    ]
    .into_iter()
    .map(|c| (c, items.iter().filter(|i| i.change == c).count()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::entries;

    fn fates(items: &[PlanItem]) -> Vec<(String, Change)> {
        items.iter().map(|i| (i.key.clone(), i.change)).collect()
    }

    /// Every fate, with and without --prune, for managed and unmanaged extra keys.
    #[test]
    fn plan_table() {
        let source = entries(&[("A", "1"), ("B", "2"), ("C", "3"), ("G", "7")]);
        let target = TargetState {
            values: entries(&[("A", "1"), ("B", "changed"), ("D", "4"), ("E", "5")]),
            opaque: vec!["G".into()],
            managed: vec!["D".into()],
        };
        let c = |k: &str, ch| (k.to_string(), ch);
        assert_eq!(
            fates(&plan(&source, &target, false)),
            vec![
                c("A", Change::Unchanged),
                c("B", Change::Changed),
                c("C", Change::Added),
                c("D", Change::Kept),
                c("E", Change::Kept),
                c("G", Change::Unknown),
            ]
        );
        assert_eq!(
            fates(&plan(&source, &target, true)),
            vec![
                c("A", Change::Unchanged),
                c("B", Change::Changed),
                c("C", Change::Added),
                c("D", Change::Removed),
                c("E", Change::Kept),
                c("G", Change::Unknown),
            ]
        );
    }

    /// Nothing a plan carries reveals a value, its prefix or its length.
    #[test]
    fn plan_carries_no_values() {
        let source = entries(&[("K", "s3cr3t-new-value")]);
        let target = TargetState {
            values: entries(&[("K", "s3cr3t-old")]),
            ..Default::default()
        };
        let text = format!("{:?}", plan(&source, &target, true));
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("16") && !text.contains("10"), "{text}");
    }
}
