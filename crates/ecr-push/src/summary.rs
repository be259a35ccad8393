//! What a push tells its users, built once from the result: the progress line announcing the
//! push, the outcome (message, `$GITHUB_OUTPUT` values, JSON detail, job summary) of a push or of
//! a tag conflict.

use std::time::Duration;

use dk_core::{Outcome, Ui};
use serde_json::json;

use crate::image::ImagePlan;
use crate::upload::BlobResult;

/// What the transfer step did.
pub(crate) struct Transferred {
    /// `(pushed, skipped, mounted, bytes uploaded)`.
    pub stats: (u64, u64, u64, u64),
    /// Per blob digest, what happened to it.
    pub blob_results: Vec<(String, BlobResult)>,
}

impl Transferred {
    /// Nothing moved: every tag already named the image, so every blob is there.
    pub fn nothing(plan: &ImagePlan) -> Self {
        Transferred {
            stats: (0, plan.blobs.len() as u64, 0, 0),
            blob_results: Vec::new(),
        }
    }
}

/// Everything the outcome of a finished push is built from.
pub(crate) struct Pushed<'a> {
    pub host: &'a str,
    pub repo: &'a str,
    /// Every tag asked for.
    pub tags: &'a [String],
    /// The tags that were put (none: the push changed nothing).
    pub tags_updated: &'a [String],
    pub plan: &'a ImagePlan,
    pub transferred: Transferred,
    pub repository_created: bool,
    pub duration: Duration,
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

/// `Pushing sha256:… (N blobs, X MiB[, platforms …]) to host/repo`.
pub(crate) fn announce(ui: &Ui, host: &str, repo: &str, plan: &ImagePlan) {
    ui.info(&format!(
        "Pushing {} ({} blobs, {}{}) to {host}/{repo}",
        plan.root.digest,
        plan.blobs.len(),
        mib(plan.total_bytes()),
        if plan.platforms.is_empty() {
            String::new()
        } else {
            format!(", platforms {}", plan.platforms.join(" "))
        }
    ));
}

/// The outcome of a push that reached its end: pushed, or unchanged.
pub(crate) fn pushed(p: Pushed) -> Outcome {
    let Pushed {
        host,
        repo,
        tags,
        tags_updated,
        plan,
        transferred,
        repository_created: created,
        duration,
    } = p;
    let digest = plan.root.digest.as_str();
    let image_uri = format!("{host}/{repo}:{}", tags[0]);
    let image = format!("{host}/{repo}@{digest}");
    let (pushed, skipped, mounted, bytes) = transferred.stats;
    let duration = duration.as_secs_f64();
    let result = if tags_updated.is_empty() {
        "unchanged"
    } else {
        "pushed"
    };
    let message = if tags_updated.is_empty() {
        format!("{image_uri} already points at {digest}; nothing to push")
    } else {
        format!(
            "pushed {host}/{repo}:{} ({digest}): {pushed} blobs uploaded ({}), {mounted} mounted, {skipped} already there, in {duration:.2}s",
            tags.join(","),
            mib(bytes)
        )
    };
    let tag_list = tags
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = format!(
        "### ✅ ecr-push: `{image_uri}`\n\n| | |\n|---|---|\n| Image | `{image}` |\n| Tags | {tag_list} |\n| Result | {result}{} |\n| Blobs | {pushed} pushed, {mounted} mounted, {skipped} already present |\n| Uploaded | {} |\n| Duration | {duration:.2} s |\n",
        if created { " (repository created)" } else { "" },
        mib(bytes)
    );
    let blob_detail = blob_detail(plan, &transferred.blob_results);
    Outcome::succeeded(result, message)
        .text(image.clone())
        .output("image_uri", image_uri)
        .output("image", image)
        .output("digest", digest)
        .output("registry", host)
        .output("repository", repo)
        .output("tags", tags.join(","))
        .output("media_type", plan.root.media_type.clone())
        .output("platforms", plan.platforms.join(","))
        .output("blobs_pushed", pushed)
        .output("blobs_skipped", skipped)
        .output("blobs_mounted", mounted)
        .output("bytes_uploaded", bytes)
        .output("duration_s", (duration * 1000.0).round() / 1000.0)
        .detail(json!({"blobs": blob_detail, "tags_updated": tags_updated, "repository_created": created}))
        .summary(summary)
}

/// Per blob: digest, size, media type and what happened to it.
fn blob_detail(plan: &ImagePlan, results: &[(String, BlobResult)]) -> Vec<serde_json::Value> {
    plan.blobs
        .iter()
        .map(|b| {
            let r =
                results
                    .iter()
                    .find(|(d, _)| d == &b.digest)
                    .map_or("skipped", |(_, r)| match r {
                        BlobResult::Skipped => "skipped",
                        BlobResult::Mounted => "mounted",
                        BlobResult::Pushed => "pushed",
                    });
            json!({"digest": b.digest, "size": b.size, "media_type": b.media_type, "result": r})
        })
        .collect()
}

/// An immutable tag that already names a different image: exit 1 with both digests.
pub(crate) fn tag_conflict(
    host: &str,
    repo: &str,
    tag: &str,
    existing: &str,
    digest: &str,
) -> Outcome {
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
