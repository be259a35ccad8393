//! The image-scan gate (`--scan-gate SEVERITY`): after the push, the image's ECR scan decides
//! whether the run is green.
//!
//! One gate: find the image's scan (the scan-on-push one when the repository has it, else start a
//! basic scan with StartImageScan), wait for it under `--scan-timeout` with a progress line per
//! change, then count the findings per severity. Any finding at or above SEVERITY fails the run
//! (exit 1, result `scan_failed`) with the counts and the top findings in the outputs and the
//! summary; the image stays pushed, its digest in the outputs, so a re-run after a fix (or an
//! accepted risk with a higher gate) starts from there.
//!
//! Severities rank INFORMATIONAL < LOW < MEDIUM < HIGH < CRITICAL. A finding ECR could not rank
//! (UNDEFINED; Inspector's UNTRIAGED) is counted and shown but fails only the INFORMATIONAL gate,
//! which means "any finding at all".
//!
//! Basic scans end COMPLETE. Enhanced scanning (Amazon Inspector) never does: the image is
//! monitored continuously and reports ACTIVE once its first scan is in, so ACTIVE is judged on
//! the findings reported then, and said so. FAILED, UNSUPPORTED_IMAGE, LIMIT_EXCEEDED (a basic
//! scan runs once per image per 24 h), SCAN_ELIGIBILITY_EXPIRED and FINDINGS_UNAVAILABLE are
//! errors naming what to do. Finding text comes from vulnerability databases: it is neutralised
//! and bounded before any output, summary or log line shows it.
//!
//! `decide_*` and [`judge`] are pure (table tests below); the AWS calls are at the bottom.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecr::types::{EnhancedImageScanFinding, ImageIdentifier, ImageScanFinding};
use clap::{Args, ValueEnum};
use dk_core::aws::{error_code, is_transient, sdk_error};
use dk_core::duration::{Timeout, format_duration};
use dk_core::poll::{Deadline, Poll, PollError, poll_until};
use dk_core::untrusted::{md_cell, neutralise_capped};
use dk_core::{Error, Outcome, Result, Status, Ui};
use serde::Serialize;
use serde_json::{Value, json};

/// The scan-gate flags, flattened into ecr-push's `Cli`.
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// After the push, wait for the image's ECR scan and fail (exit 1, result scan_failed) when a
    /// finding is at or above this severity: informational (any finding), low, medium, high, critical
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        value_name = "SEVERITY",
        conflicts_with = "no_ecr_auth",
        help_heading = "Scan gate"
    )]
    pub scan_gate: Option<Severity>,
    /// Deadline for the scan to complete (exit 4 past it; the image stays pushed) (1s to 7d)
    #[arg(
        long,
        value_name = "DUR",
        default_value = "10m",
        requires = "scan_gate",
        help_heading = "Scan gate"
    )]
    pub scan_timeout: Timeout,
}

/// ECR's ranked severities, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
    /// ECR's (or Inspector's) severity word; `None` for UNDEFINED, UNTRIAGED and anything new.
    pub fn parse(word: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(word))
    }
}

/// What a poll of DescribeImageScanFindings calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Not done yet: wait, showing this.
    Wait(String),
    /// No scan of the image exists: start one.
    Start,
    /// Done: judge the findings. `enhanced`: an Inspector scan that reports ACTIVE.
    Judge { enhanced: bool },
    /// A scan that will not produce findings: the error message and the fix.
    Fail(String, String),
}

/// How long a repository with scan-on-push is given for its own scan to show before one is
/// started: ECR registers the scan-on-push scan shortly after the push, not at once.
pub const SCAN_ON_PUSH_GRACE: Duration = Duration::from_secs(20);

/// No scan of the image found (ScanNotFoundException).
pub fn decide_not_found(started: bool, scan_on_push: bool, waited: Duration) -> Step {
    if started {
        Step::Wait("scan started, not visible yet".into())
    } else if scan_on_push && waited < SCAN_ON_PUSH_GRACE {
        Step::Wait("waiting for the scan-on-push scan to show".into())
    } else {
        Step::Start
    }
}

