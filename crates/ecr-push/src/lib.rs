//! `ecr-push`: push a container image to Amazon ECR without a Docker daemon, and hand its digest
//! on (to `ecs-roll --image`).
//!
//! One run: check every input locally (exit 2 before any network), log in to ECR through the SDK
//! (token decoded and masked) and make sure the repository exists, look at what each tag points
//! at now (same digest → nothing to do; an immutable tag pointing elsewhere → exit 1 naming both
//! digests), get every blob into the repository (HEAD, mount, or streamed upload — `upload`),
//! confirm each is there, then put the manifest once per tag.
//!
//! Modules: `source` (what `--source` means), `oci_layout` / `docker_archive` / `manifest` (pure
//! parsing of local images, fuzzable), `image` (the push plan), `registry_client` (the registry
//! HTTP API and its auth challenges), `auth` (the ECR token), `repository` (ECR control plane),
//! `upload` (blobs), `blob_cache` (where blobs were seen, for mounts across runs).

pub mod auth;
pub mod blob_cache;
pub mod challenge;
pub mod docker_archive;
pub mod dry_run;
pub mod image;
pub mod manifest;
pub mod oci_layout;
pub mod registry_client;
pub mod repository;
pub mod scan;
pub mod source;
pub mod upload;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use clap::Parser;
use dk_core::cli::{CommonArgs, HasCommonArgs};
use dk_core::{Error, Outcome, Result, Tool, Ui};
use serde_json::json;

use crate::auth::Credentials;
use crate::image::ImagePlan;
use crate::registry_client::{ErrorClass, RegistryClient, RegistryError};
use crate::source::SourceSpec;
use crate::upload::{BlobResult, RegistrySource, Uploader};

const EXAMPLES: &str = "\
Examples:
  # Push what `docker buildx build --output type=oci,dest=build/oci,tar=false` wrote, under two tags
  ecr-push --source oci:build/oci --repository team/web --tag \"$GITHUB_SHA\" --tag latest

  # Push a `docker save` tarball, creating the repository with immutable tags
  ecr-push --source docker-archive:web.tar --repository team/web --tag v1.4.2 \\
           --create-repository --immutable-tags --scan-on-push

  # Promote an image between registries (only missing blobs travel; same registry: mounts)
  ecr-push --source docker://123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:rc1 \\
           --repository team/web --tag v1.4.2

  # Only the amd64 image of a multi-platform index
  ecr-push --source oci:build/oci --platform linux/amd64 --repository team/web --tag v1

  # Hand the pinned image to ecs-roll: stdout is just registry/repo@sha256:…
  ecs-roll --image \"$(ecr-push --source oci:build/oci --repository team/web --tag v1)\" …

  # Fail the job (exit 1, result scan_failed) when ECR's scan finds anything HIGH or CRITICAL
  ecr-push --source oci:build/oci --repository team/web --tag v1 --scan-gate high --scan-timeout 15m

  # Local registry, no AWS at all (tests)
  ecr-push --source oci:build/oci --registry http://127.0.0.1:5000 --no-ecr-auth --repository web --tag v1

Exit codes: 0 pushed or unchanged, 1 an immutable tag points at another digest or the scan found
something at or above --scan-gate, 2 bad input (nothing was sent), 3 registry or AWS unreachable,
auth refused, retries exhausted, or a scan that cannot finish, 4 --timeout or --scan-timeout reached.";

/// How to renew the ECR token, and when it expires.
type Renewal = (Arc<dyn registry_client::Relogin>, Option<SystemTime>);

