//! Seeded random draws for the generator.
//!
//! Each site draws from its own ChaCha-based `StdRng` (rand 0.10), seeded
//! from the run's seed and the site id, so adding a site leaves the other
//! sites' data unchanged. `StdRng`'s output is stable within a rand minor
//! version; a rand upgrade may change generated data for the same seed.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Above this mean a Poisson draw is split into parts, because the
/// product-of-uniforms method needs about `mean` uniforms and loses
/// precision for large means.
const POISSON_PART_MEAN: f64 = 30.0;

/// A site's random source.
#[derive(Debug)]
pub struct Draws {
    rng: StdRng,
}

impl Draws {
    /// Creates the source for `site` in a run seeded with `seed`.
    pub fn for_site(seed: u64, site: &str) -> Self {
        Draws {
            rng: StdRng::seed_from_u64(seed ^ fnv1a(site.as_bytes())),
        }
    }

    /// Draws a uniform value in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// Returns true with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Draws a uniform integer in `low..=high`.
    pub fn between(&mut self, low: u32, high: u32) -> u32 {
        if high <= low {
            return low;
        }
        self.rng.random_range(low..=high)
    }

    /// Draws a uniform index below `len`, which must be above zero.
    pub fn index(&mut self, len: usize) -> usize {
        self.rng.random_range(0..len)
    }

    /// Draws a Poisson-distributed count with mean `mean`.
    pub fn poisson(&mut self, mean: f64) -> u32 {
        if mean <= 0.0 {
            return 0;
        }
        let parts = (mean / POISSON_PART_MEAN).ceil().max(1.0);
        let part_mean = mean / parts;
        (0..parts as u32)
            .map(|_| self.poisson_small(part_mean))
            .sum()
    }

    /// Knuth's method: count uniforms until their product falls below
    /// e^-mean.
    fn poisson_small(&mut self, mean: f64) -> u32 {
        let limit = (-mean).exp();
        let mut product = self.unit();
        let mut count = 0;
        while product > limit {
            count += 1;
            product *= self.unit();
        }
        count
    }

    /// Draws `count` distinct indexes below `len`, sorted (partial
    /// Fisher-Yates).
    pub fn sample_indexes(&mut self, len: usize, count: usize) -> Vec<usize> {
        let mut pool: Vec<usize> = (0..len).collect();
        let count = count.min(len);
        for i in 0..count {
            let j = i + self.index(len - i);
            pool.swap(i, j);
        }
        let mut chosen = pool[..count].to_vec();
        chosen.sort_unstable();
        chosen
    }
}

/// The 64-bit FNV-1a hash, a fixed function (unlike std's hasher) so a
/// site's seed is the same on every platform and Rust version.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_mean_is_close() {
        let mut draws = Draws::for_site(7, "north");

        let total: u64 = (0..4000).map(|_| u64::from(draws.poisson(15.5))).sum();

        // The mean of 4,000 draws has a standard error of sqrt(15.5/4000),
        // about 0.06; 0.3 is five standard errors.
        let mean = total as f64 / 4000.0;
        assert!((mean - 15.5).abs() < 0.3, "mean {mean}");
    }

    #[test]
    fn large_mean_is_split() {
        let mut draws = Draws::for_site(7, "north");

        let total: u64 = (0..500).map(|_| u64::from(draws.poisson(200.0))).sum();

        // Standard error sqrt(200/500) ≈ 0.63; 3.2 is five of them.
        let mean = total as f64 / 500.0;
        assert!((mean - 200.0).abs() < 3.2, "mean {mean}");
    }

    #[test]
    fn sites_draw_independently() {
        let mut north = Draws::for_site(1, "north");
        let mut south = Draws::for_site(1, "south");

        assert_ne!(north.unit(), south.unit());
    }

    #[test]
    fn sample_indexes_are_distinct_and_sorted() {
        let mut draws = Draws::for_site(3, "north");

        let chosen = draws.sample_indexes(27, 18);

        assert_eq!(chosen.len(), 18);
        assert!(chosen.windows(2).all(|w| w[0] < w[1]));
        assert!(chosen.iter().all(|i| *i < 27));
    }

    #[test]
    fn fnv_matches_reference_value() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (published test vector).
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
