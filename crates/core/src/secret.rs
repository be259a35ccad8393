//! `Secret<T>`: a value that cannot be printed. Debug and Display show `REDACTED`; there is no
//! Serialize. The only way out is [`Secret::expose`], which names itself at every use site.
//! Before a secret reaches anything that might log it, `Ui::mask` registers it with the runner.

use std::fmt;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }
    /// The value itself. Never format it into a message, log line, output or summary.
    pub fn expose(&self) -> &T {
        &self.0
    }
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Neither Debug nor Display reveal the value, even nested in other types.
    #[test]
    fn never_prints_value() {
        let s = Secret::new("hunter2-very-secret".to_string());
        assert_eq!(format!("{s}"), "REDACTED");
        assert_eq!(format!("{s:?}"), "REDACTED");
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-very-secret");
    }
}
