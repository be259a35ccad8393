//! One push, as named steps: connect to the destination (ECR login, repository, ping), read the
//! source into a plan, check what the tags point at now, transfer the missing blobs, put the
//! manifests. `lib.rs` checks the inputs first; `summary.rs` turns the result into the outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use dk_core::{Error, Outcome, Result, Ui};

use crate::image::ImagePlan;
use crate::registry_client::{Credentials, ErrorClass, RegistryClient, RegistryError, Relogin};
use crate::source::SourceSpec;
use crate::summary::{self, Pushed, Transferred};
use crate::upload::{BlobResult, RegistrySource, Uploader};
use crate::{Checked, Cli, blob_cache, ecr_login, repository, source};

/// Attempts per registry request (and per blob upload) before giving up.
const REGISTRY_ATTEMPTS: u32 = 8;
/// Attempts to reach the registry at all: an unreachable registry should fail fast.
const PING_ATTEMPTS: u32 = 3;

/// How to renew the ECR token, and when it expires.
type Renewal = (Arc<dyn Relogin>, Option<SystemTime>);

/// The destination registry, reached and logged in to.
struct Destination {
    client: RegistryClient,
    /// `host[:port]`, as in image references.
    host: String,
    /// The ECR credentials, shared with an ECR source registry.
    credentials: Option<Credentials>,
    renewal: Option<Renewal>,
    /// The repository's tags cannot move (`--immutable-tags` or ECR's own setting).
    immutable: bool,
    /// `--create-repository` created it just now.
    created: bool,
}

impl Destination {
    /// A client that renews the ECR token like the destination's does.
    fn renewing(&self, client: RegistryClient) -> RegistryClient {
        with_renewal(client, self.renewal.as_ref())
    }
}

/// A registry source: its client, its repository, and whether it is the destination registry
/// (then its blobs can be mounted).
type SourceClient = (RegistryClient, String, bool);

/// Push the checked inputs; see the module docs for the steps.
pub(crate) async fn push(cli: &Cli, ui: &Ui, checked: Checked) -> Result<Outcome> {
    let started = Instant::now();
    let repo = cli.repository.as_str();
    let Checked {
        source: spec,
        local_plan,
        tags,
        registry,
    } = checked;
    let dest = connect_destination(cli, ui, registry).await?;
    let (plan, source_client) = read_source(cli, ui, &dest, local_plan, &spec).await?;
    if !cli.platform.is_empty() && plan.platforms.is_empty() {
        ui.warn("--platform has no effect: the source is a single-platform image, pushed as it is");
    }
    let digest = plan.root.digest.clone();
    summary::announce(ui, &dest.host, repo, &plan);
    let tags_to_put = match check_tags(ui, &dest, repo, &tags, &digest).await? {
        Ok(tags) => tags,
        Err(conflict) => return Ok(conflict),
    };
    let transferred = if tags_to_put.is_empty() {
        // Every tag already names this exact image: its blobs are there by construction.
        Transferred::nothing(&plan)
    } else {
        let mut cache = blob_cache::BlobCache::load(blob_cache::default_path(ui.context()));
        let transferred = transfer(cli, ui, &dest, &plan, source_client.as_ref(), &cache).await?;
        if let Err(conflict) = put_manifests(ui, &dest, repo, &plan, &tags_to_put).await? {
            return Ok(conflict);
        }
        cache.record(
            &dest.host,
            repo,
            plan.blobs.iter().map(|b| b.digest.clone()),
        );
        cache.save();
        transferred
    };
    Ok(summary::pushed(Pushed {
        host: &dest.host,
        repo,
        tags: &tags,
        tags_updated: &tags_to_put,
        plan: &plan,
        transferred,
        repository_created: dest.created,
        duration: started.elapsed(),
    }))
}

/// A registry failure as a tool error: corrupt source data is bad input (exit 2), the rest is
/// infrastructure (exit 3).
fn registry_error(e: RegistryError, registry: &str) -> Error {
    match e.class {
        ErrorClass::DigestMismatch => Error::usage(e.message).with_hint("the source image is corrupt: rebuild or re-export it"),
        ErrorClass::Auth => Error::runtime(format!("the registry refused our credentials: {}", e.message)).with_hint(
            "check the AWS credentials and the role's ECR permissions (ecr:GetAuthorizationToken, ecr:*Layer*, ecr:PutImage), or the registry's own credentials",
        ),
        ErrorClass::Unreachable | ErrorClass::Down => Error::runtime(format!("cannot reach the registry {registry}: {}", e.message))
            .with_hint("check --registry, the network, and that the registry is up"),
        ErrorClass::Transient => Error::runtime(format!("the registry kept failing: {}", e.message))
            .with_hint("retries were exhausted; run again — blobs already pushed will be skipped"),
        ErrorClass::TagInvalid | ErrorClass::Permanent => Error::runtime(e.message),
    }
}

