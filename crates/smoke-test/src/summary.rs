//! The report, written once for each audience: the `Outcome` (message, outputs, JSON detail),
//! the job-summary table, and JUnit XML (one testcase per check).

use std::time::Duration;

use dk_core::Outcome;
use dk_core::duration::format_duration;
use dk_core::gha::md_cell;
use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};

use crate::engine::{CheckOutcome, CheckResult, Report, Verdict};
use crate::load::percent;

/// The tool's result: `result` is passed, failed or timed_out.
pub fn outcome(report: &Report, title: &str) -> Outcome {
    let n = report.checks.len();
    let took = format_duration(report.duration);
    let base = match &report.verdict {
        Verdict::Passed => {
            Outcome::succeeded("passed", format!("all {n} check(s) passed in {took}"))
        }
        Verdict::TimedOut => Outcome::timed_out(
            "timed_out",
            format!(
                "deadline passed after {took}: {}",
                report.first_failure().unwrap_or_default()
            ),
        ),
        Verdict::Failed | Verdict::Unreachable(_) => Outcome::failed(
            "failed",
            format!(
                "{} of {n} check(s) did not pass: {}",
                report.not_passed(),
                report.first_failure().unwrap_or_default()
            ),
        ),
    };
    base.output("passed", report.passed())
        .output("failed", report.not_passed())
        .output("p95_ms", report.p95_ms)
        .output("error_rate", (report.error_rate() * 10_000.0).round() / 10_000.0)
        .detail(serde_json::json!({ "checks": report.checks, "duration_ms": report.duration.as_millis() as u64 }))
        .summary(markdown(report, title))
}

/// A Markdown cell: core's `md_cell` (neutralised; pipes, HTML and line breaks cannot escape it),
/// with backticks flattened so a body excerpt cannot open a code span across cells.
fn cell(s: &str) -> String {
    md_cell(s).replace('`', "'")
}

fn icon(o: CheckOutcome) -> &'static str {
    match o {
        CheckOutcome::Passed => "✅ passed",
        CheckOutcome::Failed => "❌ failed",
        CheckOutcome::Skipped => "⏭️ skipped",
        CheckOutcome::TimedOut => "⏱️ timed out",
    }
}

/// The job-summary section: one row per check, then one per load block with measured values
/// beside their thresholds.
pub fn markdown(report: &Report, title: &str) -> String {
    let head = match report.verdict {
        Verdict::Passed => "✅",
        Verdict::TimedOut => "⏱️",
        _ => "❌",
    };
    let mut md = format!(
        "### {head} {} — {} of {} check(s) passed in {}\n\n| Check | Result | Request | Status | Time | Detail |\n|---|---|---|---|---|---|\n",
        cell(title),
        report.passed(),
        report.checks.len(),
        format_duration(report.duration)
    );
    for c in &report.checks {
        let mut detail = c.failures.join("; ");
        if let Some(b) = &c.body_excerpt {
            detail.push_str(&format!("; body: {b}"));
        }
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            cell(&c.name),
            icon(c.outcome),
            cell(c.request.as_deref().unwrap_or("")),
            c.status.map(|s| s.to_string()).unwrap_or_default(),
            c.latency_ms.map(|l| format!("{l} ms")).unwrap_or_default(),
            cell(&detail)
        ));
    }
    let loads: Vec<&CheckResult> = report.checks.iter().filter(|c| c.load.is_some()).collect();
    if !loads.is_empty() {
        md.push_str("\n| Load | Requests | Concurrency | p50 | p95 | p99 | Errors | Req/s | Thresholds |\n|---|---|---|---|---|---|---|---|---|\n");
        for c in loads {
            let Some(l) = &c.load else { continue };
            let limits: Vec<String> = l
                .thresholds
                .iter()
                .map(|(k, v)| format!("{k} ≤ {v}"))
                .collect();
            md.push_str(&format!(
                "| {} | {} | {} | {} ms | {} ms | {} ms | {} | {} | {} |\n",
                cell(&c.name),
                l.requests,
                l.concurrency,
                l.p50_ms,
                l.p95_ms,
                l.p99_ms,
                percent(l.error_rate),
                l.requests_per_s,
                cell(&limits.join(", "))
            ));
        }
    }
    md
}

/// JUnit XML: one testsuite, one testcase per check (failure, or skipped, with the details).
pub fn junit(report: &Report, suite: &str) -> String {
    let mut ts = TestSuite::new(suite);
    for c in &report.checks {
        let status = match c.outcome {
            CheckOutcome::Passed => TestCaseStatus::success(),
            CheckOutcome::Skipped => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(c.failures.join("; "));
                s
            }
            CheckOutcome::Failed | CheckOutcome::TimedOut => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(
                    c.failures
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "failed".into()),
                );
                s.set_type(if c.outcome == CheckOutcome::TimedOut {
                    "timed_out"
                } else {
                    "failed"
                });
                let mut text = String::new();
                if let Some(r) = &c.request {
                    text.push_str(&format!("{r}\n"));
                }
                if let Some(st) = c.status {
                    text.push_str(&format!("status {st}\n"));
                }
                for f in &c.failures {
                    text.push_str(&format!("{f}\n"));
                }
                if let Some(b) = &c.body_excerpt {
                    text.push_str(&format!("body: {b}\n"));
                }
                s.set_description(text);
                s
            }
        };
        let mut tc = TestCase::new(c.name.as_str(), status);
        tc.set_classname(suite);
        tc.set_time(Duration::from_millis(c.duration_ms));
        ts.add_test_case(tc);
    }
    ts.set_time(report.duration);
    let mut r = JunitReport::new("smoke-test");
    r.add_test_suite(ts);
    r.set_time(report.duration);
    r.to_string().unwrap_or_default()
}
