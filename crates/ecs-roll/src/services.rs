//! Reading the services a command acts on. `--service` is parsed by core
//! ([`dk_core::ecs::parse_services`]) into [`ServiceRef`]s.

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{DeploymentControllerType, Service};
use dk_core::aws::sdk_error;
use dk_core::{Error, Result};

pub use dk_core::ecs::ServiceRef;

/// A call in `cluster` failed: a missing cluster is a usage error naming it (exit 2), anything
/// else what [`sdk_error`] says.
pub fn cluster_call_error<E, R>(
    doing: &str,
    cluster: &str,
    e: aws_sdk_ecs::error::SdkError<E, R>,
    cluster_not_found: impl FnOnce(&E) -> bool,
) -> Error
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if e.as_service_error().is_some_and(cluster_not_found) {
        Error::usage(format!("cluster `{cluster}` does not exist"))
            .with_hint("check --cluster and the region")
    } else {
        sdk_error(doing, e)
    }
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
                    let doing = format!("DescribeServices in {cluster}");
                    cluster_call_error(&doing, cluster, e, |s| s.is_cluster_not_found_exception())
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