/// ECR control plane (token, repository, tag mutability) unless `--no-ecr-auth`, then the
/// destination registry's client, pinged.
async fn connect_destination(cli: &Cli, ui: &Ui, registry: Option<String>) -> Result<Destination> {
    let (credentials, base, renewal, immutable, created) = if cli.no_ecr_auth {
        let base = registry.unwrap_or_default();
        (None, base, None, cli.immutable_tags, false)
    } else {
        let ecr = EcrDestination::log_in(cli, ui, registry).await?;
        (
            Some(ecr.credentials),
            ecr.base,
            Some(ecr.renewal),
            cli.immutable_tags || ecr.immutable,
            ecr.created,
        )
    };
    let client = with_renewal(
        RegistryClient::new(&base, credentials.clone(), REGISTRY_ATTEMPTS)
            .map_err(Error::runtime)?,
        renewal.as_ref(),
    );
    let host = client.host().to_string();
    client
        .ping(PING_ATTEMPTS)
        .await
        .map_err(|e| registry_error(e, &host))?;
    Ok(Destination {
        client,
        host,
        credentials,
        renewal,
        immutable,
        created,
    })
}

/// `client`, renewing the ECR token through `renewal` when there is one.
fn with_renewal(client: RegistryClient, renewal: Option<&Renewal>) -> RegistryClient {
    match renewal {
        Some((relogin, expires_at)) => client.with_relogin(relogin.clone(), *expires_at),
        None => client,
    }
}

/// What the ECR login and the repository check found.
struct EcrDestination {
    credentials: Credentials,
    base: String,
    renewal: Renewal,
    immutable: bool,
    created: bool,
}

impl EcrDestination {
    async fn log_in(cli: &Cli, ui: &Ui, registry: Option<String>) -> Result<Self> {
        let repo = cli.repository.as_str();
        let config = dk_core::aws::sdk_config(ui, &cli.aws).await?;
        let ecr = aws_sdk_ecr::Client::new(&config);
        ui.info("Logging in to ECR");
        let login = ecr_login::ecr_login(ui, &ecr, cli.registry_id.as_deref()).await?;
        let info = repository::ensure_repository(
            &ecr,
            cli.registry_id.as_deref(),
            repo,
            &repository::CreateOptions {
                create: cli.create_repository,
                immutable_tags: cli.immutable_tags,
                scan_on_push: cli.scan_on_push,
            },
        )
        .await?;
        if info.created {
            ui.info(&format!(
                "Created repository {repo}{}",
                if info.immutable {
                    " (immutable tags)"
                } else {
                    ""
                }
            ));
        }
        let base = match registry {
            Some(r) => r,
            None => {
                dk_core::aws::check_endpoint("the ECR proxyEndpoint", &login.proxy_endpoint)?;
                login.proxy_endpoint.trim_end_matches('/').to_string()
            }
        };
        let relogin = Arc::new(ecr_login::EcrRelogin {
            client: ecr.clone(),
            registry_id: cli.registry_id.clone(),
            ui: ui.clone(),
        });
        Ok(EcrDestination {
            credentials: login.credentials,
            base,
            renewal: (relogin, login.expires_at),
            immutable: info.immutable,
            created: info.created,
        })
    }
}

/// The plan: local sources were read during the checks; a registry source is read now.
async fn read_source(
    cli: &Cli,
    ui: &Ui,
    dest: &Destination,
    local_plan: Option<ImagePlan>,
    spec: &SourceSpec,
) -> Result<(ImagePlan, Option<SourceClient>)> {
    let (image, reference) = match (local_plan, spec) {
        (Some(p), _) => return Ok((p, None)),
        (None, SourceSpec::Registry { image, reference }) => (image, reference),
        (None, _) => return Err(Error::runtime("no image to push")),
    };
    let src_host = image.registry.clone().unwrap_or_default();
    // The ECR token opens every ECR registry the principal may read, so it goes to ECR hosts
    // and to the destination itself; anything else is read anonymously.
    let creds = if src_host == dest.host || source::is_ecr_host(&src_host) {
        dest.credentials.clone()
    } else {
        None
    };
    let shares_login = creds.is_some();
    let client = RegistryClient::new(&source::registry_base(&src_host), creds, REGISTRY_ATTEMPTS)
        .map_err(Error::runtime)?;
    let client = if shares_login {
        dest.renewing(client)
    } else {
        client
    };
    ui.info(&format!("Reading {} from {src_host}", image));
    let plan = source::open_registry(&client, &image.repository, reference, &cli.platform)
        .await
        .map_err(|e| registry_error(e, &src_host))?;
    let same_registry = src_host == dest.host;
    Ok((
        plan,
        Some((client, image.repository.clone(), same_registry)),
    ))
}

