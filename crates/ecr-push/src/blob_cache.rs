//! Which repositories of a registry we have seen holding a blob, kept across runs in a small JSON
//! file (like skopeo's blob-info cache), so pushing the same layers to a new repository mounts
//! them instead of uploading them again. Losing or corrupting the file only costs speed: reads
//! that fail give an empty cache, writes go through a temporary file and a rename.

use std::collections::BTreeMap;
use std::path::PathBuf;

use dk_core::Context;

use dk_core::env_vars::DK_ECR_PUSH_NO_CACHE as NO_CACHE;

/// Repositories remembered per blob.
const REPOS_PER_BLOB: usize = 4;
/// Blobs remembered per registry before the oldest half is dropped.
const BLOBS_PER_REGISTRY: usize = 20_000;

/// registry host → digest → repositories (most recent first).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct BlobCache {
    registries: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    #[serde(skip)]
    path: Option<PathBuf>,
}

pub fn default_path(ctx: &Context) -> Option<PathBuf> {
    if ctx.var(NO_CACHE).is_some() {
        return None;
    }
    Some(ctx.cache_dir()?.join("ecr-push-blobs.json"))
}

impl BlobCache {
    pub fn load(path: Option<PathBuf>) -> BlobCache {
        let mut cache: BlobCache = path
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        cache.path = path;
        cache
    }

    /// Repositories of `registry` known to hold `digest`.
    pub fn repos_for(&self, registry: &str, digest: &str) -> Vec<String> {
        self.registries
            .get(registry)
            .and_then(|m| m.get(digest))
            .cloned()
            .unwrap_or_default()
    }

    pub fn record(
        &mut self,
        registry: &str,
        repo: &str,
        digests: impl IntoIterator<Item = String>,
    ) {
        let map = self.registries.entry(registry.to_string()).or_default();
        for d in digests {
            let repos = map.entry(d).or_default();
            repos.retain(|r| r != repo);
            repos.insert(0, repo.to_string());
            repos.truncate(REPOS_PER_BLOB);
        }
        if map.len() > BLOBS_PER_REGISTRY {
            let drop: Vec<String> = map.keys().take(map.len() / 2).cloned().collect();
            for k in drop {
                map.remove(&k);
            }
        }
    }

    /// Write the cache back (best effort).
    pub fn save(&self) {
        let Some(path) = &self.path else { return };
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let Ok(bytes) = serde_json::to_vec(self) else {
            return;
        };
        let tmp = dir.join(format!(
            ".ecr-push-blobs.{}.{:x}.tmp",
            std::process::id(),
            fastrand::u64(..)
        ));
        if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded repositories come back most recent first, without duplicates, and survive a save.
    #[test]
    fn records_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let mut c = BlobCache::load(Some(path.clone()));
        c.record("r:1", "a", ["sha256:x".to_string()]);
        c.record("r:1", "b", ["sha256:x".to_string()]);
        c.record("r:1", "a", ["sha256:x".to_string()]);
        c.save();
        let c = BlobCache::load(Some(path));
        assert_eq!(c.repos_for("r:1", "sha256:x"), ["a", "b"]);
        assert!(c.repos_for("r:2", "sha256:x").is_empty());
    }
}