/// The scan's status word (`imageScanStatus.status`).
pub fn decide_status(status: &str, description: &str) -> Step {
    let why = if description.is_empty() {
        String::new()
    } else {
        format!(": {description}")
    };
    let fail = |msg: String, fix: &str| Step::Fail(msg, fix.to_string());
    match status {
        "COMPLETE" => Step::Judge { enhanced: false },
        "ACTIVE" => Step::Judge { enhanced: true },
        "IN_PROGRESS" | "PENDING" => Step::Wait(status.to_string()),
        "FAILED" => fail(
            format!("the image scan FAILED{why}"),
            "look at the scan in the ECR console; push again or start a new scan after a fix (a basic scan runs once per image per 24 h)",
        ),
        "UNSUPPORTED_IMAGE" => fail(
            format!("ECR cannot scan this image (UNSUPPORTED_IMAGE){why}"),
            "ECR scans single-platform images with a supported OS; for a multi-platform index push one --platform at a time to gate each image",
        ),
        "LIMIT_EXCEEDED" => fail(
            format!("the scan quota for this image is used up (LIMIT_EXCEEDED){why}"),
            "a basic scan runs once per image per 24 h: use the findings of today's scan in the ECR console, or retry tomorrow",
        ),
        "SCAN_ELIGIBILITY_EXPIRED" => fail(
            format!(
                "enhanced scanning no longer monitors this image (SCAN_ELIGIBILITY_EXPIRED){why}"
            ),
            "raise the registry's scan duration in Amazon Inspector, or push the image again",
        ),
        "FINDINGS_UNAVAILABLE" => fail(
            format!("Amazon Inspector has no findings for this image (FINDINGS_UNAVAILABLE){why}"),
            "the image was probably deleted or archived; check it in ECR and Inspector",
        ),
        other => fail(
            format!("the image scan reports {other}{why}"),
            "look at the image's scan in the ECR console",
        ),
    }
}

/// One finding, made safe to show: every field neutralised and capped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: String,
    pub id: String,
    pub package: String,
    pub title: String,
}

/// Cap per finding field in outputs, logs and the summary.
const FIELD_LIMIT: usize = 160;
/// Findings shown in outputs, logs and the summary.
pub const TOP_FINDINGS: usize = 10;

impl Finding {
    pub fn new(severity: &str, id: &str, package: &str, title: &str) -> Self {
        let safe = |s: &str| neutralise_capped(s, FIELD_LIMIT);
        Finding {
            severity: safe(severity),
            id: safe(id),
            package: safe(package),
            title: safe(title),
        }
    }
    fn rank(&self) -> Option<Severity> {
        Severity::parse(&self.severity)
    }
}

/// The findings at or above the gate, and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Findings at or above the gate (unranked ones too, for the INFORMATIONAL gate).
    pub blocking: i64,
    /// Findings ECR could not rank (UNDEFINED, UNTRIAGED, …).
    pub unranked: i64,
    pub total: i64,
}

/// Judge severity counts (ECR's words → count) against the gate.
pub fn judge(counts: &BTreeMap<String, i64>, gate: Severity) -> Judgement {
    let mut j = Judgement {
        blocking: 0,
        unranked: 0,
        total: 0,
    };
    for (word, &n) in counts {
        j.total += n;
        match Severity::parse(word) {
            Some(s) if s >= gate => j.blocking += n,
            Some(_) => {}
            None => {
                j.unranked += n;
                if gate == Severity::Informational {
                    j.blocking += n;
                }
            }
        }
    }
    j
}

/// The `count` findings to show: highest severity first (unranked last), stable otherwise.
pub fn top_findings(mut all: Vec<Finding>, count: usize) -> Vec<Finding> {
    all.sort_by_key(|f| std::cmp::Reverse(f.rank().map_or(0, |s| s as u8 + 1)));
    all.truncate(count);
    all
}

