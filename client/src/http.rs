//! The one HTTP GET the client makes (Intel's PCS, AMD's KDS): a deadline on every
//! request, no redirects, a bounded body, and a 429/503 answered by waiting its
//! Retry-After only when short and only [`MAX_ATTEMPTS`] times, so that a throttling
//! service is never hammered and a hostile one cannot make us wait long.

use std::time::Duration;

/// Requests per URL at most (the first and two retries after a short Retry-After).
pub const MAX_ATTEMPTS: u32 = 3;
/// The longest Retry-After waited for; a longer one is reported instead.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);
/// Deadline of one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest header value accepted.
const MAX_HEADER: usize = 16 * 1024;

/// Why a GET failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}{}", retry_after.map(|s| format!(" (Retry-After {s} s; try again later)")).unwrap_or_default())]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// Its Retry-After, seconds, when it sent one.
        retry_after: Option<u64>,
    },
    /// No answer: connection refused, TLS, DNS, or the deadline passed.
    #[error("{url}: {reason}")]
    Network {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// An answer that is not what the path serves.
    #[error("{url}: {reason}")]
    Malformed {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// An agent with the request deadline, no redirects, and error statuses as answers.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build(),
    )
}

/// GET `url`: the body (at most `limit` bytes) and the named header, URL-decoded.
pub fn get(
    agent: &ureq::Agent,
    url: &str,
    limit: usize,
    header: Option<&str>,
    what: &str,
) -> Result<(Vec<u8>, String), HttpError> {
    let net = |e: ureq::Error| HttpError::Network { url: url.to_owned(), reason: e.to_string() };
    let malformed = |reason: String| HttpError::Malformed { url: url.to_owned(), reason };
    for attempt in 1..=MAX_ATTEMPTS {
        let mut response = agent.get(url).call().map_err(net)?;
        let status = response.status().as_u16();
        if status == 429 || status == 503 {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            match retry_after.map(Duration::from_secs) {
                Some(wait) if wait <= MAX_RETRY_WAIT && attempt < MAX_ATTEMPTS => {
                    tracing::info!(url, secs = wait.as_secs(), "{what}: throttled; waiting as Retry-After asks");
                    std::thread::sleep(wait);
                    continue;
                }
                _ => return Err(HttpError::Status { url: url.to_owned(), status, retry_after }),
            }
        }
        if status != 200 {
            return Err(HttpError::Status { url: url.to_owned(), status, retry_after: None });
        }
        let value = match header {
            None => String::new(),
            Some(name) => {
                let raw = response.headers().get(name).ok_or_else(|| malformed(format!("no {name} header")))?;
                let raw = raw.as_bytes();
                if raw.len() > MAX_HEADER {
                    return Err(malformed(format!("{name} is too long")));
                }
                percent_encoding::percent_decode(raw)
                    .decode_utf8()
                    .map(|s| s.into_owned())
                    .map_err(|_| malformed(format!("{name} is not UTF-8")))?
            }
        };
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::try_from(limit).unwrap_or(u64::MAX))
            .read_to_vec()
            .map_err(|e| malformed(format!("body: {e}")))?;
        return Ok((body, value));
    }
    Err(HttpError::Status { url: url.to_owned(), status: 429, retry_after: None })
}
