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

/// Most entries an image index may list. Real multi-platform images list a few platforms (twice
/// that with attestations); thousands are an attack on memory, refused before any is read.
pub const MAX_INDEX_ENTRIES: usize = 256;
/// Most bytes all of an index's (distinct) child manifests may hold together.
pub const MAX_CHILD_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// Refuse an index too large to be an image: too many entries, or children whose declared
/// sizes add up past [`MAX_CHILD_MANIFEST_BYTES`] (counting each digest once; each child is
/// then read once and checked against its declared size).
pub fn check_index_bounds(index: &ImageIndex) -> Result<(), String> {
    if index.manifests.len() > MAX_INDEX_ENTRIES {
        return Err(format!(
            "the image index lists {} manifests, more than the {MAX_INDEX_ENTRIES} an image can \
             reasonably have; refusing to read them",
            index.manifests.len()
        ));
    }
    let mut seen = BTreeSet::new();
    let total = index
        .manifests
        .iter()
        .filter(|d| seen.insert(d.digest.as_str()))
        .fold(0u64, |n, d| n.saturating_add(d.size));
    if total > MAX_CHILD_MANIFEST_BYTES {
        return Err(format!(
            "the image index's manifests add up to {total} bytes, more than {MAX_CHILD_MANIFEST_BYTES}"
        ));
    }
    Ok(())
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
            check_index_bounds(&index)?;
            let chosen = select_platforms(&index, platforms)?;
            if chosen.is_empty() {
                return Err("the image index lists no manifests".into());
            }
            let mut children = Vec::new();
            let mut read = BTreeSet::new();
            for d in &chosen {
                // Each child once, however often the index lists it.
                if !read.insert(d.digest.clone()) {
                    continue;
                }
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

    fn index_doc(entries: usize, child: &[u8]) -> ManifestDoc {
        let d = crate::manifest::sha256_digest(child);
        let one = format!(
            r#"{{"mediaType":"{}","digest":"{d}","size":{}}}"#,
            crate::manifest::OCI_MANIFEST,
            child.len()
        );
        let bytes = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{}]}}"#,
            crate::manifest::OCI_INDEX,
            vec![one; entries].join(",")
        )
        .into_bytes();
        ManifestDoc {
            digest: crate::manifest::sha256_digest(&bytes),
            media_type: crate::manifest::OCI_INDEX.into(),
            bytes,
        }
    }

    fn child_manifest() -> Vec<u8> {
        let c = format!("sha256:{}", "c".repeat(64));
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{c}","size":2}},"layers":[]}}"#,
            crate::manifest::OCI_MANIFEST
        )
        .into_bytes()
    }

    /// Regression (issue 10): an index listing one child 15 000 times read (and kept) the child
    /// 15 000 times. At the entry cap the child is read once; one entry more is refused before
    /// any child is read.
    #[test]
    fn index_entries_are_deduplicated_and_capped() {
        let child = child_manifest();
        let mut reads = 0;
        let plan = assemble(
            index_doc(MAX_INDEX_ENTRIES, &child),
            &[],
            |_| {
                reads += 1;
                Ok(child.clone())
            },
            |_| Ok(BlobLocation::Registry),
        )
        .unwrap();
        assert_eq!((reads, plan.children.len(), plan.blobs.len()), (1, 1, 1));
        let mut reads = 0;
        let e = assemble(
            index_doc(MAX_INDEX_ENTRIES + 1, &child),
            &[],
            |_| {
                reads += 1;
                Ok(child.clone())
            },
            |_| Ok(BlobLocation::Registry),
        )
        .unwrap_err();
        assert_eq!(reads, 0);
        assert!(e.contains("257 manifests"), "{e}");
    }

    /// Children whose declared sizes add up past the byte cap are refused before any is read;
    /// exactly at the cap they are accepted.
    #[test]
    fn child_manifest_bytes_are_capped() {
        let entry = |i: u64, size: u64| crate::manifest::Descriptor {
            media_type: crate::manifest::OCI_MANIFEST.into(),
            digest: format!("sha256:{i:064x}"),
            size,
            platform: None,
            urls: Vec::new(),
            annotations: Default::default(),
        };
        let quarter = MAX_CHILD_MANIFEST_BYTES / 4;
        let mut index = ImageIndex {
            media_type: crate::manifest::OCI_INDEX.into(),
            manifests: (0..4).map(|i| entry(i, quarter)).collect(),
        };
        // The same digest again counts once.
        index.manifests.push(entry(0, quarter));
        assert!(check_index_bounds(&index).is_ok());
        index.manifests.push(entry(9, 1));
        assert!(
            check_index_bounds(&index)
                .unwrap_err()
                .contains("add up to")
        );
        index.manifests = vec![entry(1, u64::MAX), entry(2, u64::MAX)];
        assert!(check_index_bounds(&index).is_err());
    }
}
