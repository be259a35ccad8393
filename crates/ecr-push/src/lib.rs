//! `ecr-push`: push a container image to Amazon ECR without a Docker daemon, and hand its digest
//! on (to `ecs-roll --image`).
//!
//! One run: check every input locally (exit 2 before any network), log in to ECR through the SDK
//! (token decoded and masked) and make sure the repository exists, look at what each tag points
//! at now (same digest → nothing to do; an immutable tag pointing elsewhere → exit 1 naming both
//! digests), get every blob into the repository (HEAD, mount, or streamed upload — `upload`),
//! confirm each is there, then put the manifest once per tag.
//!
//! This file is the command line and its checks. Modules: `push` (the run's named steps),
//! `summary` (the outcome and job summary), `source` (what `--source` means), `oci_layout` /
//! `docker_archive` / `manifest` (pure parsing of local images, fuzzable), `image` (the push
//! plan), `registry_client` (the registry HTTP API, its credentials and auth challenges),
//! `ecr_login` (the ECR token), `repository` (ECR control plane), `upload` (blobs), `blob_cache`
//! (where blobs were seen, for mounts across runs).

mod blob_cache;
mod challenge;
mod docker_archive;
mod dry_run;
mod ecr_login;
mod image;
mod manifest;
mod oci_layout;
mod push;
mod registry_client;
mod repository;
mod scan;
mod source;
mod summary;
mod upload;

use clap::Parser;
use dk_core::{Error, Outcome, Result, Tool, Ui};

use crate::image::ImagePlan;
use crate::source::SourceSpec;

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

dk_core::tool_cli! { aws;
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
}

pub struct EcrPush;

impl Tool for EcrPush {
    const NAME: &'static str = "ecr-push";
    type Cli = Cli;
    type Plan = Checked;

    fn validate(cli: &Cli, ctx: &dk_core::Context) -> Result<Checked> {
        check_inputs(cli, ctx)
    }

    async fn run(cli: Cli, checked: Checked, ui: Ui) -> Result<Outcome> {
        // One overall deadline: per-read timeouts alone let a registry that trickles a byte at a
        // time hold the job until the workflow's own timeout.
        if cli.dry_run {
            return dry_run::describe(&cli, &ui, checked);
        }
        let (timeout, gate, gate_ui) = (cli.timeout, scan::Gate::from_cli(&cli), ui.clone());
        let push = push::push(&cli, &ui, checked);
        match dk_core::poll::Deadline::after(timeout).run(push).await {
            Some(result) => scan::after_push(gate, &gate_ui, result?).await,
            None => Err(Error::timeout(format!(
                "the push did not finish within --timeout {timeout}"
            ))
            .with_hint("a registry (source or destination) is slow or stalled; for a large image on a slow link, raise --timeout")),
        }
    }
}

/// Everything checked before the first network call.
pub struct Checked {
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

fn check_inputs(cli: &Cli, ctx: &dk_core::Context) -> Result<Checked> {
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
        cli.aws.validate(ctx)?;
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
