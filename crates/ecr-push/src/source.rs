//! `--source`: which image to push. `oci:DIR[:REF]` and `docker-archive:FILE[:REPO:TAG]` are
//! local and fully checked before any network call; `docker://HOST/REPO(:TAG|@DIGEST)` is another
//! registry, read manifest by manifest and copied blob by blob.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dk_core::image_ref::ImageRef;

use crate::image::{BlobLocation, ImagePlan, ManifestDoc, assemble};
use crate::registry_client::{RegistryClient, RegistryError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    OciLayout {
        dir: PathBuf,
        reference: Option<String>,
    },
    DockerArchive {
        file: PathBuf,
        reference: Option<String>,
    },
    Registry {
        image: ImageRef,
        reference: String,
    },
}

const FORMS: &str = "oci:DIR[:REF], docker-archive:FILE[:REPO:TAG] or docker://HOST/REPO:TAG";

/// Parse a `--source` value (no file system or network access).
pub fn parse(spec: &str) -> Result<SourceSpec, String> {
    if let Some(rest) = spec.strip_prefix("oci:") {
        if rest.is_empty() {
            return Err("oci: needs a directory: oci:DIR[:REF]".into());
        }
        // `DIR:REF` — a REF never holds `/`, so a colon followed by a path is part of DIR.
        let (dir, reference) = match rest.rsplit_once(':') {
            Some((d, r)) if !r.contains('/') && !d.is_empty() && !Path::new(rest).exists() => {
                (d, (!r.is_empty()).then(|| r.to_string()))
            }
            _ => (rest, None),
        };
        return Ok(SourceSpec::OciLayout {
            dir: PathBuf::from(dir),
            reference,
        });
    }
    if let Some(rest) = spec.strip_prefix("docker-archive:") {
        if rest.is_empty() {
            return Err("docker-archive: needs a file: docker-archive:FILE".into());
        }
        // FILE[:REPO:TAG]: the file is the longest prefix that exists, else everything.
        let mut file = rest.to_string();
        let mut reference = None;
        if !Path::new(rest).exists() {
            for (i, _) in rest.match_indices(':') {
                if Path::new(&rest[..i]).is_file() {
                    file = rest[..i].to_string();
                    reference = Some(rest[i + 1..].to_string());
                    break;
                }
            }
        }
        return Ok(SourceSpec::DockerArchive {
            file: PathBuf::from(file),
            reference,
        });
    }
    if let Some(rest) = spec.strip_prefix("docker://") {
        let image = ImageRef::parse(rest).map_err(|e| e.to_string())?;
        if image.registry.is_none() {
            return Err(format!(
                "docker://{rest} needs a registry host, e.g. docker://registry.example.com/app:1"
            ));
        }
        if let Some(d) = &image.digest
            && !d.starts_with("sha256:")
        {
            return Err(format!(
                "docker://{rest}: only sha256 digests can be checked against what the registry serves"
            ));
        }
        let reference = image
            .digest
            .clone()
            .or_else(|| image.tag.clone())
            .ok_or_else(|| format!("docker://{rest} needs a :TAG or @DIGEST"))?;
        return Ok(SourceSpec::Registry { image, reference });
    }
    if Path::new(spec).is_dir() {
        return Err(format!(
            "`{spec}` has no transport; for a layout directory write oci:{spec}"
        ));
    }
    Err(format!("`{spec}` is not a source; use {FORMS}"))
}

/// Open a local source and build its plan (exit-2 territory: no network).
pub fn open_local(spec: &SourceSpec, platforms: &[String]) -> Result<Option<ImagePlan>, String> {
    match spec {
        SourceSpec::OciLayout { dir, reference } => {
            crate::oci_layout::open(dir, reference.as_deref(), platforms).map(Some)
        }
        SourceSpec::DockerArchive { file, reference } => {
            crate::docker_archive::open(file, reference.as_deref()).map(Some)
        }
        SourceSpec::Registry { .. } => Ok(None),
    }
}

/// The base URL for a `docker://` host: plain HTTP for loopback only, like every endpoint here.
pub fn registry_base(host: &str) -> String {
    if dk_core::aws::is_loopback_authority(host) {
        format!("http://{host}")
    } else {
        format!("https://{host}")
    }
}

/// `<account>.dkr.ecr.<region>.amazonaws.com[.cn]`
pub fn is_ecr_host(host: &str) -> bool {
    let labels: Vec<&str> = host.split(':').next().unwrap_or("").split('.').collect();
    // The whole name, to the end: the ECR token must never go to `…amazonaws.com.evil.example`.
    let suffix_ok = matches!(&labels[labels.len().min(5)..], ["com"] | ["com", "cn"]);
    labels.len() >= 6
        && suffix_ok
        && labels[0].len() == 12
        && labels[0].bytes().all(|b| b.is_ascii_digit())
        && labels[1] == "dkr"
        && labels[2] == "ecr"
        && labels[4] == "amazonaws"
}

