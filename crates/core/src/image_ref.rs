//! Container image references — `[registry/]repository[:tag][@digest]` — parsed and validated
//! per the distribution reference grammar. `ecs-roll --image` and `ecr-push` both take them, so
//! they are parsed one way, here. Pure and panic-free on any input (fuzzed).

use std::fmt;

/// A parsed image reference. At least one of `tag` and `digest` may be absent (`latest` is not
/// assumed: callers decide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]` when the first component looks like one (has `.` or `:`, or is `localhost`).
    pub registry: Option<String>,
    /// Path components joined by `/`, lowercase.
    pub repository: String,
    pub tag: Option<String>,
    /// `algorithm:hex`.
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRefError {
    pub input: String,
    pub reason: String,
}

impl fmt::Display for ImageRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a valid image reference: {}",
            self.input, self.reason
        )
    }
}

impl std::error::Error for ImageRefError {}

const MAX_NAME: usize = 255;

impl ImageRef {
    pub fn parse(input: &str) -> Result<ImageRef, ImageRefError> {
        let err = |reason: &str| ImageRefError {
            input: input.chars().take(300).collect(),
            reason: reason.to_string(),
        };
        if input.is_empty() {
            return Err(err("it is empty"));
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("it contains whitespace"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                validate_digest(d).map_err(|r| err(&r))?;
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        // A tag is after the last ':' that comes after the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let t = &rest[last_slash + i + 1..];
                validate_tag(t).map_err(|r| err(&r))?;
                (&rest[..last_slash + i], Some(t.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(err("the repository name is empty"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                validate_registry(first).map_err(|r| err(&r))?;
                (Some(first.to_string()), path)
            }
            _ => (None, name),
        };
        validate_repository(repository).map_err(|r| err(&r))?;
        if name.len() > MAX_NAME {
            return Err(err("the name is longer than 255 characters"));
        }
        Ok(ImageRef {
            registry,
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// `registry/repository` (or just the repository).
    pub fn name(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// The same image pinned to a digest (tag dropped), as `name@digest`.
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn validate_registry(host: &str) -> Result<(), String> {
    let (h, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || host.starts_with('[') => (h, Some(p)),
        _ => (host, None),
    };
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return Err(format!(
            "registry port `{p}` is not a number from 0 to 65535"
        ));
    }
    let ok = !h.is_empty()
        && (h.starts_with('[') && h.ends_with(']')
            || h.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            }));
    if ok {
        Ok(())
    } else {
        Err(format!("registry host `{h}` is not a valid host name"))
    }
}

/// Path components: lowercase alphanumerics separated by `.`, `_`, `__` or runs of `-`.
fn validate_repository(repo: &str) -> Result<(), String> {
    for comp in repo.split('/') {
        if comp.is_empty() {
            return Err("the repository has an empty path component".into());
        }
        if comp.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!("repository component `{comp}` must be lowercase"));
        }
        let bytes = comp.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
            return Err(format!(
                "repository component `{comp}` must start and end with a letter or digit"
            ));
        }
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if alnum(b) {
                i += 1;
                continue;
            }
            let sep_len = match b {
                b'.' => 1,
                b'_' if bytes.get(i + 1) == Some(&b'_') => 2,
                b'_' => 1,
                b'-' => bytes[i..].iter().take_while(|&&c| c == b'-').count(),
                _ => {
                    return Err(format!(
                        "repository component `{comp}` has the character `{}`",
                        b as char
                    ));
                }
            };
            i += sep_len;
            if i >= bytes.len() || !alnum(bytes[i]) {
                return Err(format!(
                    "repository component `{comp}` has a misplaced separator"
                ));
            }
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
pub fn validate_tag(tag: &str) -> Result<(), String> {
    let valid = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "tag `{tag}` must be 1–128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
        ))
    }
}

/// `algorithm:hex`; sha256 needs 64 lowercase hex digits, sha512 128.
pub fn validate_digest(d: &str) -> Result<(), String> {
    let Some((alg, hex)) = d.split_once(':') else {
        return Err(format!(
            "digest `{d}` must look like sha256:<64 hex digits>"
        ));
    };
    let hex_ok = |n: usize| {
        hex.len() == n
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let ok = match alg {
        "sha256" => hex_ok(64),
        "sha512" => hex_ok(128),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "digest `{d}` must be sha256:<64 lowercase hex digits>"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// ECR references split into registry, repository, tag and digest.
    #[test]
    fn parses_ecr_reference() {
        let r =
            ImageRef::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/web:v1.2").unwrap();
        assert_eq!(
            r.registry.as_deref(),
            Some("123456789012.dkr.ecr.us-east-1.amazonaws.com")
        );
        assert_eq!(r.repository, "team/web");
        assert_eq!(r.tag.as_deref(), Some("v1.2"));
        assert_eq!(r.digest, None);
        let p = ImageRef::parse(&format!("127.0.0.1:5000/web@{D}")).unwrap();
        assert_eq!(p.registry.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(p.tag, None);
        assert_eq!(p.to_string(), format!("127.0.0.1:5000/web@{D}"));
    }

    /// Docker Hub style names have no registry; a port is not a tag.
    #[test]
    fn no_registry_and_ports() {
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(
            (r.registry, r.repository.as_str(), r.tag),
            (None, "nginx", None)
        );
        let r = ImageRef::parse("localhost:5000/app").unwrap();
        assert_eq!(r.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(r.tag, None);
        let r = ImageRef::parse(&format!("web:v1@{D}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.with_digest(D).to_string(), format!("web@{D}"));
    }

    /// Malformed references are rejected with the rule they break.
    #[test]
    fn rejects_malformed() {
        for (bad, why) in [
            ("", "empty"),
            ("Web:v1", "lowercase"),
            ("web:", "tag"),
            ("web:-x", "tag"),
            ("web@sha256:abc", "digest"),
            ("web//x", "empty path"),
            ("web--", "start and end"),
            ("we b", "whitespace"),
            ("host:99999/web", "port"),
            ("a/b:c:d", "character"),
        ] {
            let e = ImageRef::parse(bad).unwrap_err();
            assert!(e.reason.contains(why), "{bad}: {}", e.reason);
        }
    }
}