/// Every severity word with its count, ranked ones always present (zero included).
pub fn count_table(counts: &BTreeMap<String, i64>) -> Vec<(String, i64)> {
    let mut rows: Vec<(String, i64)> = Severity::ALL
        .iter()
        .map(|s| {
            (
                s.as_str().to_string(),
                counts.get(s.as_str()).copied().unwrap_or(0),
            )
        })
        .collect();
    for (word, &n) in counts {
        if Severity::parse(word).is_none() {
            rows.push((neutralise_capped(word, 40), n));
        }
    }
    rows
}

/// What a finished scan said.
#[derive(Debug, Clone)]
pub struct ScanReport {
    pub status: String,
    pub enhanced: bool,
    pub counts: BTreeMap<String, i64>,
    pub findings: Vec<Finding>,
}

/// What the gate needs from the command line, taken before `push` consumes the `Cli`.
#[derive(Debug, Clone)]
pub struct Gate {
    pub severity: Severity,
    pub timeout: Timeout,
    pub aws: dk_core::aws::AwsArgs,
    pub registry_id: Option<String>,
    pub repository: String,
}

impl Gate {
    pub fn from_cli(cli: &crate::Cli) -> Option<Gate> {
        Some(Gate {
            severity: cli.scan.scan_gate?,
            timeout: cli.scan.scan_timeout,
            aws: cli.aws.clone(),
            registry_id: cli.registry_id.clone(),
            repository: cli.repository.clone(),
        })
    }

    /// One line for `--dry-run`.
    pub fn describe(&self) -> String {
        format!(
            "then wait up to {} for the image's ECR scan (the scan-on-push one if the repository has it, else a basic scan started with StartImageScan) and fail (exit 1) on any finding at or above {}",
            format_duration(self.timeout.get()),
            self.severity.as_str()
        )
    }
}

/// Apply the gate to a finished push: a push that did not succeed is returned as it is.
pub async fn after_push(gate: Option<Gate>, ui: &Ui, pushed: Outcome) -> Result<Outcome> {
    let Some(gate) = gate else {
        return Ok(pushed);
    };
    if pushed.status != Status::Succeeded {
        return Ok(pushed);
    }
    let digest = match pushed.outputs.get("digest") {
        Some(Value::String(d)) => d.clone(),
        _ => return Err(Error::runtime("the push reported no digest to scan")),
    };
    let image = pushed
        .outputs
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or(&digest)
        .to_string();
    ui.group(&format!("Scan gate {} for {image}", gate.severity.as_str()));
    let config = dk_core::aws::sdk_config(ui, &gate.aws).await?;
    let ecr = aws_sdk_ecr::Client::new(&config);
    let deadline = Deadline::after(gate.timeout);
    match wait_for_scan(&ecr, ui, &gate, &digest, &deadline).await {
        Ok(report) => Ok(gated(pushed, &gate, &image, &report, ui)),
        Err(PollError::TimedOut) => Ok(scan_timed_out(pushed, &gate, &image)),
        Err(PollError::Failed(e)) => Err(e),
    }
}

fn scan_timed_out(pushed: Outcome, gate: &Gate, image: &str) -> Outcome {
    let mut o = pushed;
    o.status = Status::TimedOut;
    o.result = "scan_timed_out".into();
    o.message = format!(
        "{image} was pushed, but its scan did not finish within --scan-timeout {}; raise --scan-timeout, or check the scan in the ECR console",
        format_duration(gate.timeout.get())
    );
    o.output("scan_gate", gate.severity.as_str())
        .output("scan_status", "IN_PROGRESS")
}

