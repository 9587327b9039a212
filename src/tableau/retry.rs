//! When to retry a request and how long to wait: a pure policy, tested on
//! its own, applied by the client around every call.
//!
//! Retried: 408, 429, 5xx and transport failures (connection refused or
//! dropped, truncated bodies, timeouts). `Retry-After` (seconds or an HTTP
//! date) wins over the computed backoff, capped at the policy's maximum (plus a little spread, see
//! [`RetryPolicy::wait`]); otherwise the wait is exponential with jitter.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included, not counting those the server
    /// paced (below).
    pub max_attempts: u32,
    /// Paced attempts a request may have: answered 429, or 503 with a
    /// `Retry-After`. The server is pacing its clients then, not failing,
    /// and a busy site can turn one request away many times in a row while
    /// its neighbours get through, so pacing has its own, larger budget.
    pub max_paced: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_paced: 20,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

pub fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// The wait a `Retry-After` header asks for: delay-seconds (`120`), or an
/// HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`) less `now` (Unix seconds,
/// best taken from the same response's `Date`, so both times come from the
/// server's clock). A date already past asks for no wait.
pub fn parse_retry_after(value: &str, now: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = crate::time::parse(value)?;
    Some(Duration::from_secs(at.saturating_sub(now).max(0) as u64))
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempts count from 1), given
    /// the server's `Retry-After` and a jitter draw in `[0, 1)`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_delay);
        }
        let exp = self.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_delay);
        // Full jitter: anywhere from half to all of the capped delay.
        capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// What the client actually waits: [`RetryPolicy::delay`], plus, when the
    /// server named the wait, up to one `base_delay` more, so requests told
    /// the same `Retry-After` do not all come back at the same instant.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let delay = self.delay(attempt, retry_after, jitter);
        match retry_after {
            Some(_) => delay + self.base_delay.mul_f64(jitter.clamp(0.0, 1.0)),
            None => delay,
        }
    }

    /// Whether to try again after `failed` attempts that failed unpaced and
    /// `paced` that the server paced, the last attempt being `last_paced`
    /// or not.
    pub fn should_retry(&self, failed: u32, paced: u32, last_paced: bool) -> bool {
        if last_paced {
            paced < self.max_paced
        } else {
            failed < self.max_attempts
        }
    }
}

/// A draw in `[0, 1)` from any 64-bit seed (splitmix64's finalizer), for
/// jitter: callers mix the clock with a counter, so no RNG is needed.
pub fn unit_from(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_transient_statuses_only() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let p =
            RetryPolicy { max_attempts: 5, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1), ..Default::default() };
        assert_eq!(p.delay(1, None, 1.0), Duration::from_millis(100));
        assert_eq!(p.delay(2, None, 1.0), Duration::from_millis(200));
        assert_eq!(p.delay(3, None, 0.0), Duration::from_millis(200));
        assert_eq!(p.delay(10, None, 1.0), Duration::from_secs(1));
        assert_eq!(p.delay(1, Some(Duration::from_secs(3)), 0.5), Duration::from_secs(1), "Retry-After is capped");
        assert_eq!(p.delay(1, Some(Duration::from_millis(700)), 0.5), Duration::from_millis(700));
        assert!(p.should_retry(4, 0, false) && !p.should_retry(5, 0, false));
        // Pacing has its own budget: paced attempts do not use up the
        // others, nor the others the paced ones'.
        assert!(p.should_retry(1, 19, true) && !p.should_retry(1, 20, true));
        assert!(p.should_retry(4, 19, false) && p.should_retry(5, 3, true));
        assert_eq!(parse_retry_after(" 2 ", 0), Some(Duration::from_secs(2)));
        assert_eq!(
            p.wait(1, Some(Duration::from_millis(700)), 0.5),
            Duration::from_millis(750),
            "spread after Retry-After"
        );
        assert_eq!(p.wait(2, None, 1.0), p.delay(2, None, 1.0));
    }

    #[test]
    fn retry_after_as_an_http_date_is_the_time_until_it() {
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        let at = 1_445_412_480; // that date, in Unix seconds
        assert_eq!(parse_retry_after(date, at - 7), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(date, at), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(date, at + 60), Some(Duration::ZERO), "a past date asks for no wait");
        assert_eq!(parse_retry_after("soon", at), None);
        assert_eq!(parse_retry_after("-3", at), None);
    }

    #[test]
    fn jitter_draws_are_spread_over_the_unit_interval() {
        let draws: Vec<f64> = (0..1000u64).map(unit_from).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let low = draws.iter().filter(|d| **d < 0.5).count();
        assert!((400..=600).contains(&low), "{low} of 1000 draws below 0.5");
        assert_ne!(unit_from(1), unit_from(2));
    }
}
