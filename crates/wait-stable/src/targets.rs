//! `--service` values into [`Target`]s, checked before any AWS call (the rule is core's:
//! [`dk_core::ecs::parse_services`]), and the shapes of `--deployment-id` / `--task-definition`.

use dk_core::{Error, Result};

use crate::model::{Target, Track};

/// Every `--service` (core's rule, [`dk_core::ecs::parse_services`]) as a target to follow.
pub fn parse_services(
    cluster: Option<&str>,
    services: &[String],
    track: &Track,
) -> Result<Vec<Target>> {
    Ok(dk_core::ecs::parse_services(cluster, services)?
        .into_iter()
        .map(|sref| Target {
            sref,
            track: track.clone(),
        })
        .collect())
}

/// `ecs-svc/<digits>` or a ServiceDeployment ARN.
pub fn check_deployment_id(id: &str) -> Result<()> {
    let ok = id
        .strip_prefix("ecs-svc/")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric()))
        || dk_core::ecs::is_service_deployment_arn(id);
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("--deployment-id `{id}` is not a deployment id"))
            .with_hint("use the id from DescribeServices (ecs-svc/1234…) or a ServiceDeployment ARN (arn:aws:ecs:…:service-deployment/…)"))
    }
}

/// A task definition ARN or `family:revision`.
pub fn check_task_definition(td: &str) -> Result<()> {
    let short = dk_core::ecs::task_definition_name(td);
    let ok = (!td.starts_with("arn:") || td.contains(":task-definition/"))
        && short.split_once(':').is_some_and(|(family, rev)| {
            dk_core::ecs::valid_name(family)
                && !rev.is_empty()
                && rev.chars().all(|c| c.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--task-definition `{td}` is not a task definition revision"
        ))
        .with_hint("use family:revision (web:42) or the full task definition ARN"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(cluster: Option<&str>, s: &[&str]) -> Result<Vec<(String, String)>> {
        let owned: Vec<String> = s.iter().map(|x| x.to_string()).collect();
        parse_services(cluster, &owned, &Track::CurrentPrimary).map(|v| {
            v.into_iter()
                .map(|t| (t.sref.cluster, t.sref.name))
                .collect()
        })
    }

    /// NAME, CLUSTER/NAME and ARNs (new and old form) all name a service and its cluster.
    #[test]
    fn parses_the_three_forms() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:service/staging/api";
        let got = parse(Some("prod"), &["web", "other/worker", arn]).unwrap();
        assert_eq!(
            got,
            vec![
                ("prod".into(), "web".into()),
                ("other".into(), "worker".into()),
                ("staging".into(), "api".into())
            ]
        );
        let old = "arn:aws:ecs:us-east-1:123456789012:service/web";
        assert_eq!(
            parse(Some("prod"), &[old]).unwrap(),
            vec![("prod".into(), "web".into())]
        );
    }

    /// A bare name without --cluster, a bad name, and duplicates are usage errors.
    #[test]
    fn rejects_bad_services() {
        assert!(
            parse(None, &["web"])
                .unwrap_err()
                .hint()
                .unwrap()
                .contains("--cluster")
        );
        assert_eq!(parse(Some("c"), &["we b"]).unwrap_err().exit_code(), 2);
        assert!(parse(Some("c"), &["web", "c/web"]).is_err());
        assert!(parse(Some("c d"), &["web"]).is_err());
    }

    /// Deployment ids and task definitions are checked for shape.
    #[test]
    fn checks_ids() {
        assert!(check_deployment_id("ecs-svc/1234567890").is_ok());
        assert!(
            check_deployment_id("arn:aws:ecs:us-east-1:1:service-deployment/c/web/abc").is_ok()
        );
        assert!(check_deployment_id("1234").is_err());
        assert!(check_task_definition("web:3").is_ok());
        assert!(check_task_definition("arn:aws:ecs:us-east-1:1:task-definition/web:3").is_ok());
        assert!(check_task_definition("web").is_err());
        assert!(check_task_definition("arn:aws:ecs:us-east-1:1:service/web:3").is_err());
    }
}