/// Attempts per registry request (and per blob upload) before giving up.
const REGISTRY_ATTEMPTS: u32 = 8;
/// Attempts to reach the registry at all: an unreachable registry should fail fast.
const PING_ATTEMPTS: u32 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "ecr-push",
    version,
    about = "Push a container image to Amazon ECR without a Docker daemon; digest out",
    long_about = "Push a container image to Amazon ECR without a Docker daemon, and print its digest for ecs-roll.\n\n\
Sources: an OCI image layout (oci:DIR[:REF]), a `docker save` tarball (docker-archive:FILE), or another \
registry (docker://HOST/REPO:TAG). Blobs already in the repository are skipped, blobs known in another \
repository are mounted, the rest stream from disk in parallel with their sha256 checked on the way. The \
manifest goes up once per tag, only after every blob is confirmed present. Re-pushing the same image is a \
no-op; an immutable tag that points at another image fails with both digests.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub aws: dk_core::aws::AwsArgs,
    #[command(flatten)]
    pub common: CommonArgs,

    /// The image: oci:DIR[:REF], docker-archive:FILE[:REPO:TAG] or docker://HOST/REPO(:TAG|@DIGEST)
    #[arg(long, value_name = "SOURCE")]
    pub source: String,
    /// ECR repository to push to, e.g. team/web (no registry host: see --registry)
    #[arg(long, value_name = "NAME")]
    pub repository: String,
    /// Tag to point at the image (repeat, or comma-separate, for several)
    #[arg(
        long = "tag",
        short = 't',
        value_name = "TAG",
        required = true,
        value_delimiter = ','
    )]
    pub tags: Vec<String>,
    /// From a multi-platform index push only this platform, os/arch[/variant] (repeatable; one
    /// platform pushes its own manifest, several a reduced index)
    #[arg(long, value_name = "OS/ARCH", value_delimiter = ',')]
    pub platform: Vec<String>,

    /// Registry endpoint, overriding the one ECR reports (https://…, or http:// for loopback)
    #[arg(long, value_name = "URL", help_heading = "Registry")]
    pub registry: Option<String>,
    /// AWS account whose registry to log in to and push to [default: the caller's]
    #[arg(long, value_name = "ACCOUNT", help_heading = "Registry")]
    pub registry_id: Option<String>,
    /// Do not call ECR at all (no token, no repository checks): for a plain registry given by --registry
    #[arg(long, help_heading = "Registry")]
    pub no_ecr_auth: bool,
    /// Create the repository when it does not exist
    #[arg(long, help_heading = "Registry")]
    pub create_repository: bool,
    /// Create the repository with immutable tags; and never move an existing tag
    #[arg(long, help_heading = "Registry")]
    pub immutable_tags: bool,
    /// Create the repository with scan-on-push enabled
    #[arg(long, requires = "create_repository", help_heading = "Registry")]
    pub scan_on_push: bool,

    /// Repository in the same registry that may already hold the layers: mount them from it
    /// instead of uploading (repeatable; repositories pushed from this machine are remembered)
    #[arg(long, value_name = "REPO", help_heading = "Transfer")]
    pub mount_from: Vec<String>,
    /// Blobs transferred in parallel
    #[arg(long, value_name = "N", default_value_t = 4, help_heading = "Transfer")]
    pub jobs: usize,
    /// Give up after this long (exit 4), whatever a slow or stalled registry does — the source
    /// one included (1s to 7d)
    #[arg(
        long,
        value_name = "DUR",
        default_value = "1h",
        help_heading = "Transfer"
    )]
    pub timeout: dk_core::duration::Timeout,
    /// Check the inputs, read a local source and say what would be pushed and gated; contact no
    /// registry and no AWS
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub scan: scan::ScanArgs,
}

impl HasCommonArgs for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

pub struct EcrPush;

impl Tool for EcrPush {
    const NAME: &'static str = "ecr-push";
    type Cli = Cli;
    async fn run(cli: Cli, ui: Ui) -> Result<Outcome> {
        // One overall deadline: per-read timeouts alone let a registry that trickles a byte at a
        // time hold the job until the workflow's own timeout.
        if cli.dry_run {
            return dry_run::describe(&cli, &ui);
        }
        let (timeout, gate, gate_ui) = (cli.timeout, scan::Gate::from_cli(&cli), ui.clone());
        match dk_core::poll::Deadline::after(timeout).run(push(cli, ui)).await {
            Some(result) => scan::after_push(gate, &gate_ui, result?).await,
            None => Err(Error::timeout(format!(
                "the push did not finish within --timeout {timeout}"
            ))
            .with_hint("a registry (source or destination) is slow or stalled; for a large image on a slow link, raise --timeout")),
        }
    }
}

/// Everything checked before the first network call.
struct Checked {
    source: SourceSpec,
    local_plan: Option<ImagePlan>,
    tags: Vec<String>,
    registry: Option<String>,
}

fn usage(msg: impl Into<String>, hint: &str) -> Error {
    Error::usage(msg).with_hint(hint)
}

