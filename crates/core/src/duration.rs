//! Durations on the command line: `90s`, `10m`, `1h30m`, `500ms`, or a bare number of seconds —
//! always within documented bounds, so a typo like `--timeout 10000000000000000000` is a usage
//! error (exit 2) before any call, never an overflowing deadline after a mutation.
//!
//! Every duration flag is a [`Bounded`] of one kind; the kind says the bounds and clap parses it
//! through [`std::str::FromStr`], so no `value_parser` is needed:
//!
//! | type | bounds | for |
//! |---|---|---|
//! | [`Timeout`] | 1s to 7d | `--timeout`, `--rollback-timeout`, `--migrate-timeout`: a wait's deadline |
//! | [`Interval`] | 100ms to 1h | `--interval`: time between polls |
//! | [`RoleSession`] | 15m to 12h | `--role-duration`: STS's own limits for an assumed role |
//! | [`RetryWindow`] | 1s to 1h | `--retry-for`-style flags: how long to keep retrying one step |
//!
//! New tools (smoke-test, secrets-sync, …) declare `pub timeout: dk_core::duration::Timeout` with
//! `default_value = "10m"` and say the bounds in the flag's doc line (`(1s to 7d)`, see
//! [`DurationKind::RANGE`]); a flag that needs other bounds adds a kind here, in one place.
//! A `Bounded` derefs to [`Duration`] and converts into one.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::str::FromStr;
use std::time::Duration;

/// What a kind of duration flag may hold.
pub trait DurationKind {
    const MIN: Duration;
    const MAX: Duration;
    /// The bounds as `--help` and errors say them, e.g. `1s to 7d`.
    const RANGE: &'static str;
    /// A typical value, for error hints.
    const EXAMPLE: &'static str;
}

/// A duration within `K`'s bounds. Parse with `str::parse` (clap does).
pub struct Bounded<K> {
    value: Duration,
    kind: PhantomData<fn() -> K>,
}

/// A wait's deadline: 1 s to 7 days (a GitHub-hosted job ends after 6 h, a self-hosted one after
/// 5 days; anything longer is a typo, and the deadline arithmetic must never overflow).
pub type Timeout = Bounded<TimeoutKind>;
/// Time between polls: 100 ms (faster only burns the account's API rate) to 1 h.
pub type Interval = Bounded<IntervalKind>;
/// An assumed role's session: 15 min to 12 h, what STS accepts.
pub type RoleSession = Bounded<RoleSessionKind>;
/// How long to keep retrying one step: 1 s to 1 h.
pub type RetryWindow = Bounded<RetryWindowKind>;

pub struct TimeoutKind;
pub struct IntervalKind;
pub struct RoleSessionKind;
pub struct RetryWindowKind;

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl DurationKind for TimeoutKind {
    const MIN: Duration = secs(1);
    const MAX: Duration = secs(7 * 24 * 3600);
    const RANGE: &'static str = "1s to 7d";
    const EXAMPLE: &'static str = "10m";
}
impl DurationKind for IntervalKind {
    const MIN: Duration = Duration::from_millis(100);
    const MAX: Duration = secs(3600);
    const RANGE: &'static str = "100ms to 1h";
    const EXAMPLE: &'static str = "5s";
}
impl DurationKind for RoleSessionKind {
    const MIN: Duration = secs(15 * 60);
    const MAX: Duration = secs(12 * 3600);
    const RANGE: &'static str = "15m to 12h";
    const EXAMPLE: &'static str = "1h";
}
impl DurationKind for RetryWindowKind {
    const MIN: Duration = secs(1);
    const MAX: Duration = secs(3600);
    const RANGE: &'static str = "1s to 1h";
    const EXAMPLE: &'static str = "2m";
}

impl<K: DurationKind> Bounded<K> {
    /// `d` if it is within the bounds.
    pub fn new(d: Duration) -> Result<Self, String> {
        if d < K::MIN || d > K::MAX {
            return Err(format!(
                "{} is out of range: use {} (e.g. {})",
                format_duration(d),
                K::RANGE,
                K::EXAMPLE
            ));
        }
        Ok(Bounded {
            value: d,
            kind: PhantomData,
        })
    }
    /// `d` brought within the bounds: for defaults in code, never for user input.
    pub fn clamped(d: Duration) -> Self {
        Bounded {
            value: d.clamp(K::MIN, K::MAX),
            kind: PhantomData,
        }
    }
    pub fn get(self) -> Duration {
        self.value
    }
}

impl<K: DurationKind> FromStr for Bounded<K> {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let d = parse_duration(text).map_err(|e| format!("{e} (allowed: {})", K::RANGE))?;
        Self::new(d).map_err(|_| {
            format!(
                "`{}` is out of range: use {} (e.g. {})",
                text.trim(),
                K::RANGE,
                K::EXAMPLE
            )
        })
    }
}

