//! The process state a tool may depend on, captured once at start-up. Tools read the environment
//! only through a [`Context`], so tests can build one from a literal map.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use crate::env_vars as ev;

#[derive(Debug, Clone, Default)]
pub struct Context {
    env: BTreeMap<String, String>,
    stderr_is_terminal: bool,
}

/// Where a GitHub Actions run came from; recorded in tags of what the tools create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubRun {
    pub repository: Option<String>,
    pub run_id: Option<String>,
    pub run_attempt: Option<String>,
    pub sha: Option<String>,
    pub workflow: Option<String>,
}

impl Context {
    /// Capture the real process environment and terminal state.
    #[allow(clippy::disallowed_methods)] // the one place that reads the process environment
    pub fn from_process() -> Self {
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Context {
            env,
            stderr_is_terminal: std::io::stderr().is_terminal(),
        }
    }

    /// A context from literal values, for tests.
    pub fn from_map<I, K, V>(vars: I, stderr_is_terminal: bool) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Context {
            env: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            stderr_is_terminal,
        }
    }

    /// A variable's value; empty values count as unset, as in GitHub Actions.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every variable whose name starts with `prefix`.
    pub fn vars_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.env
            .iter()
            .filter(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn github_actions(&self) -> bool {
        self.var(ev::GITHUB_ACTIONS) == Some("true")
    }

    /// Any CI at all (GitHub Actions sets `CI=true` too).
    pub fn ci(&self) -> bool {
        self.github_actions() || self.var(ev::CI).is_some_and(|v| v != "false" && v != "0")
    }

    /// Progress bars and spinners only on a terminal, never in CI logs.
    pub fn interactive(&self) -> bool {
        self.stderr_is_terminal && !self.ci()
    }

    pub fn github_output(&self) -> Option<PathBuf> {
        self.var(ev::GITHUB_OUTPUT).map(PathBuf::from)
    }

    pub fn github_step_summary(&self) -> Option<PathBuf> {
        self.var(ev::GITHUB_STEP_SUMMARY).map(PathBuf::from)
    }

    /// deploy-kit's per-user cache directory: `$XDG_CACHE_HOME/deploy-kit`, else
    /// `$HOME/.cache/deploy-kit`; `None` when neither is set.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        let base = self
            .var(ev::XDG_CACHE_HOME)
            .map(PathBuf::from)
            .or_else(|| self.var(ev::HOME).map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("deploy-kit"))
    }

    pub fn github_run(&self) -> Option<GithubRun> {
        let get = |n| self.var(n).map(str::to_owned);
        let run = GithubRun {
            repository: get(ev::GITHUB_REPOSITORY),
            run_id: get(ev::GITHUB_RUN_ID),
            run_attempt: get(ev::GITHUB_RUN_ATTEMPT),
            sha: get(ev::GITHUB_SHA),
            workflow: get(ev::GITHUB_WORKFLOW),
        };
        (run.run_id.is_some() || run.sha.is_some()).then_some(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub Actions is detected from GITHUB_ACTIONS=true and turns off interactive progress.
    #[test]
    fn detects_github_actions() {
        let ctx = Context::from_map([("GITHUB_ACTIONS", "true")], true);
        assert!(ctx.github_actions());
        assert!(ctx.ci());
        assert!(!ctx.interactive());
        let local = Context::from_map([("HOME", "/root")], true);
        assert!(!local.ci());
        assert!(local.interactive());
    }

    /// Empty variables count as unset, as GitHub Actions passes unset inputs as "".
    #[test]
    fn empty_is_unset() {
        let ctx = Context::from_map([("GITHUB_OUTPUT", "")], false);
        assert_eq!(ctx.github_output(), None);
    }

    /// The cache directory follows XDG, then HOME.
    #[test]
    fn cache_dir_follows_xdg_then_home() {
        let xdg = Context::from_map([("XDG_CACHE_HOME", "/c"), ("HOME", "/h")], false);
        assert_eq!(xdg.cache_dir(), Some(PathBuf::from("/c/deploy-kit")));
        let home = Context::from_map([("HOME", "/h")], false);
        assert_eq!(
            home.cache_dir(),
            Some(PathBuf::from("/h/.cache/deploy-kit"))
        );
        assert_eq!(Context::default().cache_dir(), None);
    }

    /// The run is recorded only when there is one.
    #[test]
    fn github_run_from_env() {
        let ctx = Context::from_map([("GITHUB_RUN_ID", "42"), ("GITHUB_SHA", "abc")], false);
        let run = ctx.github_run().unwrap();
        assert_eq!(run.run_id.as_deref(), Some("42"));
        assert_eq!(Context::default().github_run(), None);
    }
}