/// Read a remote image's manifests and build the plan (blobs stay in the source registry).
pub async fn open_registry(
    client: &RegistryClient,
    repo: &str,
    reference: &str,
    platforms: &[String],
) -> Result<ImagePlan, RegistryError> {
    let (root, content_type) = client.get_manifest(repo, reference).await?;
    // A digest reference (tags never hold `:`) must be exactly what was served.
    if reference.contains(':') && root.digest != reference {
        return Err(RegistryError::new(
            crate::registry_client::ErrorClass::Permanent,
            format!("the source registry served {} for {reference}", root.digest),
        ));
    }
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let parsed = crate::manifest::parse_with_hint(&root.bytes, Some(&media_type)).map_err(|e| {
        RegistryError::new(
            crate::registry_client::ErrorClass::Permanent,
            format!("source manifest: {e}"),
        )
    })?;
    let mut children = HashMap::new();
    if let crate::manifest::Parsed::Index(index) = &parsed {
        // Bounded before any child is fetched, and each child fetched once.
        crate::image::check_index_bounds(index)
            .map_err(|e| RegistryError::new(crate::registry_client::ErrorClass::Permanent, e))?;
        let chosen = crate::image::select_platforms(index, platforms)
            .map_err(|e| RegistryError::new(crate::registry_client::ErrorClass::Permanent, e))?;
        for d in chosen {
            if children.contains_key(&d.digest) {
                continue;
            }
            let (child, _) = client.get_manifest(repo, &d.digest).await?;
            if child.digest != d.digest {
                return Err(RegistryError::new(
                    crate::registry_client::ErrorClass::Permanent,
                    format!(
                        "the source registry served {} for {}",
                        child.digest, d.digest
                    ),
                ));
            }
            children.insert(d.digest.clone(), child.bytes);
        }
    }
    let doc = ManifestDoc {
        digest: root.digest,
        media_type: parsed.media_type().to_string(),
        bytes: root.bytes,
    };
    assemble(
        doc,
        platforms,
        |d| {
            children
                .get(&d.digest)
                .cloned()
                .ok_or_else(|| format!("manifest {} was not fetched", d.digest))
        },
        |_| Ok(BlobLocation::Registry),
    )
    .map_err(|e| RegistryError::new(crate::registry_client::ErrorClass::Permanent, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each transport parses; refs and digests are split off.
    #[test]
    fn parses_sources() {
        assert_eq!(
            parse("oci:/no/such/dir:v1").unwrap(),
            SourceSpec::OciLayout {
                dir: "/no/such/dir".into(),
                reference: Some("v1".into())
            }
        );
        assert_eq!(
            parse("oci:build/img").unwrap(),
            SourceSpec::OciLayout {
                dir: "build/img".into(),
                reference: None
            }
        );
        assert!(matches!(
            parse("docker-archive:/x.tar").unwrap(),
            SourceSpec::DockerArchive { .. }
        ));
        let SourceSpec::Registry { image, reference } =
            parse("docker://127.0.0.1:5000/team/web:v2").unwrap()
        else {
            panic!()
        };
        assert_eq!(image.registry.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(reference, "v2");
    }

    /// ECR registry hosts are recognised (their token opens them), others are not.
    #[test]
    fn recognises_ecr_hosts() {
        assert!(is_ecr_host("123456789012.dkr.ecr.eu-west-1.amazonaws.com"));
        assert!(is_ecr_host(
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"
        ));
        assert!(!is_ecr_host("ghcr.io"));
        // Regression: the ECR token went to any host whose name merely started like ECR's.
        assert!(!is_ecr_host(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example"
        ));
        assert!(!is_ecr_host(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.evil"
        ));
        assert!(!is_ecr_host("127.0.0.1:5000"));
    }

    /// Missing transports, hosts and tags are explained.
    #[test]
    fn rejects_bad_sources() {
        assert!(parse("/tmp").unwrap_err().contains("oci:/tmp"));
        assert!(
            parse("docker://web:v1")
                .unwrap_err()
                .contains("registry host")
        );
        assert!(
            parse("docker://127.0.0.1:5000/web")
                .unwrap_err()
                .contains(":TAG")
        );
        assert!(parse("ftp://x").is_err());
        assert!(parse("oci:").is_err());
    }

    /// Regression: a sha512 source digest was accepted but never checked (only `sha256:`
    /// references were compared with the served manifest), so any manifest was pushed.
    #[test]
    fn source_digest_must_be_one_we_can_verify() {
        let d = format!("sha512:{}", "ab".repeat(64));
        let e = parse(&format!("docker://127.0.0.1:5000/web@{d}")).unwrap_err();
        assert!(e.contains("sha256"), "{e}");
    }
}