/// What each tag points at now: the tags to put (none when every tag already names this
/// image), or the tag-conflict outcome for an immutable tag that names another image.
async fn check_tags(
    ui: &Ui,
    dest: &Destination,
    repo: &str,
    tags: &[String],
    digest: &str,
) -> Result<std::result::Result<Vec<String>, Outcome>> {
    let mut tags_to_put = Vec::new();
    for tag in tags {
        match dest
            .client
            .manifest_digest(repo, tag)
            .await
            .map_err(|e| registry_error(e, &dest.host))?
        {
            Some(existing) if existing == digest => {
                ui.info(&format!("{repo}:{tag} already points at {digest}"))
            }
            Some(existing) if dest.immutable => {
                return Ok(Err(summary::tag_conflict(
                    &dest.host, repo, tag, &existing, digest,
                )));
            }
            Some(existing) => {
                ui.info(&format!("{repo}:{tag} moves from {existing}"));
                tags_to_put.push(tag.clone());
            }
            None => tags_to_put.push(tag.clone()),
        }
    }
    Ok(Ok(tags_to_put))
}

/// Get every blob into the repository (skip, mount or upload), then confirm each moved one is
/// there.
async fn transfer(
    cli: &Cli,
    ui: &Ui,
    dest: &Destination,
    plan: &ImagePlan,
    source_client: Option<&SourceClient>,
    cache: &blob_cache::BlobCache,
) -> Result<Transferred> {
    let host = dest.host.as_str();
    let repo = cli.repository.as_str();
    let mut mount_from = cli.mount_from.clone();
    if let Some((_, src_repo, true)) = source_client {
        mount_from.insert(0, src_repo.clone());
    }
    let known: HashMap<String, Vec<String>> = plan
        .blobs
        .iter()
        .map(|b| (b.digest.clone(), cache.repos_for(host, &b.digest)))
        .collect();
    let status_ui = ui.clone();
    let uploader = Uploader {
        dest: &dest.client,
        repo,
        source: source_client.map(|(c, r, _)| RegistrySource {
            client: c,
            repo: r.as_str(),
        }),
        mount_from,
        known,
        jobs: cli.jobs,
        stats: Default::default(),
        progress: Box::new(move |s: &str| status_ui.status(s)),
    };
    ui.group(&format!(
        "Transferring {} blobs to {host}/{repo}",
        plan.blobs.len()
    ));
    let blob_results = uploader
        .upload_missing_blobs(&plan.blobs)
        .await
        .map_err(|e| registry_error(e, host))?;
    ui.clear_status();
    let moved: Vec<_> = plan
        .blobs
        .iter()
        .filter(|b| {
            blob_results
                .iter()
                .any(|(d, r)| d == &b.digest && *r != BlobResult::Skipped)
        })
        .cloned()
        .collect();
    uploader
        .verify_present(&moved)
        .await
        .map_err(|e| registry_error(e, host))?;
    Ok(Transferred {
        stats: uploader.stats.get(),
        blob_results,
    })
}

/// The child manifests of an index by digest, then the root once per tag; `Err` carries the
/// tag-conflict outcome when ECR refuses to move an immutable tag.
async fn put_manifests(
    ui: &Ui,
    dest: &Destination,
    repo: &str,
    plan: &ImagePlan,
    tags_to_put: &[String],
) -> Result<std::result::Result<(), Outcome>> {
    let host = dest.host.as_str();
    let digest = plan.root.digest.as_str();
    for child in &plan.children {
        let got = dest
            .client
            .put_manifest(repo, &child.digest, &child.media_type, &child.bytes)
            .await
            .map_err(|e| registry_error(e, host))?;
        if got != child.digest {
            return Err(Error::runtime(format!(
                "the registry stored manifest {} as {got}",
                child.digest
            )));
        }
    }
    for tag in tags_to_put {
        match dest
            .client
            .put_manifest(repo, tag, &plan.root.media_type, &plan.root.bytes)
            .await
        {
            Ok(got) if got == digest => ui.info(&format!("Tagged {repo}:{tag}")),
            Ok(got) => {
                return Err(Error::runtime(format!(
                    "the registry stored {repo}:{tag} as {got}, expected {digest}"
                )));
            }
            Err(e) if e.class == ErrorClass::TagInvalid => {
                // ECR refusing to move an immutable tag: say which image holds it.
                let existing = dest
                    .client
                    .manifest_digest(repo, tag)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "another image".into());
                return Ok(Err(summary::tag_conflict(
                    host, repo, tag, &existing, digest,
                )));
            }
            Err(e) => return Err(registry_error(e, host)),
        }
    }
    Ok(Ok(()))
}
