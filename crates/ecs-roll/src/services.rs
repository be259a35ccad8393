//! Which services a command acts on, and reading them. `--service` takes `NAME` (with
//! `--cluster`), `CLUSTER/NAME` or a service ARN, so one call can span clusters.

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{DeploymentControllerType, Service};
use dk_core::aws::sdk_error;
use dk_core::{Error, Result};

use crate::render::valid_name;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceRef {
    pub cluster: String,
    pub name: String,
}

impl std::fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.cluster, self.name)
    }
}

/// Cluster names (or ARNs) as ECS takes them.
pub fn check_cluster(c: &str) -> Result<()> {
    if c.starts_with("arn:") && c.contains(":cluster/") || valid_name(c) {
        Ok(())
    } else {
        Err(Error::usage(format!("`{c}` is not a cluster name"))
            .with_hint("a cluster is 1–255 letters, digits, `_` or `-`, or a cluster ARN"))
    }
}

/// The short name of a cluster given by name or ARN.
pub fn cluster_name(c: &str) -> &str {
    c.rsplit_once(":cluster/").map_or(c, |(_, n)| n)
}

/// Parse every `--service`; each needs a cluster from its own form or `--cluster`.
pub fn parse_services(cluster: Option<&str>, specs: &[String]) -> Result<Vec<ServiceRef>> {
    if let Some(c) = cluster {
        check_cluster(c)?;
    }
    let mut out: Vec<ServiceRef> = Vec::new();
    for spec in specs {
        let (c, name) = if let Some(rest) = spec.strip_prefix("arn:") {
            // arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME (the old form lacks the cluster)
            let res = rest.splitn(5, ':').nth(4).unwrap_or("");
            match res.strip_prefix("service/").map(|p| p.split_once('/')) {
                Some(Some((c, n))) => (Some(c.to_string()), n.to_string()),
                Some(None) => (
                    cluster.map(|c| cluster_name(c).to_string()),
                    res["service/".len()..].to_string(),
                ),
                None => {
                    return Err(
                        Error::usage(format!("--service `{spec}` is not a service ARN"))
                            .with_hint("expected arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME"),
                    );
                }
            }
        } else if let Some((c, n)) = spec.split_once('/') {
            (Some(c.to_string()), n.to_string())
        } else {
            (cluster.map(|c| cluster_name(c).to_string()), spec.clone())
        };
        let Some(c) = c else {
            return Err(
                Error::usage(format!("--service `{spec}` has no cluster")).with_hint(format!(
                    "pass --cluster CLUSTER, or write it as CLUSTER/{spec}"
                )),
            );
        };
        if !valid_name(&c) {
            return Err(Error::usage(format!(
                "`{c}` in --service `{spec}` is not a cluster name"
            )));
        }
        if !valid_name(&name) {
            return Err(Error::usage(format!(
                "`{name}` in --service `{spec}` is not a service name"
            ))
            .with_hint("a service name is 1–255 letters, digits, `_` or `-`"));
        }
        let r = ServiceRef { cluster: c, name };
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

/// DescribeServices for every service (≤ 10 per call, per cluster), in the order given. A missing
/// or inactive service, a missing cluster, or a service not on the rolling (`ECS`) controller
/// is an error naming it.
pub async fn describe(ecs: &Client, refs: &[ServiceRef]) -> Result<Vec<Service>> {
    let mut found: Vec<Option<Service>> = vec![None; refs.len()];
    let mut clusters: Vec<&str> = refs.iter().map(|r| r.cluster.as_str()).collect();
    clusters.dedup();
    clusters.sort_unstable();
    clusters.dedup();
    for cluster in clusters {
        let idx: Vec<usize> = (0..refs.len())
            .filter(|&i| refs[i].cluster == cluster)
            .collect();
        for chunk in idx.chunks(10) {
            let out = ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.iter().map(|&i| refs[i].name.clone()).collect()))
                .send()
                .await
                .map_err(|e| {
                    if e.as_service_error()
                        .is_some_and(|s| s.is_cluster_not_found_exception())
                    {
                        Error::usage(format!("cluster `{cluster}` does not exist"))
                            .with_hint("check --cluster and the region")
                    } else {
                        sdk_error(&format!("DescribeServices in {cluster}"), e)
                    }
                })?;
            for s in out.services() {
                if let Some(&i) = chunk
                    .iter()
                    .find(|&&i| s.service_name() == Some(refs[i].name.as_str()))
                {
                    found[i] = Some(s.clone());
                }
            }
        }
    }
    let mut services = Vec::with_capacity(refs.len());
    for (r, s) in refs.iter().zip(found) {
        let Some(s) = s else {
            return Err(Error::usage(format!("service {r} does not exist"))
                .with_hint("check --service, --cluster and the region"));
        };
        if s.status() != Some("ACTIVE") {
            return Err(Error::usage(format!(
                "service {r} is {}, not ACTIVE",
                s.status().unwrap_or("in an unknown state")
            ))
            .with_hint("a deleted service must be re-created before it can be deployed"));
        }
        if let Some(kind) = s.deployment_controller().map(|d| d.r#type())
            && *kind != DeploymentControllerType::Ecs
        {
            return Err(Error::usage(format!(
                "service {r} uses the {} deployment controller; ecs-roll drives rolling (ECS) deployments only",
                kind.as_str()
            )));
        }
        services.push(s);
    }
    Ok(services)
}

/// One service, re-read (for waits and checks after an update).
pub async fn describe_one(ecs: &Client, r: &ServiceRef) -> Result<Service> {
    Ok(describe(ecs, std::slice::from_ref(r)).await?.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// NAME, CLUSTER/NAME and ARNs resolve to cluster and service.
    #[test]
    fn service_forms() {
        let r = parse_services(
            Some("prod"),
            &s(&[
                "web",
                "staging/worker",
                "arn:aws:ecs:us-east-1:123456789012:service/blue/api",
            ]),
        )
        .unwrap();
        let pairs: Vec<String> = r.iter().map(ToString::to_string).collect();
        assert_eq!(pairs, vec!["prod/web", "staging/worker", "blue/api"]);
        let r = parse_services(Some("arn:aws:ecs:us-east-1:1:cluster/prod"), &s(&["web"])).unwrap();
        assert_eq!(r[0].cluster, "prod");
    }

    /// A service without a cluster, a duplicate or a bad name is a usage error.
    #[test]
    fn service_errors() {
        let e = parse_services(None, &s(&["web"])).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.hint().unwrap().contains("prod/web") || e.hint().unwrap().contains("CLUSTER/web")
        );
        assert!(
            parse_services(Some("c"), &s(&["web", "c/web"]))
                .unwrap_err()
                .message()
                .contains("twice")
        );
        assert!(parse_services(Some("c"), &s(&["we b"])).is_err());
        assert!(parse_services(Some("c d"), &s(&["web"])).is_err());
        assert!(parse_services(None, &s(&["arn:aws:s3:::bucket"])).is_err());
    }
}
