//! DescribeServiceRevisions: what each deployment ran (task definition, launch settings,
//! images), as ECS records it since 2024. Rollback tools read the previous task definition here.

use serde_json::{Value, json};

use super::input::{Input, describe_by_arn};
use crate::error::EcsError;
use crate::model::{State, resolve_task_definition};
use crate::render::{timestamp, without_nulls};

/// ARNs per call (API limit).
const MAX_DESCRIBE: usize = 20;

/// A stand-in digest: ECS resolves tags to digests once per revision; the emulator has no
/// registry, so it derives a stable `sha256:`-shaped value from the image string.
fn pretend_digest(image: &str) -> String {
    let mut out = String::from("sha256:");
    for seed in 0u64..4 {
        // FNV-1a, seeded per quarter, gives 64 stable hex digits.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
        for b in image.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        out.push_str(&format!("{hash:016x}"));
    }
    out
}

/// `(cluster, service)` from `…:service-revision/<cluster>/<service>/<id>`.
fn locate(arn: &str) -> Option<(&str, &str)> {
    let (_, tail) = arn.split_once(":service-revision/")?;
    let mut parts = tail.split('/');
    Some((parts.next()?, parts.next()?))
}

fn render(state: &State, arn: &str) -> Option<Value> {
    let (cluster, service) = locate(arn)?;
    let s = state.clusters.get(cluster)?.services.get(service)?;
    // The oldest deployment on this revision is the one that created it.
    let d = s
        .deployments
        .iter()
        .rev()
        .find(|d| d.service_revision_arn == arn)?;
    let images: Vec<Value> = resolve_task_definition(&state.task_definitions, &d.task_definition)
        .map(|td| {
            td.containers()
                .into_iter()
                .map(|c| {
                    json!({
                        "containerName": c.name,
                        "imageDigest": pretend_digest(&c.image),
                        "image": c.image,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(without_nulls(json!({
        "serviceRevisionArn": arn,
        "serviceArn": s.arn,
        "clusterArn": s.cluster_arn,
        "taskDefinition": d.task_definition,
        "capacityProviderStrategy": d.capacity_provider_strategy,
        "launchType": d.launch_type,
        "platformVersion": d.platform_version,
        "loadBalancers": s.load_balancers,
        "serviceRegistries": s.service_registries,
        "networkConfiguration": d.network_configuration,
        "containerImages": images,
        "guardDutyEnabled": false,
        "createdAt": timestamp(d.created_at),
    })))
}

pub fn describe(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    describe_by_arn(
        input,
        "serviceRevisionArns",
        MAX_DESCRIBE,
        "serviceRevisions",
        |arn| render(state, arn),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Digests are stable, distinct per image, and shaped like sha256 digests.
    #[test]
    fn digests_are_stable_and_shaped() {
        let a = pretend_digest("web:v1");
        assert_eq!(a, pretend_digest("web:v1"));
        assert_ne!(a, pretend_digest("web:v2"));
        assert_eq!(a.len(), "sha256:".len() + 64);
    }
}
