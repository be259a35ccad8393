//! ECS names and ARNs, in one place for every tool that names a cluster, a service or a task
//! definition: the name rule, `--service` parsing, and the helpers that take ARNs apart for
//! messages and comparisons. Pure string work: no AWS SDK needed.
//!
//! `--service` takes `NAME` (with `--cluster`), `CLUSTER/NAME`, or a service ARN
//! (`arn:PARTITION:ecs:REGION:ACCOUNT:service/CLUSTER/NAME`, or the old
//! `…:service/NAME` with `--cluster`), so one invocation can span clusters.

use std::fmt;

use crate::{Error, Result};

/// Cluster, service, family and container names: 1–255 letters, digits, `_` and `-`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The parts of an ECS ARN: `arn:PARTITION:ecs:REGION:ACCOUNT:RESOURCE` → RESOURCE.
fn ecs_resource(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let ok = parts.next() == Some("arn")
        && parts.next().is_some_and(|p| !p.is_empty())
        && parts.next() == Some("ecs");
    let resource = parts.nth(2)?;
    ok.then_some(resource)
}

/// Whether `c` is a cluster ARN with a valid cluster name.
fn is_cluster_arn(c: &str) -> bool {
    ecs_resource(c)
        .and_then(|r| r.strip_prefix("cluster/"))
        .is_some_and(valid_name)
}

/// A `--cluster` value: a name or a cluster ARN.
pub fn check_cluster(c: &str) -> Result<()> {
    if valid_name(c) || is_cluster_arn(c) {
        Ok(())
    } else {
        Err(Error::usage(format!("`{c}` is not a cluster name or ARN"))
            .with_hint("a cluster is 1–255 letters, digits, `_` or `-`, or a cluster ARN"))
    }
}

/// The short name of a cluster given by name or ARN.
pub fn cluster_name(c: &str) -> &str {
    c.rsplit_once(":cluster/").map_or(c, |(_, n)| n)
}

/// One service: its cluster's short name and its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceRef {
    pub cluster: String,
    pub name: String,
}

impl ServiceRef {
    /// Service `name` of `cluster` (names or ARNs, taken as given: [`parse_services`] checks
    /// user input).
    pub fn new(cluster: impl Into<String>, name: impl Into<String>) -> ServiceRef {
        ServiceRef {
            cluster: cluster.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.cluster, self.name)
    }
}

/// Parse every `--service` (each trimmed, so `web, worker` works); each needs a cluster from its
/// own form or `cluster` (`--cluster`, a name or ARN). A bad name, a missing cluster or the same
/// service twice is a usage error naming the flag.
pub fn parse_services(cluster: Option<&str>, specs: &[String]) -> Result<Vec<ServiceRef>> {
    if let Some(c) = cluster {
        check_cluster(c).map_err(|e| Error::usage(format!("--cluster {}", e.message())))?;
    }
    let default_cluster = cluster.map(cluster_name);
    let mut out: Vec<ServiceRef> = Vec::new();
    for raw in specs {
        let r = parse_service(raw.trim(), default_cluster)?;
        if out.contains(&r) {
            return Err(Error::usage(format!("--service {r} is given twice")));
        }
        out.push(r);
    }
    if out.is_empty() {
        return Err(Error::usage("no --service given"));
    }
    Ok(out)
}

