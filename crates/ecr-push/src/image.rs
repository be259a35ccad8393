//! What gets pushed, whatever the source: the manifest that the tags will point at, the child
//! manifests an index needs first, and every blob with where to read it from. Sources
//! (`oci_layout`, `docker_archive`, `source` for registries) build one of these; `upload` and
//! `lib` push it. Plain data, no I/O.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::manifest::{Descriptor, ImageIndex, Parsed};

/// Where a blob's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    /// A byte range of a local file (a layout blob, or a member of a tarball).
    File { path: PathBuf, offset: u64 },
    /// The source registry's repository (registry-to-registry copies).
    Registry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    pub location: BlobLocation,
}

/// A manifest (or index) as exact bytes, with its digest and media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestDoc {
    pub digest: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePlan {
    /// What every tag points at.
    pub root: ManifestDoc,
    /// Platform manifests of an index, pushed by digest before the index.
    pub children: Vec<ManifestDoc>,
    /// Every blob, once each, config blobs included.
    pub blobs: Vec<Blob>,
    /// `os/arch` of each platform pushed (index sources).
    pub platforms: Vec<String>,
}

impl ImagePlan {
    pub fn total_bytes(&self) -> u64 {
        // Saturating: sizes from a source registry are whatever its manifest claims.
        self.blobs
            .iter()
            .fold(0u64, |n, b| n.saturating_add(b.size))
    }
}

/// The index entries to push: all of them, or one per `--platform`.
pub fn select_platforms(
    index: &ImageIndex,
    platforms: &[String],
) -> Result<Vec<Descriptor>, String> {
    if platforms.is_empty() {
        return Ok(index.manifests.clone());
    }
    let mut out = Vec::new();
    for spec in platforms {
        let found = index
            .manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(spec)))
            .ok_or_else(|| {
                let available: Vec<String> = index
                    .manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref().map(|p| p.to_spec()))
                    .collect();
                format!(
                    "the image index has no platform `{spec}` (it has: {})",
                    available.join(", ")
                )
            })?;
        if !out.contains(found) {
            out.push(found.clone());
        }
    }
    Ok(out)
}

/// Build a plan from a root document, given how to read child manifests and where blobs are.
/// `read_child` returns a child's bytes (already checked against its digest and size);
/// `locate` says where a blob's bytes are, after any cheap local checks.
pub fn assemble(
    root: ManifestDoc,
    platforms: &[String],
    mut read_child: impl FnMut(&Descriptor) -> Result<Vec<u8>, String>,
    mut locate: impl FnMut(&Descriptor) -> Result<BlobLocation, String>,
) -> Result<ImagePlan, String> {
    let parsed = crate::manifest::parse_with_hint(&root.bytes, Some(&root.media_type))?;
    let mut plan = ImagePlan {
        root: ManifestDoc {
            media_type: parsed.media_type().to_string(),
            ..root
        },
        children: Vec::new(),
        blobs: Vec::new(),
        platforms: Vec::new(),
    };
    let mut seen = BTreeSet::new();
    let mut add_blobs =
        |plan: &mut ImagePlan, m: &crate::manifest::ImageManifest| -> Result<(), String> {
            for d in m.blobs() {
                if seen.insert(d.digest.clone()) {
                    plan.blobs.push(Blob {
                        digest: d.digest.clone(),
                        size: d.size,
                        media_type: d.media_type.clone(),
                        location: locate(d)?,
                    });
                }
            }
            Ok(())
        };
    match parsed {
        Parsed::Manifest(m) => add_blobs(&mut plan, &m)?,
        Parsed::Index(index) => {
            let chosen = select_platforms(&index, platforms)?;
            if chosen.is_empty() {
                return Err("the image index lists no manifests".into());
            }
            let mut children = Vec::new();
            for d in &chosen {
                let bytes = read_child(d)?;
                let child = match crate::manifest::parse_with_hint(&bytes, Some(&d.media_type))? {
                    Parsed::Manifest(m) => m,
                    Parsed::Index(_) => {
                        return Err(format!(
                            "nested image indexes are not supported ({})",
                            d.digest
                        ));
                    }
                };
                add_blobs(&mut plan, &child)?;
                if let Some(p) = &d.platform {
                    plan.platforms.push(p.to_spec());
                }
                children.push(ManifestDoc {
                    digest: d.digest.clone(),
                    media_type: child.media_type.clone(),
                    bytes,
                });
            }
            if platforms.len() == 1 && children.len() == 1 {
                // One platform asked for: push that platform's own manifest, untouched.
                plan.root = children.remove(0);
            } else if !platforms.is_empty() {
                let bytes = crate::manifest::filter_index(&plan.root.bytes, platforms)?;
                plan.root = ManifestDoc {
                    digest: crate::manifest::sha256_digest(&bytes),
                    media_type: plan.root.media_type.clone(),
                    bytes,
                };
                plan.children = children;
            } else {
                plan.children = children;
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: sizes come from a source registry's manifest unchecked, and summing two
    /// huge ones overflowed (a panic in debug builds, a wrong total in release).
    #[test]
    fn total_bytes_of_hostile_sizes_does_not_overflow() {
        let blob = |d: &str| Blob {
            digest: d.into(),
            size: u64::MAX,
            media_type: String::new(),
            location: BlobLocation::Registry,
        };
        let plan = ImagePlan {
            root: ManifestDoc {
                digest: String::new(),
                media_type: String::new(),
                bytes: Vec::new(),
            },
            children: Vec::new(),
            blobs: vec![blob("a"), blob("b")],
            platforms: Vec::new(),
        };
        assert_eq!(plan.total_bytes(), u64::MAX);
    }
}
