//! Load gates: percentiles and the error rate over a load block's requests, and the verdict
//! against its thresholds. Pure; the engine does the sending.

use std::time::Duration;

use serde::Serialize;

use crate::model::Load;

/// What a load block measured, beside the thresholds it was held to.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoadStats {
    pub requests: u32,
    pub concurrency: u32,
    pub errors: u32,
    pub error_rate: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub requests_per_s: f64,
    /// Threshold name → limit, as written (`p95` → `200 ms`, `error_rate` → `1%`).
    pub thresholds: Vec<(String, String)>,
    /// Failed thresholds, one line each.
    pub failures: Vec<String>,
}

/// The nearest-rank percentile (`p` in 0–100) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Measure `latencies` (every request, failed ones included) and hold them to the thresholds.
pub fn gate(load: &Load, mut latencies: Vec<Duration>, errors: u32, wall: Duration) -> LoadStats {
    latencies.sort();
    let n = latencies.len().max(1) as f64;
    let error_rate = f64::from(errors) / n;
    let (p50, p95, p99) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 99.0),
    );
    let mut thresholds = Vec::new();
    let mut failures = Vec::new();
    for (name, limit, measured) in [
        ("p50", load.p50, p50),
        ("p95", load.p95, p95),
        ("p99", load.p99, p99),
    ] {
        let Some(limit) = limit else { continue };
        thresholds.push((name.to_string(), format!("{} ms", ms(limit.0))));
        if measured > limit.0 {
            failures.push(format!(
                "{name} {} ms is above the threshold {} ms",
                ms(measured),
                ms(limit.0)
            ));
        }
    }
    if let Some(rate) = load.error_rate {
        thresholds.push(("error_rate".into(), percent(rate.0)));
        if error_rate > rate.0 {
            failures.push(format!(
                "error rate {} ({errors} of {}) is above the threshold {}",
                percent(error_rate),
                latencies.len(),
                percent(rate.0)
            ));
        }
    }
    LoadStats {
        requests: latencies.len() as u32,
        concurrency: load.concurrency,
        errors,
        error_rate,
        p50_ms: ms(p50),
        p95_ms: ms(p95),
        p99_ms: ms(p99),
        max_ms: latencies.last().copied().map_or(0.0, ms),
        requests_per_s: if wall.is_zero() {
            0.0
        } else {
            (n / wall.as_secs_f64() * 10.0).round() / 10.0
        },
        thresholds,
        failures,
    }
}

/// `0.5%`, `1%`, `12.25%`.
pub fn percent(rate: f64) -> String {
    let p = (rate * 100.0 * 1000.0).round() / 1000.0;
    format!("{p}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Load {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn samples(ms: &[u64]) -> Vec<Duration> {
        ms.iter().map(|m| Duration::from_millis(*m)).collect()
    }

    /// Nearest-rank percentiles over known samples.
    #[test]
    fn percentiles() {
        let s = samples(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&s, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&s, 95.0), Duration::from_millis(95));
        assert_eq!(percentile(&s, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&s, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&samples(&[7]), 99.0), Duration::from_millis(7));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    /// Thresholds pass at the limit, fail above it, and every failure shows measured beside limit.
    #[test]
    fn thresholds() {
        let l = load(
            "{requests: 100, concurrency: 4, p50: 50ms, p95: 95ms, p99: 99ms, error_rate: 1%}",
        );
        let lat = samples(&(1..=100).collect::<Vec<_>>());
        let ok = gate(&l, lat.clone(), 1, Duration::from_secs(1));
        assert!(ok.failures.is_empty(), "{:?}", ok.failures);
        assert_eq!(ok.requests_per_s, 100.0);
        assert_eq!(ok.thresholds.len(), 4);
        let strict = load("{requests: 100, p95: 90ms, error_rate: 0.5%}");
        let bad = gate(&strict, lat, 2, Duration::from_secs(1));
        assert_eq!(bad.failures.len(), 2, "{:?}", bad.failures);
        assert!(bad.failures[0].contains("p95 95 ms is above the threshold 90 ms"));
        assert!(bad.failures[1].contains("error rate 2% (2 of 100) is above the threshold 0.5%"));
    }
}