fn parse_service(spec: &str, default_cluster: Option<&str>) -> Result<ServiceRef> {
    let (cluster, name) = if spec.starts_with("arn:") {
        let Some(path) = ecs_resource(spec).and_then(|r| r.strip_prefix("service/")) else {
            return Err(
                Error::usage(format!("--service `{spec}` is not a service ARN"))
                    .with_hint("expected arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME"),
            );
        };
        match path.split_once('/') {
            Some((c, n)) => (Some(c), n),
            None => (default_cluster, path),
        }
    } else if let Some((c, n)) = spec.split_once('/') {
        (Some(c), n)
    } else {
        (default_cluster, spec)
    };
    if !valid_name(name) {
        return Err(Error::usage(format!(
            "`{name}` in --service `{spec}` is not a service name"
        ))
        .with_hint(
            "use NAME, CLUSTER/NAME or a service ARN; a name is 1–255 letters, digits, `_` or `-`",
        ));
    }
    let Some(cluster) = cluster else {
        return Err(
            Error::usage(format!("--service `{spec}` needs a cluster")).with_hint(format!(
                "pass --cluster CLUSTER, or write it as CLUSTER/{name}"
            )),
        );
    };
    if !valid_name(cluster) {
        return Err(Error::usage(format!(
            "`{cluster}` in --service `{spec}` is not a cluster name"
        )));
    }
    Ok(ServiceRef {
        cluster: cluster.to_string(),
        name: name.to_string(),
    })
}

/// The last path segment of an ARN (`…:service/prod/web` → `web`, `…:task/prod/abc` → `abc`);
/// anything that is not an ARN unchanged.
pub fn last_segment(id: &str) -> &str {
    if id.starts_with("arn:") {
        id.rsplit('/').next().unwrap_or(id)
    } else {
        id
    }
}

/// `family:revision` of a task definition ARN (`…:task-definition/web:12` → `web:12`); anything
/// else unchanged.
pub fn task_definition_name(td: &str) -> &str {
    td.rsplit_once(":task-definition/").map_or(td, |(_, n)| n)
}

/// The family of `family:revision` or a task definition ARN.
pub fn family_of(td: &str) -> &str {
    let n = task_definition_name(td);
    n.split_once(':').map_or(n, |(f, _)| f)
}

/// The revision of `family:revision` or a task definition ARN.
pub fn revision_of(td: &str) -> Option<i64> {
    task_definition_name(td)
        .rsplit_once(':')
        .and_then(|(_, r)| r.parse().ok())
}

/// `arn:aws:ecs:…:task-definition/web:12` and `web:12` name the same revision.
pub fn same_task_definition(a: &str, b: &str) -> bool {
    a == b || task_definition_name(a) == task_definition_name(b)
}