/// `scheme://host[:port]` without a path.
fn check_registry_url(url: &str) -> Result<String> {
    if !url.contains("://") {
        return Err(usage(
            format!("--registry `{url}` is not a URL"),
            "write the scheme: https://HOST, or http://127.0.0.1:PORT for a local registry",
        ));
    }
    dk_core::aws::check_endpoint("--registry", url)?;
    let trimmed = url.trim_end_matches('/');
    let after = &trimmed[trimmed.find("://").map_or(0, |i| i + 3)..];
    if after.is_empty() || after.contains('/') || after.contains('?') || after.contains('@') {
        return Err(usage(
            format!("--registry `{url}` must be scheme://host[:port] only"),
            "put the repository in --repository",
        ));
    }
    Ok(trimmed.to_string())
}

fn check_platform(p: &str) -> Result<()> {
    let parts: Vec<&str> = p.split('/').collect();
    let ok = (2..=3).contains(&parts.len())
        && parts.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(usage(
            format!("--platform `{p}` is not os/arch[/variant]"),
            "e.g. linux/amd64 or linux/arm64/v8",
        ))
    }
}

fn check_inputs(cli: &Cli, ui: &Ui) -> Result<Checked> {
    repository::validate_repository_name(&cli.repository)
        .map_err(|e| usage(e, "e.g. --repository team/web; ECR names are lowercase"))?;
    let mut tags: Vec<String> = Vec::new();
    for t in &cli.tags {
        dk_core::image_ref::validate_tag(t)
            .map_err(|e| usage(e, "e.g. --tag v1.4.2 or --tag \"$GITHUB_SHA\""))?;
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    for p in &cli.platform {
        check_platform(p)?;
    }
    for m in &cli.mount_from {
        repository::validate_repository_name(m).map_err(|e| {
            usage(
                format!("--mount-from: {e}"),
                "name a repository in the same registry",
            )
        })?;
    }
    if !(1..=32).contains(&cli.jobs) {
        return Err(usage(
            format!("--jobs {} is out of range", cli.jobs),
            "use 1 to 32",
        ));
    }
    if let Some(id) = &cli.registry_id
        && !(id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(usage(
            format!("--registry-id `{id}` is not a 12-digit AWS account id"),
            "e.g. --registry-id 123456789012",
        ));
    }
    let registry = cli
        .registry
        .as_deref()
        .map(check_registry_url)
        .transpose()?;
    if cli.no_ecr_auth {
        if registry.is_none() {
            return Err(usage(
                "--no-ecr-auth needs --registry",
                "name the registry, e.g. --registry http://127.0.0.1:5000",
            ));
        }
        if cli.create_repository || cli.registry_id.is_some() {
            return Err(usage(
                "--create-repository and --registry-id call ECR, which --no-ecr-auth turns off",
                "drop --no-ecr-auth, or drop those flags",
            ));
        }
    } else {
        cli.aws.validate(ui.context())?;
    }
    let source = source::parse(&cli.source).map_err(|e| {
        usage(
            format!("--source: {e}"),
            "use oci:DIR[:REF], docker-archive:FILE[:REPO:TAG] or docker://HOST/REPO:TAG",
        )
    })?;
    let local_plan = source::open_local(&source, &cli.platform).map_err(|e| {
        usage(
            format!("--source {}: {e}", cli.source),
            "point --source at an intact OCI layout (oci:DIR) or `docker save` tarball (docker-archive:FILE)",
        )
    })?;
    Ok(Checked {
        source,
        local_plan,
        tags,
        registry,
    })
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

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

async fn push(cli: Cli, ui: Ui) -> Result<Outcome> {
    let started = Instant::now();
    let checked = check_inputs(&cli, &ui)?;
    let repo = cli.repository.as_str();

    // ECR control plane: token, repository, tag mutability.
    let mut immutable = cli.immutable_tags;
    let mut created = false;
    let mut renewal: Option<Renewal> = None;
    let (credentials, base): (Option<Credentials>, String) = if cli.no_ecr_auth {
        (None, checked.registry.clone().unwrap_or_default())
    } else {
        let config = dk_core::aws::sdk_config(&ui, &cli.aws).await?;
        let ecr = aws_sdk_ecr::Client::new(&config);
        ui.info("Logging in to ECR");
        let login = auth::ecr_login(&ui, &ecr, cli.registry_id.as_deref()).await?;
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
        immutable |= info.immutable;
        created = info.created;
        let base = match &checked.registry {
            Some(r) => r.clone(),
            None => {
                dk_core::aws::check_endpoint("the ECR proxyEndpoint", &login.proxy_endpoint)?;
                login.proxy_endpoint.trim_end_matches('/').to_string()
            }
        };
        renewal = Some((
            Arc::new(auth::EcrRelogin {
                client: ecr.clone(),
                registry_id: cli.registry_id.clone(),
                ui: ui.clone(),
            }),
            login.expires_at,
        ));
        (Some(login.credentials), base)
    };
    let renewing = |client: RegistryClient| match &renewal {
        Some((relogin, expires_at)) => client.with_relogin(relogin.clone(), *expires_at),
        None => client,
    };

    let dest = renewing(
        RegistryClient::new(&base, credentials.clone(), REGISTRY_ATTEMPTS)
            .map_err(Error::runtime)?,
    );
    let host = dest.host().to_string();
    dest.ping(PING_ATTEMPTS)
        .await
        .map_err(|e| registry_error(e, &host))?;

    // The plan: local sources were read during the checks; a registry source is read now.
    let mut source_client = None;
    let plan = match (checked.local_plan, &checked.source) {
        (Some(p), _) => p,
        (None, SourceSpec::Registry { image, reference }) => {
            let src_host = image.registry.clone().unwrap_or_default();
            // The ECR token opens every ECR registry the principal may read, so it goes to
            // ECR hosts and to the destination itself; anything else is read anonymously.
            let creds = if src_host == host || source::is_ecr_host(&src_host) {
                credentials.clone()
            } else {
                None
            };
            let shares_login = creds.is_some();
            let client =
                RegistryClient::new(&source::registry_base(&src_host), creds, REGISTRY_ATTEMPTS)
                    .map_err(Error::runtime)?;
            let client = if shares_login {
                renewing(client)
            } else {
                client
            };
            ui.info(&format!("Reading {} from {src_host}", image));
            let plan = source::open_registry(&client, &image.repository, reference, &cli.platform)
                .await
                .map_err(|e| registry_error(e, &src_host))?;
            source_client = Some((client, image.repository.clone(), src_host == host));
            plan
        }
        (None, _) => return Err(Error::runtime("no image to push")),
    };
    if !cli.platform.is_empty() && plan.platforms.is_empty() {
        ui.warn("--platform has no effect: the source is a single-platform image, pushed as it is");
    }
    let digest = plan.root.digest.clone();
    let first_tag = &checked.tags[0];
    let image_uri = format!("{host}/{repo}:{first_tag}");
    let image = format!("{host}/{repo}@{digest}");
    ui.info(&format!(
        "Pushing {digest} ({} blobs, {}{}) to {host}/{repo}",
        plan.blobs.len(),
        mib(plan.total_bytes()),
        if plan.platforms.is_empty() {
            String::new()
        } else {
            format!(", platforms {}", plan.platforms.join(" "))
        }
    ));

    // What the tags point at now.
    let mut tags_to_put = Vec::new();
    for tag in &checked.tags {
        match dest
            .manifest_digest(repo, tag)
            .await
            .map_err(|e| registry_error(e, &host))?
        {
            Some(existing) if existing == digest => {
                ui.info(&format!("{repo}:{tag} already points at {digest}"))
            }
            Some(existing) if immutable => {
                return Ok(tag_conflict(&host, repo, tag, &existing, &digest));
            }
            Some(existing) => {
                ui.info(&format!("{repo}:{tag} moves from {existing}"));
                tags_to_put.push(tag.clone());
            }
            None => tags_to_put.push(tag.clone()),
        }
    }

    let stats;
    let mut blob_results = Vec::new();
    if tags_to_put.is_empty() {
        // Every tag already names this exact image: its blobs are there by construction.
        stats = (0, plan.blobs.len() as u64, 0, 0);
    } else {
        let mut cache = blob_cache::BlobCache::load(blob_cache::default_path(ui.context()));
        let mut mount_from = cli.mount_from.clone();
        if let Some((_, src_repo, true)) = &source_client {
            mount_from.insert(0, src_repo.clone());
        }
        let known: HashMap<String, Vec<String>> = plan
            .blobs
            .iter()
            .map(|b| (b.digest.clone(), cache.repos_for(&host, &b.digest)))
            .collect();
        let status_ui = ui.clone();
        let uploader = Uploader {
            dest: &dest,
            repo,
            source: source_client.as_ref().map(|(c, r, _)| RegistrySource {
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
        blob_results = uploader
            .upload_missing_blobs(&plan.blobs)
            .await
            .map_err(|e| registry_error(e, &host))?;
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
            .map_err(|e| registry_error(e, &host))?;
        stats = uploader.stats.get();

        for child in &plan.children {
            let got = dest
                .put_manifest(repo, &child.digest, &child.media_type, &child.bytes)
                .await
                .map_err(|e| registry_error(e, &host))?;
            if got != child.digest {
                return Err(Error::runtime(format!(
                    "the registry stored manifest {} as {got}",
                    child.digest
                )));
            }
        }
        for tag in &tags_to_put {
            match dest
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
                        .manifest_digest(repo, tag)
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| "another image".into());
                    return Ok(tag_conflict(&host, repo, tag, &existing, &digest));
                }
                Err(e) => return Err(registry_error(e, &host)),
            }
        }
        cache.record(&host, repo, plan.blobs.iter().map(|b| b.digest.clone()));
        cache.save();
    }

    let (pushed, skipped, mounted, bytes) = stats;
    let duration = started.elapsed().as_secs_f64();
    let result = if tags_to_put.is_empty() {
        "unchanged"
    } else {
        "pushed"
    };
    let message = if tags_to_put.is_empty() {
        format!("{image_uri} already points at {digest}; nothing to push")
    } else {
        format!(
            "pushed {host}/{repo}:{} ({digest}): {pushed} blobs uploaded ({}), {mounted} mounted, {skipped} already there, in {duration:.2}s",
            checked.tags.join(","),
            mib(bytes)
        )
    };
    let tag_list = checked
        .tags
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = format!(
        "### ✅ ecr-push: `{image_uri}`\n\n| | |\n|---|---|\n| Image | `{image}` |\n| Tags | {tag_list} |\n| Result | {result}{} |\n| Blobs | {pushed} pushed, {mounted} mounted, {skipped} already present |\n| Uploaded | {} |\n| Duration | {duration:.2} s |\n",
        if created { " (repository created)" } else { "" },
        mib(bytes)
    );
    let blob_detail: Vec<_> = plan
        .blobs
        .iter()
        .map(|b| {
            let r = blob_results.iter().find(|(d, _)| d == &b.digest).map_or(
                "skipped",
                |(_, r)| match r {
                    BlobResult::Skipped => "skipped",
                    BlobResult::Mounted => "mounted",
                    BlobResult::Pushed => "pushed",
                },
            );
            json!({"digest": b.digest, "size": b.size, "media_type": b.media_type, "result": r})
        })
        .collect();
    Ok(Outcome::succeeded(result, message)
        .text(image.clone())
        .output("image_uri", image_uri)
        .output("image", image)
        .output("digest", digest.clone())
        .output("registry", host.clone())
        .output("repository", repo)
        .output("tags", checked.tags.join(","))
        .output("media_type", plan.root.media_type.clone())
        .output("platforms", plan.platforms.join(","))
        .output("blobs_pushed", pushed)
        .output("blobs_skipped", skipped)
        .output("blobs_mounted", mounted)
        .output("bytes_uploaded", bytes)
        .output("duration_s", (duration * 1000.0).round() / 1000.0)
        .detail(json!({"blobs": blob_detail, "tags_updated": tags_to_put, "repository_created": created}))
        .summary(summary))
}

/// An immutable tag that already names a different image: exit 1 with both digests.
fn tag_conflict(host: &str, repo: &str, tag: &str, existing: &str, digest: &str) -> Outcome {
    let message = format!(
        "tag {repo}:{tag} is immutable and already points at {existing}; this image is {digest}. Push under a new tag"
    );
    Outcome::failed("tag_conflict", message)
        .output("image_uri", format!("{host}/{repo}:{tag}"))
        .output("digest", digest)
        .output("existing_digest", existing)
        .summary(format!(
            "### ❌ ecr-push: `{host}/{repo}:{tag}` is immutable\n\n| | |\n|---|---|\n| Tag points at | `{existing}` |\n| This image | `{digest}` |\n"
        ))
}
