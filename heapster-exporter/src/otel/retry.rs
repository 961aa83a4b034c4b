//! When an export is tried again, as the OTLP/HTTP specification asks: on 429, 502, 503 and
//! 504 only, after the collector's `Retry-After` or an exponential backoff with jitter, and
//! never past the export timeout.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use http::{HeaderValue, StatusCode};

/// Whether a request answered with `status` may be sent again: the collector is overloaded
/// or a proxy in front of it is (429 Too Many Requests, 502, 503, 504). Other errors are not
/// retried: the same request would fail the same way.
pub(crate) fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// The delay a `Retry-After` header asks for: delay-seconds, or an HTTP date (a date in the
/// past is no delay). `None` when the value is neither.
pub(crate) fn retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff: 0.5 s, 1 s, 2 s, ... up to 8 s, each delay drawn uniformly from its
/// upper half, so that many exporters told to wait do not all come back at once.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) const INITIAL: Duration = Duration::from_millis(500);
    pub(crate) const MAX: Duration = Duration::from_secs(8);

    pub(crate) fn new() -> Self {
        Self {
            next: Self::INITIAL,
        }
    }

    /// The next delay, in `[d / 2, d]` for `d` = 0.5 s, 1 s, 2 s, ... 8 s.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ceiling = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        let half = ceiling / 2;
        half + half.mul_f64(random_fraction())
    }
}

/// A number in `[0, 1)`, from the standard library's per-process random hash keys.
fn random_fraction() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_overload_statuses_are_retried() {
        for code in [429, 502, 503, 504] {
            assert!(is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [200, 400, 401, 403, 404, 413, 500, 501] {
            assert!(!is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = httpdate::parse_http_date("Sun, 29 Nov 2026 12:00:00 GMT").unwrap();
        let parse = |v: &'static str| retry_after(&HeaderValue::from_static(v), now);
        assert_eq!(parse("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse("Sun, 29 Nov 2026 12:00:07 GMT"),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse("Sun, 29 Nov 2026 11:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse("soon"), None);
        assert_eq!(parse("-1"), None);
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling_with_jitter_in_the_upper_half() {
        let mut backoff = Backoff::new();
        let mut ceiling = Backoff::INITIAL;
        let mut delays = Vec::new();
        for _ in 0..8 {
            let delay = backoff.next_delay();
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{delay:?} {ceiling:?}"
            );
            delays.push(delay);
            ceiling = (ceiling * 2).min(Backoff::MAX);
        }
        assert!(delays[7] >= Backoff::MAX / 2);
        // Jitter: eight draws are not all at the same point of their range.
        let fractions: Vec<u128> = delays
            .iter()
            .zip([500u128, 1000, 2000, 4000, 8000, 8000, 8000, 8000])
            .map(|(d, c)| d.as_millis() * 1000 / c)
            .collect();
        assert!(
            fractions.iter().any(|f| *f != fractions[0]),
            "{fractions:?}"
        );
    }
}