/// The push's outcome with the scan's verdict, counts and top findings added.
fn gated(pushed: Outcome, gate: &Gate, image: &str, report: &ScanReport, ui: &Ui) -> Outcome {
    let j = judge(&report.counts, gate.severity);
    let top = top_findings(report.findings.clone(), TOP_FINDINGS);
    if report.enhanced {
        ui.info("enhanced scanning (Amazon Inspector) reports ACTIVE: the image is monitored continuously and has no final scan; judged on the findings reported now");
    }
    if j.unranked > 0 && gate.severity != Severity::Informational {
        ui.warn(&format!(
            "{} finding(s) have no severity (UNDEFINED/UNTRIAGED) and are not ranked against --scan-gate {}: review them",
            j.unranked,
            gate.severity.as_str()
        ));
    }
    for f in &top {
        ui.info(&format!(
            "{} {} {} {}",
            f.severity, f.id, f.package, f.title
        ));
    }
    let counts: serde_json::Map<String, Value> = count_table(&report.counts)
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    let failed = j.blocking > 0;
    let mut o = pushed;
    if failed {
        o.status = Status::Failed;
        o.result = "scan_failed".into();
        o.message = format!(
            "{image} was pushed, but its scan found {} finding(s) at or above {} ({}); fix them, or raise --scan-gate",
            j.blocking,
            gate.severity.as_str(),
            counts_line(&report.counts)
        );
    } else {
        o.message = format!(
            "{}; scan gate {} passed ({})",
            o.message,
            gate.severity.as_str(),
            counts_line(&report.counts)
        );
    }
    o.summary = Some(summary(o.summary.take(), gate, report, &j, &top));
    let detail = json!({"status": report.status, "enhanced": report.enhanced, "gate": gate.severity,
        "counts": counts, "blocking": j.blocking, "top_findings": top});
    if let Some(Value::Object(d)) = &mut o.detail {
        d.insert("scan".into(), detail);
    }
    o.output("scan_gate", gate.severity.as_str())
        .output("scan_status", report.status.clone())
        .output("scan_counts", Value::Object(counts))
        .output("scan_blocking", j.blocking)
        .output("scan_findings", j.total)
        .output(
            "scan_top_findings",
            serde_json::to_value(&top).unwrap_or(Value::Null),
        )
}

/// `2 HIGH, 1 MEDIUM` or `no findings`.
fn counts_line(counts: &BTreeMap<String, i64>) -> String {
    let parts: Vec<String> = count_table(counts)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(w, n)| format!("{n} {w}"))
        .collect();
    if parts.is_empty() {
        "no findings".into()
    } else {
        parts.join(", ")
    }
}

fn summary(
    pushed: Option<String>,
    gate: &Gate,
    report: &ScanReport,
    j: &Judgement,
    top: &[Finding],
) -> String {
    let mut md = pushed.unwrap_or_default();
    if j.blocking > 0 {
        md = md.replacen("### ✅", "### ❌", 1);
    }
    let verdict = if j.blocking > 0 {
        format!("❌ {} at or above {}", j.blocking, gate.severity.as_str())
    } else {
        format!("✅ none at or above {}", gate.severity.as_str())
    };
    md.push_str(&format!(
        "\n#### Image scan ({}{}): {verdict}\n\n| Severity | Findings |\n|---|---|\n",
        md_cell(&report.status),
        if report.enhanced { ", enhanced" } else { "" }
    ));
    for (word, n) in count_table(&report.counts) {
        md.push_str(&format!("| {} | {n} |\n", md_cell(&word)));
    }
    if !top.is_empty() {
        md.push_str("\n| Severity | Finding | Package | Title |\n|---|---|---|---|\n");
        for f in top {
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                md_cell(&f.severity),
                md_cell(&f.id),
                md_cell(&f.package),
                md_cell(&f.title)
            ));
        }
    }
    md
}

// ---- ECR calls ----

