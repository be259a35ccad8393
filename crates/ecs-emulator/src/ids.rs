//! Identifiers and ARNs in the shapes real ECS uses.
//!
//! The emulator is one account in one Region (see the README), so every ARN is built here from
//! two constants; tools that parse ARNs see the same layout as on AWS.

use fastrand::Rng;

/// The only account the emulator knows.
pub const ACCOUNT_ID: &str = "123456789012";
/// The only Region the emulator knows.
pub const REGION: &str = "us-east-1";
/// Who "registered" task definitions and "created" services.
pub const CALLER_ARN: &str = "arn:aws:iam::123456789012:user/ecs-emulator";

fn arn(resource: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:{resource}")
}

/// ECS's rule for cluster and service names and task definition families: 1 to 255 letters,
/// numbers, hyphens and underscores. The emulator keeps its own copy of the rule (not core's):
/// it stands for what AWS accepts, so the tools' own check is tested against it, not with it.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub fn cluster_arn(cluster: &str) -> String {
    arn(&format!("cluster/{cluster}"))
}

pub fn service_arn(cluster: &str, service: &str) -> String {
    arn(&format!("service/{cluster}/{service}"))
}

pub fn task_arn(cluster: &str, task_id: &str) -> String {
    arn(&format!("task/{cluster}/{task_id}"))
}

pub fn task_definition_arn(family: &str, revision: u32) -> String {
    arn(&format!("task-definition/{family}:{revision}"))
}

pub fn service_deployment_arn(cluster: &str, service: &str, id: &str) -> String {
    arn(&format!("service-deployment/{cluster}/{service}/{id}"))
}

pub fn service_revision_arn(cluster: &str, service: &str, id: &str) -> String {
    arn(&format!("service-revision/{cluster}/{service}/{id}"))
}

/// The last path segment of an ARN, or the string itself when it is a plain name.
/// ECS accepts either a name or a full ARN almost everywhere a resource is named.
pub fn last_segment(name_or_arn: &str) -> &str {
    if name_or_arn.starts_with("arn:") {
        name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
    } else {
        name_or_arn
    }
}

/// A 19-digit decimal number, the form seen in real deployment ids (`ecs-svc/<number>`).
pub fn nineteen_digits(rng: &mut Rng) -> String {
    rng.u64(1_000_000_000_000_000_000..10_000_000_000_000_000_000)
        .to_string()
}

/// A deployment id such as `ecs-svc/4920198301739102837`.
pub fn deployment_id(rng: &mut Rng) -> String {
    format!("ecs-svc/{}", nineteen_digits(rng))
}

/// A 32-hex-digit task id, as Fargate and EC2 tasks have.
pub fn task_id(rng: &mut Rng) -> String {
    (0..32)
        .map(|_| char::from_digit(rng.u32(0..16), 16).unwrap_or('0'))
        .collect()
}

/// An opaque alphanumeric id, for service deployments and event ids.
pub fn opaque_id(rng: &mut Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[rng.usize(0..ALPHABET.len())]))
        .collect()
}

/// A UUID-shaped string (event ids and runtime ids look like this on AWS).
pub fn uuid(rng: &mut Rng) -> String {
    let hex = task_id(rng);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deployment ids carry exactly 19 digits after `ecs-svc/`.
    #[test]
    fn deployment_id_has_nineteen_digits() {
        let mut rng = Rng::with_seed(7);
        for _ in 0..100 {
            let id = deployment_id(&mut rng);
            let digits = id.strip_prefix("ecs-svc/").unwrap();
            assert_eq!(digits.len(), 19, "{id}");
            assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    /// Names and ARNs resolve to the same last segment.
    #[test]
    fn last_segment_accepts_names_and_arns() {
        assert_eq!(last_segment("web"), "web");
        assert_eq!(last_segment(&service_arn("prod", "web")), "web");
        assert_eq!(last_segment(&cluster_arn("prod")), "prod");
    }

    #[test]
    fn task_ids_are_hex() {
        let mut rng = Rng::with_seed(1);
        let id = task_id(&mut rng);
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(uuid(&mut rng).len(), 36);
    }
}
