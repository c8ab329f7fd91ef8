//! Error classification and exponential backoff for API calls.

use std::time::Duration;

/// The API answered 404.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.is_not_found())
}

/// The API answered 409 AlreadyExists.
pub fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.is_already_exists())
}

/// The API answered 409 Conflict (including failed preconditions).
pub fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.is_conflict())
}

/// Worth retrying: the server was unreachable, overloaded or failed
/// internally. Other API errors (4xx) will not get better by themselves.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500 || s.code == 0,
        _ => true,
    }
}

/// Doubling delays from `first` up to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Backoff { next: first, max }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// Sleeps for the next delay.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            reason: reason.into(),
            ..Default::default()
        }))
    }

    #[test]
    fn classification() {
        assert!(is_not_found(&api(404, "NotFound")));
        assert!(is_already_exists(&api(409, "AlreadyExists")));
        assert!(is_conflict(&api(409, "Conflict")));
        assert!(is_transient(&api(503, "ServiceUnavailable")));
        assert!(is_transient(&api(429, "TooManyRequests")));
        assert!(!is_transient(&api(422, "Invalid")));
        assert!(!is_transient(&api(404, "NotFound")));
    }

    #[test]
    fn backoff_doubles_to_max() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let delays: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
    }
}
