//! Every environment variable deploy-kit reads itself, in one place. (The AWS SDK reads its own
//! standard variables — `AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`,
//! credentials — directly; they are listed here only where we also look at them.)

/// `true` when running as a GitHub Actions step.
pub const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
/// File that step outputs are appended to (`name<<delimiter` syntax).
pub const GITHUB_OUTPUT: &str = "GITHUB_OUTPUT";
/// File the Markdown job summary is appended to.
pub const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";
/// Run id, attempt, commit, repository and workflow: recorded in tags so a snapshot or revision
/// can be traced back to the run that made it.
pub const GITHUB_RUN_ID: &str = "GITHUB_RUN_ID";
pub const GITHUB_RUN_ATTEMPT: &str = "GITHUB_RUN_ATTEMPT";
pub const GITHUB_SHA: &str = "GITHUB_SHA";
pub const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
pub const GITHUB_WORKFLOW: &str = "GITHUB_WORKFLOW";
/// File of `NAME<<DELIMITER` blocks that become environment variables of later steps
/// (`secrets-sync export --to github-env`).
pub const GITHUB_ENV: &str = "GITHUB_ENV";
/// Token for the GitHub REST API (`secrets-sync` github: targets; `--github-token` overrides).
pub const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
/// The GitHub REST API base (GitHub Enterprise Server, or a local fake in tests);
/// default `https://api.github.com`.
pub const GITHUB_API_URL: &str = "GITHUB_API_URL";
/// The GitHub web server (log links of GitHub deployments); default `https://github.com`.
pub const GITHUB_SERVER_URL: &str = "GITHUB_SERVER_URL";
/// GitHub OIDC: present when the job has `permissions: id-token: write`.
pub const ACTIONS_ID_TOKEN_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
/// Credentials the SDK reads from the environment: deploy-kit reads them only to keep them out of
/// everything it shows (an error that echoes a request must not show its token).
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// The variables whose values the Ui masks and redacts in every run (see `Ui::new`).
pub const CREDENTIALS: [&str; 5] = [
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    GITHUB_TOKEN,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN,
    "ACTIONS_RUNTIME_TOKEN",
];
/// A web identity token on disk (EKS, or any OIDC provider writing a file).
pub const AWS_WEB_IDENTITY_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
/// Region, as the SDK reads it; checked here so a missing region is a usage error, not a hang.
pub const AWS_REGION: &str = "AWS_REGION";
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// Endpoint overrides, checked so plain HTTP only ever goes to loopback.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
pub const AWS_ENDPOINT_URL_PREFIX: &str = "AWS_ENDPOINT_URL_";
/// Generic CI detection: progress becomes plain timestamped lines.
pub const CI: &str = "CI";
/// https://no-color.org
pub const NO_COLOR: &str = "NO_COLOR";
/// Where per-user caches live: `$XDG_CACHE_HOME`, else `$HOME/.cache` (see `Context::cache_dir`).
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
pub const HOME: &str = "HOME";
/// Set to any value: `ecr-push` neither reads nor writes its blob-location cache.
pub const DK_ECR_PUSH_NO_CACHE: &str = "DK_ECR_PUSH_NO_CACHE";
/// Proxies for `smoke-test`'s HTTP client (both spellings, as curl reads them).
pub const HTTPS_PROXY: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];
pub const HTTP_PROXY: [&str; 2] = ["HTTP_PROXY", "http_proxy"];
pub const ALL_PROXY: [&str; 2] = ["ALL_PROXY", "all_proxy"];
pub const NO_PROXY: [&str; 2] = ["NO_PROXY", "no_proxy"];