/// Whether `id` is a ServiceDeployment ARN rather than a deployment id.
pub fn is_service_deployment_arn(id: &str) -> bool {
    ecs_resource(id).is_some_and(|r| r.starts_with("service-deployment/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(cluster: Option<&str>, specs: &[&str]) -> std::result::Result<Vec<String>, String> {
        let owned: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        parse_services(cluster, &owned)
            .map(|v| v.iter().map(ToString::to_string).collect())
            .map_err(|e| e.message().to_string())
    }

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service";

    /// `--cluster`, the `--service` values, and what they name (or the usage error's words).
    type Case<'a> = (
        Option<&'a str>,
        &'a [&'a str],
        std::result::Result<Vec<String>, String>,
    );

    /// Every form of `--service`, with and without `--cluster`: what it names, or the words of
    /// the usage error.
    #[test]
    fn service_table() {
        let ok = |v: &[&str]| Ok::<_, String>(v.iter().map(|s| s.to_string()).collect());
        let cases: &[Case] = &[
            (Some("prod"), &["web"], ok(&["prod/web"])),
            (Some("prod"), &[" web "], ok(&["prod/web"])),
            (None, &["staging/worker"], ok(&["staging/worker"])),
            (Some("prod"), &["staging/worker"], ok(&["staging/worker"])),
            (
                None,
                &["arn:aws:ecs:us-east-1:123456789012:service/blue/api"],
                ok(&["blue/api"]),
            ),
            (
                Some("prod"),
                &["arn:aws:ecs:us-east-1:123456789012:service/api"],
                ok(&["prod/api"]),
            ),
            (
                Some("arn:aws:ecs:us-east-1:1:cluster/prod"),
                &["web"],
                ok(&["prod/web"]),
            ),
            (
                Some("arn:aws-cn:ecs:cn-north-1:1:cluster/c"),
                &["a", "b"],
                ok(&["c/a", "c/b"]),
            ),
            (
                None,
                &["web"],
                Err("--service `web` needs a cluster".into()),
            ),
            (
                None,
                &[&format!("{ARN}/web")],
                Err(format!("--service `{ARN}/web` needs a cluster")),
            ),
            (
                Some("c"),
                &["we b"],
                Err("`we b` in --service `we b` is not a service name".into()),
            ),
            (
                Some("c"),
                &[""],
                Err("`` in --service `` is not a service name".into()),
            ),
            (
                None,
                &["c d/web"],
                Err("`c d` in --service `c d/web` is not a cluster name".into()),
            ),
            (
                None,
                &["a/b/c"],
                Err("`b/c` in --service `a/b/c` is not a service name".into()),
            ),
            (
                Some("c"),
                &["web", "c/web"],
                Err("--service c/web is given twice".into()),
            ),
            (
                Some("c d"),
                &["web"],
                Err("--cluster `c d` is not a cluster name or ARN".into()),
            ),
            (
                Some("arn:aws:s3:::cluster/c"),
                &["web"],
                Err("--cluster `arn:aws:s3:::cluster/c` is not a cluster name or ARN".into()),
            ),
            (
                None,
                &["arn:aws:s3:::bucket"],
                Err("--service `arn:aws:s3:::bucket` is not a service ARN".into()),
            ),
            (
                None,
                &["arn:aws:s3:us-east-1:1:service/c/web"],
                Err("--service `arn:aws:s3:us-east-1:1:service/c/web` is not a service ARN".into()),
            ),
            (
                None,
                &["arn:aws:ecs:us-east-1:1:task/c/web"],
                Err("--service `arn:aws:ecs:us-east-1:1:task/c/web` is not a service ARN".into()),
            ),
            (Some("c"), &[], Err("no --service given".into())),
        ];
        for (cluster, specs, want) in cases {
            assert_eq!(&parse(*cluster, specs), want, "{cluster:?} {specs:?}");
        }
    }

    /// Usage errors exit 2, and a missing cluster says how to give one.
    #[test]
    fn service_errors_are_usage_errors_with_hints() {
        let e = parse_services(None, &["web".to_string()]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.hint().unwrap().contains("CLUSTER/web"));
    }

    /// The name rule: 1–255 of letters, digits, `_`, `-`.
    #[test]
    fn name_rule() {
        for (name, ok) in [
            ("web", true),
            ("Web_2-x", true),
            (&*"a".repeat(255), true),
            (&*"a".repeat(256), false),
            ("", false),
            ("we b", false),
            ("web.1", false),
            ("wéb", false),
        ] {
            assert_eq!(valid_name(name), ok, "{name}");
        }
    }

    /// ARNs taken apart for messages and comparisons.
    #[test]
    fn arn_helpers() {
        let td = "arn:aws:ecs:us-east-1:1:task-definition/web:12";
        assert_eq!(task_definition_name(td), "web:12");
        assert_eq!(task_definition_name("web:12"), "web:12");
        assert_eq!(family_of(td), "web");
        assert_eq!(family_of("web"), "web");
        assert_eq!(revision_of(td), Some(12));
        assert_eq!(revision_of("web"), None);
        assert!(same_task_definition(td, "web:12"));
        assert!(!same_task_definition(td, "web:13"));
        assert_eq!(last_segment("arn:aws:ecs:us-east-1:1:task/prod/abc"), "abc");
        assert_eq!(last_segment("prod/web"), "prod/web");
        assert_eq!(cluster_name("arn:aws:ecs:us-east-1:1:cluster/prod"), "prod");
        assert_eq!(cluster_name("prod"), "prod");
        assert!(is_service_deployment_arn(
            "arn:aws:ecs:us-east-1:1:service-deployment/c/web/abc"
        ));
        assert!(!is_service_deployment_arn("ecs-svc/123"));
    }
}
