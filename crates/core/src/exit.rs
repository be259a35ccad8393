//! The exit codes every deploy-kit tool keeps (documented in the README).

/// The operation succeeded.
pub const SUCCESS: u8 = 0;
/// The operation ran and failed: a rollout failed or was rolled back, a check failed.
pub const FAILED: u8 = 1;
/// Usage or input error (bad flag, bad file, invalid identifier), caught before any network call.
pub const USAGE: u8 = 2;
/// Runtime or infrastructure error: endpoint unreachable, auth refused, throttled past retries.
pub const RUNTIME: u8 = 3;
/// A wait passed its deadline.
pub const TIMED_OUT: u8 = 4;
