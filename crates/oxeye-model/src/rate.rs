//! A token bucket, the shape of every ingestion rate limit (Loki's and Tempo's `ingestion_rate` / `burst`).

/// Tokens (bytes, spans, …) refilled at a rate up to a burst. Time is passed in, so callers decide the clock
/// (and tests control it).
#[derive(Debug)]
pub struct TokenBucket {
    tokens: f64,
    last_ns: i64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(burst: f64) -> Self {
        Self { tokens: burst, last_ns: i64::MIN }
    }

    /// Takes `amount` tokens if available at `now_ns`, refilling at `rate` per second up to `burst` first. A
    /// request larger than the burst never passes (as in Loki and Tempo). Time going backwards refills nothing.
    pub fn try_take(&mut self, amount: f64, rate: f64, burst: f64, now_ns: i64) -> bool {
        if self.last_ns != i64::MIN && now_ns > self.last_ns {
            self.tokens = (self.tokens + rate * (now_ns - self.last_ns) as f64 / 1e9).min(burst);
        }
        self.last_ns = self.last_ns.max(now_ns);
        if amount <= self.tokens {
            self.tokens -= amount;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_at_the_rate_up_to_the_burst() {
        let mut bucket = TokenBucket::new(10.0);
        assert!(bucket.try_take(10.0, 5.0, 10.0, 0));
        assert!(!bucket.try_take(1.0, 5.0, 10.0, 0));
        assert!(bucket.try_take(5.0, 5.0, 10.0, 1_000_000_000), "one second refills 5");
        assert!(!bucket.try_take(11.0, 5.0, 10.0, 100_000_000_000), "more than the burst never passes");
        assert!(bucket.try_take(10.0, 5.0, 10.0, 100_000_000_000), "refill stops at the burst");
        assert!(!bucket.try_take(1.0, 5.0, 10.0, 50_000_000_000), "time going backwards refills nothing");
    }
}