// Manual impls: derives would require `K: Clone` etc. of the marker.
impl<K> Clone for Bounded<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Bounded<K> {}
impl<K> fmt::Debug for Bounded<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}
impl<K> fmt::Display for Bounded<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.value))
    }
}
impl<K> Deref for Bounded<K> {
    type Target = Duration;
    fn deref(&self) -> &Duration {
        &self.value
    }
}
impl<K> From<Bounded<K>> for Duration {
    fn from(b: Bounded<K>) -> Duration {
        b.value
    }
}
impl<K, L> PartialEq<Bounded<L>> for Bounded<K> {
    fn eq(&self, other: &Bounded<L>) -> bool {
        self.value == other.value
    }
}
impl<K, L> PartialOrd<Bounded<L>> for Bounded<K> {
    fn partial_cmp(&self, other: &Bounded<L>) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(&other.value)
    }
}
impl<K> PartialEq<Duration> for Bounded<K> {
    fn eq(&self, other: &Duration) -> bool {
        self.value == *other
    }
}
impl<K> PartialOrd<Duration> for Bounded<K> {
    fn partial_cmp(&self, other: &Duration) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(other)
    }
}

/// The most any duration flag can say: longer values are refused while parsing, before any
/// bound is checked, so no later arithmetic can overflow.
pub const ABSOLUTE_MAX: Duration = secs(365 * 24 * 3600);

/// Parse a duration without a kind's bounds (still at most [`ABSOLUTE_MAX`]). Prefer a
/// [`Bounded`] kind for flags; this stays for callers that check their own bounds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; use e.g. 90s, 10m or 1h30m".into());
    }
    let d = if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>().ok().map(Duration::from_secs)
    } else {
        Some(humantime::parse_duration(text).map_err(|e| {
            format!("`{text}` is not a duration ({e}); use e.g. 90s, 10m, 1h30m or 500ms")
        })?)
    };
    match d {
        Some(d) if d <= ABSOLUTE_MAX => Ok(d),
        _ => Err(format!(
            "`{}` is far too long a duration",
            crate::untrusted::neutralise_capped(text, 40)
        )),
    }
}

/// `1m 05s`-style rendering for progress lines and summaries.
pub fn format_duration(d: impl Into<Duration>) -> String {
    let d: Duration = d.into();
    let secs = d.as_secs();
    if secs < 60 {
        let tenths = d.as_millis() / 100;
        format!("{}.{}s", tenths / 10, tenths % 10)
    } else if secs < 3600 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// Serialises a duration as seconds with one decimal (`duration_s` in every tool's JSON):
/// `#[serde(rename = "duration_s", serialize_with = "dk_core::duration::serialize_seconds")]`.
pub fn serialize_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bare numbers are seconds; humantime forms are accepted; junk names the fix.
    #[test]
    fn parses_forms() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("soon").unwrap_err().contains("90s"));
    }

    /// Regression (issue 10): `--timeout 10000000000000000000` was accepted and overflowed the
    /// deadline after the first mutating call. Now refused while parsing, whatever the kind.
    #[test]
    fn huge_values_are_refused() {
        for text in [
            "10000000000000000000",
            "18446744073709551615",
            "999999999999y",
            "366d",
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
            assert!(text.parse::<Timeout>().is_err(), "{text}");
        }
    }

    /// Each kind at its edges: the bounds themselves are accepted, one step past is refused with
    /// a message that names the range.
    #[test]
    fn kinds_accept_their_edges_only() {
        fn edges<K: DurationKind>(min: &str, below: &str, max: &str, above: &str) {
            assert_eq!(*min.parse::<Bounded<K>>().unwrap(), K::MIN, "{min}");
            assert_eq!(*max.parse::<Bounded<K>>().unwrap(), K::MAX, "{max}");
            for bad in [below, above] {
                let e = bad.parse::<Bounded<K>>().unwrap_err();
                assert!(e.contains(K::RANGE), "{bad}: {e}");
            }
        }
        edges::<TimeoutKind>("1s", "999ms", "7d", "7d 1s");
        edges::<IntervalKind>("100ms", "99ms", "1h", "3601s");
        edges::<RoleSessionKind>("15m", "899s", "12h", "43201");
        edges::<RetryWindowKind>("1s", "0", "3600", "1h 1ms");
    }

    /// Property: any text either parses to a value within the kind's bounds or is refused;
    /// parsing never panics.
    #[test]
    fn property_parsed_values_are_in_bounds() {
        const PIECES: &[&str] = &[
            "0",
            "1",
            "9",
            "99",
            "100",
            "18446744073709551615",
            "ms",
            "s",
            "m",
            "h",
            "d",
            "w",
            "y",
            "ns",
            "us",
            " ",
            "-",
            ".",
            "e",
            "x",
            "千",
        ];
        let mut rng = fastrand::Rng::with_seed(10);
        for _ in 0..20_000 {
            let text: String = (0..rng.usize(0..6))
                .map(|_| PIECES[rng.usize(..PIECES.len())])
                .collect();
            if let Ok(t) = text.parse::<Timeout>() {
                assert!(*t >= TimeoutKind::MIN && *t <= TimeoutKind::MAX, "{text}");
            }
            if let Ok(i) = text.parse::<Interval>() {
                assert!(*i >= IntervalKind::MIN && *i <= IntervalKind::MAX, "{text}");
            }
            if let Ok(d) = parse_duration(&text) {
                assert!(d <= ABSOLUTE_MAX, "{text}");
            }
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(65)), "1m 05s");
        assert_eq!(format_duration(Duration::from_secs(3700)), "1h 01m");
    }
}
