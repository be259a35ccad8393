//! RDS identifier rules, checked locally so a bad name exits 2 before any AWS call
//! (M-RDS `CreateDBSnapshotMessage`, `CreateDBClusterSnapshotMessage`).

use dk_core::Error;

/// What an identifier names; the length limits differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// DB instance or cluster identifier: 1–63.
    Database,
    /// DB (instance) snapshot identifier: 1–255.
    InstanceSnapshot,
    /// DB cluster snapshot identifier: 1–63.
    ClusterSnapshot,
}

impl IdKind {
    fn max_len(self) -> usize {
        match self {
            IdKind::InstanceSnapshot => 255,
            IdKind::Database | IdKind::ClusterSnapshot => 63,
        }
    }
}

/// First character a letter; letters, digits and hyphens; no trailing hyphen, no `--`.
pub fn validate(flag: &str, value: &str, kind: IdKind) -> Result<(), Error> {
    let broken = if value.is_empty() {
        Some("it is empty".to_string())
    } else if value.len() > kind.max_len() {
        Some(format!(
            "it is {} characters long; the limit is {}",
            value.len(),
            kind.max_len()
        ))
    } else if !value.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("it must start with a letter".into())
    } else if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        Some(format!(
            "it contains `{c}`; only letters, digits and hyphens are allowed"
        ))
    } else if value.ends_with('-') {
        Some("it must not end with a hyphen".into())
    } else if value.contains("--") {
        Some("it must not contain two consecutive hyphens".into())
    } else {
        None
    };
    match broken {
        None => Ok(()),
        Some(why) => Err(Error::usage(format!(
            "{flag} `{value}` is not a valid RDS identifier: {why}"
        ))
        .with_hint(
            "RDS identifiers start with a letter and hold letters, digits and single hyphens",
        )),
    }
}

/// Turn arbitrary text into a valid identifier fragment (for default snapshot names).
pub fn sanitize(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule is enforced and named in the message.
    #[test]
    fn rules() {
        assert!(validate("--db", "app-db", IdKind::Database).is_ok());
        for (bad, why) in [
            ("", "empty"),
            ("1db", "start with a letter"),
            ("app_db", "contains `_`"),
            ("app-", "end with a hyphen"),
            ("app--db", "consecutive"),
        ] {
            let e = validate("--db", bad, IdKind::Database).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.message().contains(why), "{bad}: {}", e.message());
        }
        let long = format!("a{}", "b".repeat(63));
        assert!(
            validate("--db", &long, IdKind::Database)
                .unwrap_err()
                .message()
                .contains("limit is 63")
        );
        assert!(validate("--snapshot-id", &long, IdKind::InstanceSnapshot).is_ok());
        assert!(validate("--snapshot-id", &long, IdKind::ClusterSnapshot).is_err());
    }

    /// Sanitised fragments are valid identifier parts.
    #[test]
    fn sanitizes() {
        assert_eq!(sanitize("My_App DB--1-"), "my-app-db-1");
    }
}
