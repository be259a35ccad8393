//! Which snapshots are ours. Every snapshot `rds-snapshot` makes carries `managed-by=deploy-kit`
//! and the database it was taken of; `prune` deletes only snapshots carrying both, so automated
//! snapshots and other tools' snapshots are never touched.

use std::collections::BTreeMap;

use dk_core::Error;
use dk_core::context::GithubRun;

pub const MANAGED_BY_KEY: &str = "managed-by";
pub const MANAGED_BY_VALUE: &str = "deploy-kit";
pub const DB_KEY: &str = "deploy-kit:db";

/// The tags for a new snapshot: ownership, the GitHub run when there is one, then the user's.
pub fn tags_for(
    db: &str,
    run: Option<&GithubRun>,
    user: &[(String, String)],
) -> Vec<(String, String)> {
    let mut tags = vec![
        (MANAGED_BY_KEY.to_string(), MANAGED_BY_VALUE.to_string()),
        (DB_KEY.to_string(), db.to_string()),
    ];
    if let Some(run) = run {
        for (k, v) in [
            ("github:repository", &run.repository),
            ("github:run-id", &run.run_id),
            ("github:sha", &run.sha),
        ] {
            if let Some(v) = v {
                tags.push((k.to_string(), v.clone()));
            }
        }
    }
    for (k, v) in user {
        tags.retain(|(existing, _)| existing != k);
        tags.push((k.clone(), v.clone()));
    }
    tags
}

/// Ours, and of this database.
pub fn is_owned(tags: &BTreeMap<String, String>, db: &str) -> bool {
    tags.get(MANAGED_BY_KEY).map(String::as_str) == Some(MANAGED_BY_VALUE)
        && tags.get(DB_KEY).map(String::as_str) == Some(db)
}

/// `--tag KEY=VALUE`, with AWS's tag rules.
pub fn parse_tag(text: &str) -> Result<(String, String), String> {
    dk_core::aws::parse_tag(text, "rds-snapshot", &[MANAGED_BY_KEY, DB_KEY])
}

pub fn validate_tags(tags: &[(String, String)]) -> Result<(), Error> {
    if tags.len() > 50 {
        return Err(Error::usage(format!(
            "{} tags given; RDS allows at most 50 per resource",
            tags.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ownership needs both tags, with this database.
    #[test]
    fn ownership_needs_both_tags() {
        let tags: BTreeMap<_, _> = tags_for("app", None, &[]).into_iter().collect();
        assert!(is_owned(&tags, "app"));
        assert!(!is_owned(&tags, "other"));
        let mut foreign = tags.clone();
        foreign.insert(MANAGED_BY_KEY.into(), "terraform".into());
        assert!(!is_owned(&foreign, "app"));
    }

    /// The GitHub run is recorded and user tags come last.
    #[test]
    fn run_and_user_tags() {
        let run = GithubRun {
            repository: Some("o/r".into()),
            run_id: Some("7".into()),
            run_attempt: None,
            sha: Some("abc".into()),
            workflow: None,
        };
        let tags = tags_for("app", Some(&run), &[("team".into(), "web".into())]);
        assert!(tags.contains(&("github:run-id".into(), "7".into())));
        assert_eq!(
            tags.last().unwrap(),
            &("team".to_string(), "web".to_string())
        );
    }

    /// Bad tags name the rule.
    #[test]
    fn tag_rules() {
        assert_eq!(parse_tag("a=b").unwrap(), ("a".into(), "b".into()));
        assert!(parse_tag("nope").unwrap_err().contains("KEY=VALUE"));
        assert!(parse_tag("aws:x=1").unwrap_err().contains("reserved"));
        assert!(parse_tag("managed-by=me").unwrap_err().contains("itself"));
    }
}