/// Interval between DescribeImageScanFindings polls.
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Findings per page (ECR's maximum) and pages read: counts are on every page, the top findings
/// come from at most this many.
const PAGE_SIZE: i32 = 1000;
const MAX_PAGES: usize = 10;

fn image_id(digest: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_digest(digest).build()
}

/// Whether the repository scans on push (its own setting; registry-wide rules are not read).
async fn scans_on_push(ecr: &aws_sdk_ecr::Client, gate: &Gate) -> bool {
    ecr.describe_repositories()
        .set_registry_id(gate.registry_id.clone())
        .repository_names(&gate.repository)
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.repositories()
                .first()
                .and_then(|r| r.image_scanning_configuration())
                .map(|c| c.scan_on_push())
        })
        .unwrap_or(false)
}

/// Poll until the scan is done (or cannot be), starting one when none exists.
async fn wait_for_scan(
    ecr: &aws_sdk_ecr::Client,
    ui: &Ui,
    gate: &Gate,
    digest: &str,
    deadline: &Deadline,
) -> std::result::Result<ScanReport, PollError<Error>> {
    let scan_on_push = scans_on_push(ecr, gate).await;
    let started = std::sync::atomic::AtomicBool::new(false);
    let result = poll_until(deadline, POLL_INTERVAL, |_| async {
        let step = match describe_status(ecr, gate, digest).await? {
            None => decide_not_found(
                started.load(std::sync::atomic::Ordering::Relaxed),
                scan_on_push,
                deadline.elapsed(),
            ),
            Some((status, description)) => decide_status(&status, &description),
        };
        match step {
            Step::Wait(what) => {
                ui.status(&format!(
                    "scan of {digest}: {what} ({} left)",
                    format_duration(deadline.remaining())
                ));
                Ok(Poll::Pending)
            }
            Step::Start => {
                start_scan(ecr, ui, gate, digest).await?;
                started.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(Poll::Pending)
            }
            Step::Judge { enhanced } => Ok(Poll::Ready(enhanced)),
            Step::Fail(msg, fix) => Err(Error::runtime(format!("{digest}: {msg}")).with_hint(&fix)),
        }
    })
    .await;
    ui.clear_status();
    let enhanced = result?;
    read_findings(ecr, gate, digest, enhanced)
        .await
        .map_err(PollError::Failed)
}

/// The scan's status and description, `None` when the image has no scan. Transient errors are
/// a status to wait through.
async fn describe_status(
    ecr: &aws_sdk_ecr::Client,
    gate: &Gate,
    digest: &str,
) -> Result<Option<(String, String)>> {
    let resp = ecr
        .describe_image_scan_findings()
        .set_registry_id(gate.registry_id.clone())
        .repository_name(&gate.repository)
        .image_id(image_id(digest))
        .max_results(1)
        .send()
        .await;
    match resp {
        Ok(out) => {
            let st = out.image_scan_status();
            Ok(Some((
                st.and_then(|s| s.status())
                    .map_or("PENDING", |s| s.as_str())
                    .to_string(),
                st.and_then(|s| s.description())
                    .map(|d| neutralise_capped(d, 300))
                    .unwrap_or_default(),
            )))
        }
        Err(e) if error_code(&e) == Some("ScanNotFoundException") => Ok(None),
        Err(e) if is_transient(&e) => Ok(Some(("IN_PROGRESS".into(), String::new()))),
        Err(e) if error_code(&e) == Some("ImageNotFoundException") => Err(Error::runtime(format!(
            "ECR does not know image {digest} in {}",
            gate.repository
        ))
        .with_hint("the registry that took the push is not this ECR repository: check --registry and --registry-id")),
        Err(e) => Err(sdk_error("DescribeImageScanFindings", e)),
    }
}

