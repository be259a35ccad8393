//! Progress and messages on stderr. On a terminal: a spinner carrying the latest status, with
//! plain lines printed above it. Elsewhere (CI logs, pipes): timestamped lines, one per change of
//! status, never a repaint. Under GitHub Actions also workflow commands: masks, groups,
//! annotations. Workflow commands go to stderr too, so stdout keeps exactly one JSON object.
//!
//! Every message may carry third-party text, so the line writer treats each `\r`, `\n` and `\r\n`
//! as a line break, as the runner does, and neutralises each resulting line
//! ([`crate::untrusted`]): only a [`gha::Command`], which only core builds, reaches the log as is.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::CommonArgs;
use crate::context::Context;
use crate::gha;
use crate::secret::Secret;
use crate::untrusted;

#[derive(Clone)]
pub struct Ui {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: Context,
    /// The process's credentials (see [`crate::env_vars::CREDENTIALS`]), longest first: masked
    /// at start and replaced by `***` in every text the Ui or the report writes.
    credentials: Vec<String>,
    quiet: bool,
    started: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    spinner: Option<ProgressBar>,
    last_status: Option<String>,
    open_group: bool,
}

impl Ui {
    pub fn new(ctx: Context, common: &CommonArgs) -> Self {
        let credentials = credentials(&ctx);
        let ui = Ui {
            inner: Arc::new(Inner {
                ctx,
                credentials,
                quiet: common.quiet,
                started: Instant::now(),
                state: Mutex::new(State::default()),
            }),
        };
        for c in &ui.inner.credentials {
            ui.mask(&Secret::new(c.clone()));
        }
        ui
    }

