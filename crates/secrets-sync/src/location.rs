//! `--from` and `--to` values, parsed before any network call.
//!
//! | spec | as a source | as a target |
//! |---|---|---|
//! | `FILE.env`, `dotenv:FILE` | dotenv file | – |
//! | `FILE.json`, `json:FILE` | JSON object file | – |
//! | `env:PREFIX` | variables `PREFIX*`, prefix stripped | – |
//! | `aws:NAME` | one secret holding a JSON object | the same |
//! | `aws:PREFIX/` | one secret per key, named `PREFIX/KEY` | the same |
//! | `github:OWNER/REPO[:ENV]` | – | repository (or environment) Actions secrets |

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Dotenv(PathBuf),
    JsonFile(PathBuf),
    Env(String),
    /// One secret whose value is a JSON object of keys.
    AwsSecret(String),
    /// One secret per key under a prefix ending in `/`.
    AwsPrefix(String),
    Github {
        owner: String,
        repo: String,
        environment: Option<String>,
    },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Dotenv(p) => write!(f, "dotenv:{}", p.display()),
            Location::JsonFile(p) => write!(f, "json:{}", p.display()),
            Location::Env(p) => write!(f, "env:{p}"),
            Location::AwsSecret(n) | Location::AwsPrefix(n) => write!(f, "aws:{n}"),
            Location::Github {
                owner,
                repo,
                environment: None,
            } => write!(f, "github:{owner}/{repo}"),
            Location::Github {
                owner,
                repo,
                environment: Some(e),
            } => write!(f, "github:{owner}/{repo}:{e}"),
        }
    }
}

const FORMS: &str = "use dotenv:FILE (or FILE.env), json:FILE (or FILE.json), env:PREFIX, aws:NAME, aws:PREFIX/, github:OWNER/REPO or github:OWNER/REPO:ENVIRONMENT";

/// Secrets Manager names: 1–512 of ASCII letters, digits and `/_+=.@-`.
pub fn valid_secret_name(name: &str) -> bool {
    (1..=512).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
}

fn github_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Location {
    pub fn parse(spec: &str) -> Result<Location, String> {
        let (scheme, rest) = spec.split_once(':').unwrap_or(("", spec));
        match scheme {
            "dotenv" if !rest.is_empty() => Ok(Location::Dotenv(rest.into())),
            "json" if !rest.is_empty() => Ok(Location::JsonFile(rest.into())),
            "env" if !rest.is_empty() => Ok(Location::Env(rest.into())),
            "env" => Err(
                "env: needs a prefix, e.g. env:APP_ (every variable would include PATH and HOME)"
                    .into(),
            ),
            "aws" => {
                if !valid_secret_name(rest) {
                    return Err(format!(
                        "`{rest}` is not a Secrets Manager name (1–512 of letters, digits and /_+=.@-)"
                    ));
                }
                if rest.ends_with('/') {
                    Ok(Location::AwsPrefix(rest.into()))
                } else {
                    Ok(Location::AwsSecret(rest.into()))
                }
            }
            "github" => {
                let (repo_part, environment) = match rest.split_once(':') {
                    Some((r, e)) => (r, Some(e.to_string())),
                    None => (rest, None),
                };
                let Some((owner, repo)) = repo_part.split_once('/') else {
                    return Err(format!(
                        "`{spec}`: expected github:OWNER/REPO[:ENVIRONMENT]"
                    ));
                };
                if !github_name(owner) || !github_name(repo) {
                    return Err(format!(
                        "`{spec}`: OWNER and REPO are letters, digits, `-`, `_` and `.`"
                    ));
                }
                if let Some(e) = &environment
                    && (e.is_empty() || e.len() > 255 || e.contains(['/', ':', '?', '#', '%']))
                {
                    return Err(format!(
                        "`{spec}`: the environment name is empty or has `/ : ? # %`"
                    ));
                }
                Ok(Location::Github {
                    owner: owner.into(),
                    repo: repo.into(),
                    environment,
                })
            }
            _ if spec.ends_with(".json") => Ok(Location::JsonFile(spec.into())),
            _ if spec.ends_with(".env") || spec.contains(".env.") || spec.starts_with(".env") => {
                Ok(Location::Dotenv(spec.into()))
            }
            _ => Err(format!("`{spec}` is not a source or target; {FORMS}")),
        }
    }

    pub fn is_github(&self) -> bool {
        matches!(self, Location::Github { .. })
    }

    pub fn is_aws(&self) -> bool {
        matches!(self, Location::AwsSecret(_) | Location::AwsPrefix(_))
    }

    /// Usable as `--to`.
    pub fn is_target(&self) -> bool {
        self.is_aws() || self.is_github()
    }
}

/// `export --to`: the job's environment, or a dotenv file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTo {
    GithubEnv,
    Dotenv(PathBuf),
}

impl ExportTo {
    pub fn parse(spec: &str) -> Result<ExportTo, String> {
        match spec.split_once(':') {
            _ if spec == "github-env" => Ok(ExportTo::GithubEnv),
            Some(("dotenv", path)) if !path.is_empty() => Ok(ExportTo::Dotenv(path.into())),
            _ => Err(format!("`{spec}`: use github-env or dotenv:FILE")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every documented form parses to what it names.
    #[test]
    fn forms() {
        let ok = |s: &str| Location::parse(s).unwrap();
        assert_eq!(
            ok(".env.production"),
            Location::Dotenv(".env.production".into())
        );
        assert_eq!(
            ok("dotenv:secrets.txt"),
            Location::Dotenv("secrets.txt".into())
        );
        assert_eq!(
            ok("config/app.json"),
            Location::JsonFile("config/app.json".into())
        );
        assert_eq!(ok("env:APP_"), Location::Env("APP_".into()));
        assert_eq!(ok("aws:prod/api"), Location::AwsSecret("prod/api".into()));
        assert_eq!(ok("aws:prod/api/"), Location::AwsPrefix("prod/api/".into()));
        assert_eq!(
            ok("github:acme/web:production"),
            Location::Github {
                owner: "acme".into(),
                repo: "web".into(),
                environment: Some("production".into())
            }
        );
        for bad in [
            "aws:",
            "aws:bad name",
            "github:acme",
            "github:acme/web:",
            "env:",
            "s3://x",
            "prod",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ExportTo::parse("github-env"), Ok(ExportTo::GithubEnv));
        assert_eq!(
            ExportTo::parse("dotenv:/tmp/x"),
            Ok(ExportTo::Dotenv("/tmp/x".into()))
        );
        assert!(ExportTo::parse("stdout").is_err());
    }
}