/// StartImageScan (basic scanning).
async fn start_scan(ecr: &aws_sdk_ecr::Client, ui: &Ui, gate: &Gate, digest: &str) -> Result<()> {
    ui.info(&format!(
        "starting a basic scan of {digest} (StartImageScan)"
    ));
    let resp = ecr
        .start_image_scan()
        .set_registry_id(gate.registry_id.clone())
        .repository_name(&gate.repository)
        .image_id(image_id(digest))
        .send()
        .await;
    match resp {
        Ok(_) => Ok(()),
        Err(e) => {
            let step = match error_code(&e) {
                Some("LimitExceededException") => decide_status("LIMIT_EXCEEDED", ""),
                Some("UnsupportedImageTypeException") => decide_status("UNSUPPORTED_IMAGE", ""),
                Some("ValidationException") => Step::Fail(
                    "StartImageScan was refused (ValidationException): with enhanced scanning (Amazon Inspector) scans cannot be started by hand".into(),
                    "enable scan-on-push or continuous scanning for the repository in Inspector's ECR settings, then push again".into(),
                ),
                _ => return Err(sdk_error("StartImageScan", e)),
            };
            match step {
                Step::Fail(msg, fix) => {
                    Err(Error::runtime(format!("{digest}: {msg}")).with_hint(&fix))
                }
                _ => Ok(()),
            }
        }
    }
}

/// The finished scan's counts and findings, paged (bounded).
async fn read_findings(
    ecr: &aws_sdk_ecr::Client,
    gate: &Gate,
    digest: &str,
    enhanced: bool,
) -> Result<ScanReport> {
    let mut report = ScanReport {
        status: if enhanced { "ACTIVE" } else { "COMPLETE" }.into(),
        enhanced,
        counts: BTreeMap::new(),
        findings: Vec::new(),
    };
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let out = ecr
            .describe_image_scan_findings()
            .set_registry_id(gate.registry_id.clone())
            .repository_name(&gate.repository)
            .image_id(image_id(digest))
            .max_results(PAGE_SIZE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| sdk_error("DescribeImageScanFindings", e))?;
        if let Some(f) = out.image_scan_findings() {
            if let Some(counts) = f.finding_severity_counts() {
                report.counts = counts
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), i64::from(*v)))
                    .collect();
            }
            report
                .findings
                .extend(f.findings().iter().map(basic_finding));
            report
                .findings
                .extend(f.enhanced_findings().iter().map(enhanced_finding));
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    if report.counts.is_empty() {
        // No counts given: count what was listed.
        for f in &report.findings {
            *report.counts.entry(f.severity.clone()).or_default() += 1;
        }
    }
    Ok(report)
}

fn basic_finding(f: &ImageScanFinding) -> Finding {
    let attr = |k: &str| {
        f.attributes()
            .iter()
            .find(|a| a.key() == k)
            .and_then(|a| a.value())
            .unwrap_or("")
    };
    let package = match (attr("package_name"), attr("package_version")) {
        ("", _) => String::new(),
        (n, "") => n.to_string(),
        (n, v) => format!("{n} {v}"),
    };
    Finding::new(
        f.severity().map_or("UNDEFINED", |s| s.as_str()),
        f.name().unwrap_or("?"),
        &package,
        f.description().unwrap_or(""),
    )
}

