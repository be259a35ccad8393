//! Progress and messages on stderr. On a terminal: a spinner carrying the latest status, with
//! plain lines printed above it. Elsewhere (CI logs, pipes): timestamped lines, one per change of
//! status, never a repaint. Under GitHub Actions also workflow commands: masks, groups,
//! annotations. Workflow commands go to stderr too, so stdout keeps exactly one JSON object.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::CommonArgs;
use crate::context::Context;
use crate::gha;
use crate::secret::Secret;

#[derive(Clone)]
pub struct Ui {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: Context,
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
        Ui {
            inner: Arc::new(Inner {
                ctx,
                quiet: common.quiet,
                started: Instant::now(),
                state: Mutex::new(State::default()),
            }),
        }
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
            for line in gha::mask_commands(secret.expose()) {
                self.raw_line(&line);
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
            pb.set_message(msg.to_string());
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
        self.line(&format!("warning: {msg}"));
        if self.inner.ctx.github_actions() {
            self.raw_line(&gha::annotation("warning", "deploy-kit", msg));
        }
    }

    /// Open a collapsible log group (GitHub Actions); a heading elsewhere.
    pub fn group(&self, title: &str) {
        self.end_group();
        if self.inner.ctx.github_actions() {
            self.raw_line(&gha::group(title));
            self.lock().open_group = true;
        } else if !self.inner.quiet {
            self.line(&format!("── {title}"));
        }
    }

    pub fn end_group(&self) {
        let open = std::mem::take(&mut self.lock().open_group);
        if open {
            self.raw_line(gha::END_GROUP);
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
        self.clear_status();
        self.end_group();
        self.line(&format!("error: {msg}"));
        if self.inner.ctx.github_actions() {
            self.raw_line(&gha::annotation("error", tool, msg));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn line(&self, msg: &str) {
        let text = if self.inner.ctx.interactive() {
            msg.to_string()
        } else {
            let now = jiff::Timestamp::now().strftime("%H:%M:%S");
            msg.lines()
                .map(|l| format!("[{now}] {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        self.raw_line(&text);
    }

    #[allow(clippy::print_stderr)]
    fn raw_line(&self, text: &str) {
        let st = self.lock();
        match &st.spinner {
            Some(pb) => pb.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }
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
