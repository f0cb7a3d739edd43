//! Small stochastic processes the target models are built from.
//!
//! Real metrics are not random bits: counters grow by plausible, correlated increments and gauges wander around a
//! level. These helpers give the node and application models that shape (mean-reverting walks, Poisson counts,
//! a log-normal latency distribution for histogram buckets) so that each system's compression meets data that
//! looks like production data. Everything draws from a caller-owned [`StdRng`], so a seed fixes every value.

use rand::Rng;
use rand::rngs::StdRng;

/// One draw from the standard normal distribution (Box–Muller transform).
pub fn standard_normal(rng: &mut StdRng) -> f64 {
    // `1 - u` keeps the logarithm's argument in (0, 1].
    let radius_uniform: f64 = 1.0 - rng.random::<f64>();
    let angle_uniform: f64 = rng.random();
    (-2.0 * radius_uniform.ln()).sqrt() * (std::f64::consts::TAU * angle_uniform).cos()
}

/// A Poisson-distributed count with the given mean: exact (Knuth's product method) for small means, the normal
/// approximation above 30 where the exact method gets slow. A non-positive mean yields 0.
pub fn poisson(rng: &mut StdRng, mean: f64) -> u64 {
    if mean <= 0.0 || !mean.is_finite() {
        return 0;
    }
    if mean > 30.0 {
        let approximate = mean + mean.sqrt() * standard_normal(rng);
        return approximate.round().max(0.0) as u64;
    }
    let threshold = (-mean).exp();
    let mut count = 0u64;
    let mut product: f64 = rng.random();
    while product > threshold {
        count += 1;
        product *= rng.random::<f64>();
    }
    count
}

/// A value drawn uniformly from `low..high`.
pub fn uniform(rng: &mut StdRng, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.random::<f64>()
}

/// Rounds `value` down to a multiple of `quantum` (page sizes, kB units, ticks).
pub fn quantize(value: f64, quantum: f64) -> f64 {
    (value / quantum).floor() * quantum
}

/// Rounds to a number of decimal places, as exporters that print fixed-precision values do (`/proc/loadavg`).
pub fn round_decimals(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// A gauge that wanders around a level and is pulled back towards it (a discrete Ornstein–Uhlenbeck process),
/// clamped to `[min, max]`.
#[derive(Clone, Debug)]
pub struct MeanRevertingWalk {
    value: f64,
    level: f64,
    reversion: f64,
    volatility: f64,
    min: f64,
    max: f64,
}

impl MeanRevertingWalk {
    /// Starts at `level`. `reversion` (0..1) is the share of the distance to the level closed per step,
    /// `volatility` the standard deviation of each step's noise.
    pub fn new(level: f64, reversion: f64, volatility: f64, min: f64, max: f64) -> Self {
        Self { value: level.clamp(min, max), level, reversion, volatility, min, max }
    }

    /// Advances one step and returns the new value.
    pub fn step(&mut self, rng: &mut StdRng) -> f64 {
        let pull = self.reversion * (self.level - self.value);
        let noise = self.volatility * standard_normal(rng);
        self.value = (self.value + pull + noise).clamp(self.min, self.max);
        self.value
    }

    /// The current value, without advancing.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Moves the value (not the level) somewhere else, e.g. back to a low value after a process restart.
    pub fn jump_to(&mut self, value: f64) {
        self.value = value.clamp(self.min, self.max);
    }
}

/// The standard normal cumulative distribution function, through the Abramowitz–Stegun 7.1.26 approximation of
/// `erf` (absolute error below 1.5e-7, ample for splitting request counts into buckets).
pub fn standard_normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let sign = if z < 0.0 { -1.0 } else { 1.0 };
    let z = z.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let polynomial =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - polynomial * (-z * z).exp();
    0.5 * (1.0 + sign * erf)
}

/// Share of a log-normal distribution (given its median and the standard deviation of its logarithm) that is at
/// most `bound`.
pub fn lognormal_cdf(bound: f64, median: f64, log_sigma: f64) -> f64 {
    if bound <= 0.0 {
        return 0.0;
    }
    if bound.is_infinite() {
        return 1.0;
    }
    standard_normal_cdf((bound / median).ln() / log_sigma)
}

/// Mean of a log-normal distribution given its median and the standard deviation of its logarithm.
pub fn lognormal_mean(median: f64, log_sigma: f64) -> f64 {
    median * (log_sigma * log_sigma / 2.0).exp()
}

/// Cumulative counts of a classic Prometheus histogram for one scrape's worth of `observations`, drawn from a
/// log-normal latency distribution: `counts[i]` is the number of observations `<= bounds[i]`. The same uniform
/// offset is used for every bucket, which keeps the counts cumulative (non-decreasing in `i`).
pub fn lognormal_bucket_increments(
    rng: &mut StdRng,
    observations: u64,
    bounds: &[f64],
    median: f64,
    log_sigma: f64,
    counts: &mut [u64],
) {
    debug_assert_eq!(bounds.len(), counts.len());
    let offset: f64 = rng.random();
    let total = observations as f64;
    for (count, &bound) in counts.iter_mut().zip(bounds) {
        let share = lognormal_cdf(bound, median, log_sigma);
        *count = ((total * share + offset).floor() as u64).min(observations);
    }
}

/// 64-bit FNV-1a: a stable hash (unlike `std`'s, which may change between Rust releases), used to shard series
/// and to derive per-target seeds and jitter.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in *part {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separate the parts so that ("ab", "c") and ("a", "bc") hash differently.
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn normal_cdf_matches_known_points() {
        let f = |x: f64, want: f64| {
            let got = standard_normal_cdf(x);
            assert!((got - want).abs() < 1e-6, "cdf({x}) = {got}, want {want}");
        };
        f(0.0, 0.5);
        f(1.0, 0.841_344_7);
        f(-1.0, 0.158_655_3);
        f(2.0, 0.977_249_9);
        f(-3.0, 0.001_349_9);
    }

    #[test]
    fn bucket_increments_are_cumulative_and_bounded() {
        let mut rng = StdRng::seed_from_u64(7);
        let bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, f64::INFINITY];
        let mut counts = [0u64; 12];
        for observations in [0u64, 1, 17, 1000, 123_456] {
            lognormal_bucket_increments(&mut rng, observations, &bounds, 0.08, 0.9, &mut counts);
            assert!(counts.windows(2).all(|pair| pair[0] <= pair[1]), "{counts:?}");
            assert_eq!(counts[11], observations);
        }
    }

    #[test]
    fn poisson_mean_is_close() {
        let mut rng = StdRng::seed_from_u64(1);
        for mean in [0.5, 4.0, 25.0, 400.0] {
            let draws = 20_000;
            let total: u64 = (0..draws).map(|_| poisson(&mut rng, mean)).sum();
            let observed = total as f64 / f64::from(draws);
            assert!((observed - mean).abs() < mean.sqrt() * 0.1 + 0.05, "mean {mean}: observed {observed}");
        }
    }

    #[test]
    fn walk_stays_in_bounds() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut walk = MeanRevertingWalk::new(0.5, 0.1, 0.3, 0.0, 1.0);
        for _ in 0..10_000 {
            let value = walk.step(&mut rng);
            assert!((0.0..=1.0).contains(&value));
        }
    }

    #[test]
    fn fnv_separates_parts() {
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
        assert_eq!(fnv1a(&[b"x"]), fnv1a(&[b"x"]));
    }
}
