//! Randomness, injected.
//!
//! Every secret the library makes (tokens, salts, identifiers) comes from a
//! [`SecureRandom`]. Production uses the operating system's CSPRNG ([`OsRandom`]);
//! tests may use a seeded generator from the `testing` feature to make runs repeatable.

use std::fmt;

/// A cryptographically secure source of random bytes.
pub trait SecureRandom: Send + Sync + fmt::Debug + 'static {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&self, dest: &mut [u8]) {
        use rand::TryRngCore;
        // The OS generator fails only when the kernel cannot supply entropy at all, and no
        // secret may be made then: stopping is the only safe answer.
        #[allow(clippy::expect_used)]
        rand::rngs::OsRng
            .try_fill_bytes(dest)
            .expect("the operating system's random number generator failed");
    }
}

/// Random bytes of a fixed length.
pub(crate) fn bytes<const N: usize>(rng: &dyn SecureRandom) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill(&mut out);
    out
}

/// A seeded, repeatable generator for tests. Never use it outside tests: anyone who
/// knows the seed knows every secret it makes.
#[cfg(feature = "testing")]
#[derive(Debug)]
pub struct SeededRandom(std::sync::Mutex<rand_chacha::ChaCha20Rng>);

#[cfg(feature = "testing")]
impl SeededRandom {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Self(std::sync::Mutex::new(
            rand_chacha::ChaCha20Rng::seed_from_u64(seed),
        ))
    }
}

#[cfg(feature = "testing")]
impl SecureRandom for SeededRandom {
    fn fill(&self, dest: &mut [u8]) {
        use rand::RngCore;
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .fill_bytes(dest);
    }
}
