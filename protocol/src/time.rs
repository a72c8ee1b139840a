//! Times as the verifier's messages show them. The verifier never reads a clock: the
//! caller passes the time of verification in, as unix seconds.

/// `unix` seconds as an RFC 3339 UTC time (`2026-12-02T05:12:28Z`), or `unix N` outside
/// the range X.509 can express.
pub fn fmt_time(unix: u64) -> String {
    der::DateTime::from_unix_duration(std::time::Duration::from_secs(unix))
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("unix {unix}"))
}
