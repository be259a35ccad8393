//! ECR repositories: the name rule (checked before any network call), and the control-plane
//! calls around a push — create the repository when asked, and read whether its tags are
//! immutable, which decides what an existing tag pointing elsewhere means.

use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability};
use dk_core::{Error, Result};

/// ECR's repository name rule: 2–256 characters, `/`-separated components of lowercase letters
/// and digits joined by single `.`, `_` or `-`.
pub fn validate_repository_name(name: &str) -> std::result::Result<(), String> {
    if !(2..=256).contains(&name.len()) {
        return Err(format!(
            "repository `{name}` must be 2 to 256 characters long"
        ));
    }
    for comp in name.split('/') {
        let ok = !comp.is_empty()
            && comp.split(['.', '_', '-']).all(|run| {
                !run.is_empty()
                    && run
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !ok {
            let why = if comp.bytes().any(|b| b.is_ascii_uppercase()) {
                "must be lowercase"
            } else if name.contains("://") || comp.contains(':') {
                "must be a repository name only (the registry host goes in --registry)"
            } else {
                "must be lowercase letters and digits joined by single `.`, `_` or `-`, with `/` between components"
            };
            return Err(format!("repository `{name}` {why}"));
        }
    }
    Ok(())
}

/// What the push needs to know about the repository.
#[derive(Debug, Clone)]
pub struct RepositoryInfo {
    pub immutable: bool,
    pub created: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub create: bool,
    pub immutable_tags: bool,
    pub scan_on_push: bool,
}

/// Look the repository up, creating it when missing and `--create-repository` was given.
pub async fn ensure_repository(
    client: &aws_sdk_ecr::Client,
    registry_id: Option<&str>,
    name: &str,
    opts: &CreateOptions,
) -> Result<RepositoryInfo> {
    let described = client
        .describe_repositories()
        .set_registry_id(registry_id.map(str::to_string))
        .repository_names(name)
        .send()
        .await;
    match described {
        Ok(out) => {
            let immutable = out
                .repositories()
                .first()
                .and_then(|r| r.image_tag_mutability())
                .is_some_and(|m| {
                    matches!(
                        m,
                        ImageTagMutability::Immutable | ImageTagMutability::ImmutableWithExclusion
                    )
                });
            Ok(RepositoryInfo {
                immutable,
                created: false,
            })
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            if !opts.create {
                return Err(
                    Error::runtime(format!("the ECR repository `{name}` does not exist"))
                        .with_hint("create it first, or pass --create-repository"),
                );
            }
            let mutability = if opts.immutable_tags {
                ImageTagMutability::Immutable
            } else {
                ImageTagMutability::Mutable
            };
            let created = client
                .create_repository()
                .set_registry_id(registry_id.map(str::to_string))
                .repository_name(name)
                .image_tag_mutability(mutability)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder()
                        .scan_on_push(opts.scan_on_push)
                        .build(),
                )
                .send()
                .await;
            match created {
                Ok(_) => Ok(RepositoryInfo {
                    immutable: opts.immutable_tags,
                    created: true,
                }),
                // Another job created it in between: read it again.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_repository_already_exists_exception()) =>
                {
                    Box::pin(ensure_repository(
                        client,
                        registry_id,
                        name,
                        &CreateOptions::default(),
                    ))
                    .await
                }
                Err(e) => Err(dk_core::aws::sdk_error(
                    &format!("ECR CreateRepository {name}"),
                    e,
                )),
            }
        }
        // A push-only role may not describe repositories: carry on. ECR itself refuses to move an
        // immutable tag (TAG_INVALID), which the push reports the same way.
        Err(e)
            if !opts.create
                && dk_core::aws::error_code(&e).is_some_and(|c| c.starts_with("AccessDenied")) =>
        {
            Ok(RepositoryInfo {
                immutable: false,
                created: false,
            })
        }
        Err(e) => Err(dk_core::aws::sdk_error(
            &format!("ECR DescribeRepositories {name}"),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ECR's pattern: lowercase components with single separators; length 2–256.
    #[test]
    fn repository_names() {
        for ok in ["web", "team/web", "a.b_c-d/e2", "ab"] {
            assert!(validate_repository_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a",
            "Web",
            "team//web",
            "web-",
            "-web",
            "a..b",
            "host:5000/web",
            "/web",
            &"a".repeat(257),
        ] {
            assert!(validate_repository_name(bad).is_err(), "{bad}");
        }
        assert!(
            validate_repository_name("Team/web")
                .unwrap_err()
                .contains("lowercase")
        );
    }
}