    /// `text` with every credential of the process replaced by `***`: for text that leaves the
    /// tool by another way than the Ui (outputs, summary, stdout).
    pub fn redact<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        redact(&self.inner.credentials, text)
    }

    /// A quiet Ui over a given context, for library callers and tests.
    pub fn silent(ctx: Context) -> Self {
        Self::new(
            ctx,
            &CommonArgs {
                quiet: true,
                ..Default::default()
            },
        )
    }

    pub fn context(&self) -> &Context {
        &self.inner.ctx
    }

    pub fn elapsed(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// Register a secret with the runner before anything could print it. Outside GitHub Actions
    /// there is nothing to register: the value is simply never printed.
    pub fn mask(&self, secret: &Secret<String>) {
        if self.inner.ctx.github_actions() {
            for cmd in gha::mask_commands(secret.expose()) {
                self.command(&cmd);
            }
        }
    }

    /// A line of progress (suppressed by `--quiet`).
    pub fn info(&self, msg: &str) {
        if !self.inner.quiet {
            self.line(msg);
        }
    }

    /// The current state of a long wait. On a terminal it replaces the spinner's text; in logs it
    /// prints a line only when the text changes, so a poll loop does not flood the log.
    pub fn status(&self, msg: &str) {
        if self.inner.quiet {
            return;
        }
        let mut st = self.lock();
        if st.last_status.as_deref() == Some(msg) {
            return;
        }
        st.last_status = Some(msg.to_string());
        if self.inner.ctx.interactive() {
            let pb = st.spinner.get_or_insert_with(|| {
                let pb = ProgressBar::new_spinner();
                pb.set_style(
                    ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                pb.enable_steady_tick(Duration::from_millis(120));
                pb
            });
            pb.set_message(untrusted::neutralise(&self.redact(msg)));
        } else {
            drop(st);
            self.line(msg);
        }
    }

    /// Stop the spinner (if any) and forget the last status.
    pub fn clear_status(&self) {
        let mut st = self.lock();
        if let Some(pb) = st.spinner.take() {
            pb.finish_and_clear();
        }
        st.last_status = None;
    }

    pub fn warn(&self, msg: &str) {
        let msg = self.redact(msg);
        self.line(&format!("warning: {msg}"));
        if self.inner.ctx.github_actions() {
            self.command(&gha::annotation("warning", "deploy-kit", &msg));
        }
    }

    /// Open a collapsible log group (GitHub Actions); a heading elsewhere.
    pub fn group(&self, title: &str) {
        self.end_group();
        if self.inner.ctx.github_actions() {
            self.command(&gha::group(title));
            self.lock().open_group = true;
        } else if !self.inner.quiet {
            self.line(&format!("── {title}"));
        }
    }

    pub fn end_group(&self) {
        let open = std::mem::take(&mut self.lock().open_group);
        if open {
            self.command(&gha::end_group());
        }
    }

    /// The final success line.
    pub fn success(&self, msg: &str) {
        self.clear_status();
        self.end_group();
        self.line(&format!("✔ {msg}"));
    }

    /// The final failure: printed, and an error annotation under GitHub Actions.
    pub fn failure(&self, tool: &str, msg: &str) {
        let msg = self.redact(msg);
        self.clear_status();
        self.end_group();
        self.line(&format!("error: {msg}"));
        if self.inner.ctx.github_actions() {
            self.command(&gha::annotation("error", tool, &msg));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Print a message: one log line per line of it (split as the runner splits), each
    /// neutralised, timestamped outside a terminal.
    fn line(&self, msg: &str) {
        let stamp = (!self.inner.ctx.interactive())
            .then(|| jiff::Timestamp::now().strftime("%H:%M:%S").to_string());
        self.write_stderr(&log_lines(&self.redact(msg), stamp.as_deref()));
    }

    /// A workflow command, as core built it.
    fn command(&self, cmd: &gha::Command) {
        self.write_stderr(cmd.as_str());
    }

    #[allow(clippy::print_stderr)]
    fn write_stderr(&self, text: &str) {
        let st = self.lock();
        match &st.spinner {
            Some(pb) => pb.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }
}

/// The credentials among the context's variables. Shorter values are left alone: a stand-in's
/// `test` key would otherwise turn every `latest` into `la***` (real keys are 40 characters and
/// session tokens hundreds).
fn credentials(ctx: &Context) -> Vec<String> {
    let mut found: Vec<String> = crate::env_vars::CREDENTIALS
        .iter()
        .filter_map(|n| ctx.var(n))
        .filter(|v| v.len() >= 16)
        .map(str::to_owned)
        .collect();
    found.sort_by_key(|v| std::cmp::Reverse(v.len()));
    found.dedup();
    found
}

fn redact<'t>(credentials: &[String], text: &'t str) -> std::borrow::Cow<'t, str> {
    let mut out = std::borrow::Cow::Borrowed(text);
    for c in credentials {
        if out.contains(c.as_str()) {
            out = std::borrow::Cow::Owned(out.replace(c.as_str(), "***"));
        }
    }
    out
}

/// The log text for a message: split on `\r\n`, `\r` and `\n` as the runner splits, each line
/// neutralised and, outside a terminal, prefixed with the time.
fn log_lines(msg: &str, stamp: Option<&str>) -> String {
    untrusted::split_lines(msg)
        .into_iter()
        .map(|l| {
            let l = untrusted::neutralise(l);
            match stamp {
                Some(now) => format!("[{now}] {l}"),
                None => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(st) = self.state.get_mut()
            && let Some(pb) = st.spinner.take()
        {
            pb.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Credentials from the environment are redacted from every text, longest first; short
    /// stand-in values are left alone.
    #[test]
    fn credentials_are_redacted() {
        let token = "FwoGZXIvYXdzEBYaDH7tokenCANARY1234567890";
        let ctx = Context::from_map(
            [
                ("AWS_SESSION_TOKEN", token),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("GITHUB_TOKEN", "ghs_0123456789abcdefghij"),
            ],
            false,
        );
        let creds = credentials(&ctx);
        assert_eq!(creds.len(), 2, "{creds:?}");
        let text = format!(
            "refused: X-Amz-Security-Token: {token}; auth ghs_0123456789abcdefghij; latest test"
        );
        assert_eq!(
            redact(&creds, &text),
            "refused: X-Amz-Security-Token: ***; auth ***; latest test"
        );
        assert!(matches!(
            redact(&creds, "nothing"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    /// Regression (issue 10): lines were split with `str::lines()`, which leaves a lone `\r` in
    /// place, so `x\r::stop-commands::t` in a stop reason reached the runner as a command. Every
    /// line the Ui prints is now safe by the runner's own rules, with or without a timestamp.
    #[test]
    fn no_line_the_ui_prints_is_a_command() {
        let hostile = "pull failed: x\r::stop-commands::t\r\n##[set-output name=image]evil\n\
                       ::add-mask::a\r  ::error::b\u{1b}[2J\u{202E}";
        for stamp in [Some("12:00:00"), None] {
            let text = log_lines(hostile, stamp);
            assert!(gha::runner_commands(&text).is_empty(), "{text:?}");
            assert_eq!(untrusted::split_lines(&text).len(), 5, "{text:?}");
            assert!(
                text.contains("stop-commands"),
                "the text is still shown: {text:?}"
            );
        }
    }
}