fn enhanced_finding(f: &EnhancedImageScanFinding) -> Finding {
    let details = f.package_vulnerability_details();
    let package = details
        .and_then(|d| d.vulnerable_packages().first())
        .map(|p| {
            format!("{} {}", p.name().unwrap_or(""), p.version().unwrap_or(""))
                .trim()
                .to_string()
        })
        .unwrap_or_default();
    Finding::new(
        f.severity().unwrap_or("UNTRIAGED"),
        details
            .and_then(|d| d.vulnerability_id())
            .or(f.title())
            .unwrap_or("?"),
        &package,
        f.title().or(f.description()).unwrap_or(""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    /// The gate fails at or above its severity, never below; unranked findings fail only the
    /// INFORMATIONAL ("any finding") gate.
    #[test]
    fn judge_table() {
        use Severity::*;
        let high = counts(&[("HIGH", 2), ("MEDIUM", 1)]);
        let undefined = counts(&[("UNDEFINED", 3)]);
        let cases = [
            (&high, High, 2, 0),
            (&high, Critical, 0, 0),
            (&high, Medium, 3, 0),
            (&high, Informational, 3, 0),
            (&undefined, Low, 0, 3),
            (&undefined, Informational, 3, 3),
        ];
        for (c, gate, blocking, unranked) in cases {
            let j = judge(c, gate);
            assert_eq!(
                (j.blocking, j.unranked),
                (blocking, unranked),
                "{c:?} {gate:?}"
            );
        }
        assert_eq!(judge(&counts(&[]), Informational).blocking, 0);
    }

    /// Each scan status maps to wait, judge or a clear failure; ACTIVE (enhanced) is judged,
    /// never waited on.
    #[test]
    fn status_table() {
        assert_eq!(
            decide_status("COMPLETE", ""),
            Step::Judge { enhanced: false }
        );
        assert_eq!(decide_status("ACTIVE", ""), Step::Judge { enhanced: true });
        assert!(matches!(decide_status("IN_PROGRESS", ""), Step::Wait(_)));
        assert!(matches!(decide_status("PENDING", ""), Step::Wait(_)));
        for (status, word) in [
            ("FAILED", "FAILED"),
            ("UNSUPPORTED_IMAGE", "--platform"),
            ("LIMIT_EXCEEDED", "24 h"),
            ("SCAN_ELIGIBILITY_EXPIRED", "Inspector"),
            ("FINDINGS_UNAVAILABLE", "Inspector"),
            ("SOMETHING_NEW", "SOMETHING_NEW"),
        ] {
            match decide_status(status, "why") {
                Step::Fail(msg, fix) => assert!(
                    format!("{msg} {fix}").contains(word),
                    "{status}: {msg} / {fix}"
                ),
                other => panic!("{status}: {other:?}"),
            }
        }
    }

    /// No scan yet: start one, unless the repository's scan-on-push scan may still show.
    #[test]
    fn not_found_table() {
        let s = Duration::from_secs;
        assert_eq!(decide_not_found(false, false, s(0)), Step::Start);
        assert!(matches!(decide_not_found(false, true, s(5)), Step::Wait(_)));
        assert_eq!(decide_not_found(false, true, s(21)), Step::Start);
        assert!(matches!(decide_not_found(true, false, s(1)), Step::Wait(_)));
    }

    /// Top findings: highest first, unranked last, bounded; hostile text neutralised.
    #[test]
    fn top_findings_are_ranked_bounded_and_safe() {
        let mut all = vec![
            Finding::new("LOW", "CVE-1", "a", "low"),
            Finding::new("UNDEFINED", "CVE-2", "b", "??"),
            Finding::new(
                "CRITICAL",
                "CVE-3",
                "c",
                "x\r::set-output name=a::b ##[cmd]",
            ),
        ];
        all.extend((0..20).map(|i| Finding::new("MEDIUM", &format!("CVE-M{i}"), "m", "")));
        let top = top_findings(all, TOP_FINDINGS);
        assert_eq!(top.len(), TOP_FINDINGS);
        assert_eq!(top[0].id, "CVE-3");
        assert!(top.iter().all(|f| f.severity != "UNDEFINED"));
        assert!(!top[0].title.contains('\r') && !top[0].title.contains("##["));
        let long = Finding::new("LOW", &"x".repeat(10_000), "", "");
        assert!(long.id.len() < FIELD_LIMIT + 40);
    }

    /// Severity words parse case-insensitively; the count table always lists the five ranks.
    #[test]
    fn severities_and_count_table() {
        assert_eq!(Severity::parse("high"), Some(Severity::High));
        assert_eq!(Severity::parse("UNDEFINED"), None);
        let rows = count_table(&counts(&[("HIGH", 1), ("UNTRIAGED", 2)]));
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[1], ("HIGH".to_string(), 1));
        assert_eq!(rows[5], ("UNTRIAGED".to_string(), 2));
        assert_eq!(counts_line(&counts(&[])), "no findings");
    }
}
