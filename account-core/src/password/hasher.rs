//! Argon2id password hashing, off the async workers.
//!
//! A hash takes tens of milliseconds of CPU and about 19 MiB of memory on purpose, which
//! would stall every other request sharing an async worker thread. So each hash and each
//! verification runs on tokio's blocking pool, and a semaphore caps how many run at once.
//! Beyond those, only a bounded number wait for a turn: a hash asked for when that queue
//! is full is refused at once ([`HashError::Busy`], which a login answers with 429 and
//! `Retry-After`), so that a flood of logins neither queues without bound nor starves the
//! rest of the application (DESIGN.md, "Performance targets").
//!
//! argon2's working memory (19 MiB at the default cost) is not allocated per hash: a pool
//! keeps one area per permit and lends it to each job in turn, so the hashing memory stays
//! at `max_concurrent` areas however many logins arrive, and the allocator never holds on
//! to freed areas.
//!
//! Hashes are stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), which
//! carry their own parameters: a hash made under an older, weaker policy still verifies,
//! and [`Verification::Valid`] says when it should be replaced (SECURITY.md A1, A2).

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

use std::sync::{Mutex, PoisonError};

use argon2::password_hash::phc;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, Semaphore};

use crate::blocking::{BoundedWork, Refused};
use zeroize::{Zeroize as _, Zeroizing};

use crate::domain::Password;
use crate::random::{SecureRandom, bytes};

/// The largest password accepted, in bytes (1 KiB).
///
/// Anything larger is refused before any hashing, so a megabyte-long "password" costs a
/// length comparison and not a trip through argon2 (SECURITY.md A4). The policy's
/// longest password, 256 code points of at most 4 bytes each, fits exactly.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The salt length in bytes: 128 bits, the PHC recommendation and four times the
/// 32-bit minimum of SECURITY.md A1.
const SALT_LEN: usize = 16;

/// The argon2id cost parameters and how many hashes may run at once.
///
/// The default is the OWASP minimum for argon2id (m = 19456 KiB, t = 2, p = 1) with as
/// many concurrent hashes as half the machine's cores (at least one), and twice as many
/// waiting.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct HashingConfig {
    /// Memory cost in KiB (argon2's `m`).
    pub memory_kib: u32,
    /// Number of passes over the memory (argon2's `t`).
    pub iterations: u32,
    /// Degree of parallelism, in lanes (argon2's `p`).
    pub parallelism: u32,
    /// How many hashes or verifications may run at the same time; further ones wait for
    /// a turn. Zero is read as one, since no hash could ever run otherwise.
    pub max_concurrent: usize,
    /// How many more may wait for a turn. A hash asked for beyond that is refused at once
    /// with [`HashError::Busy`] rather than queued.
    pub max_waiting: usize,
}

impl Default for HashingConfig {
    fn default() -> Self {
        // Twice the cores keeps every core busy while some hashes wait for their thread to
        // be scheduled, and still bounds memory at 2 × cores × 19 MiB.
        // Hashing may take half the machine: the other half keeps answering every other
        // request during a flood of logins. Twice as many may wait as run: a login that
        // would wait longer than two hashes' time is better told to come back.
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let concurrent = (cores / 2).max(1);
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
            max_concurrent: concurrent,
            max_waiting: concurrent.saturating_mul(2),
        }
    }
}

impl HashingConfig {
    /// Cheap parameters (m = 64 KiB, t = 1, p = 1) so that tests hash in microseconds.
    ///
    /// They protect nothing: never use them outside tests.
    #[cfg(any(test, feature = "testing"))]
    pub fn insecure_for_tests() -> Self {
        Self {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 4,
            max_waiting: 1024,
        }
    }

    /// The argon2 parameters, or why they are not valid.
    fn params(&self) -> Result<Params, argon2::Error> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
    }
}

/// A password hash as stored: an argon2 PHC string.
///
/// `Debug` prints only the algorithm and the cost parameters, never the salt or the hash:
/// a hash is not the password, but a leaked one can be attacked offline.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read back from a store. Nothing is checked here: a string that
    /// does not parse makes [`PasswordHasher::verify`] fail with [`HashError::Malformed`].
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for a store to keep.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(parsed) = phc::PasswordHash::new(&self.0) else {
            return f.write_str("PasswordHash(unparsable)");
        };
        write!(f, "PasswordHash({}", parsed.algorithm)?;
        for name in ["m", "t", "p"] {
            if let Some(value) = parsed.params.get_decimal(name) {
                write!(f, " {name}={value}")?;
            }
        }
        f.write_str(")")
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password does not match.
    Invalid,
    /// The password matches.
    Valid {
        /// The stored hash is weaker than the configured policy (not argon2id, an older
        /// argon2 version, or any of m, t, p below the configuration): hash the password
        /// again now, while it is at hand, and store the new hash (SECURITY.md A2).
        needs_rehash: bool,
    },
}

impl Verification {
    /// Whether the password matched.
    pub fn is_valid(self) -> bool {
        matches!(self, Verification::Valid { .. })
    }
}

/// Hashing or verifying could not be done. No variant carries the password.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The password is larger than [`MAX_PASSWORD_BYTES`]; nothing was hashed.
    #[error("the password is longer than {max} bytes")]
    TooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// The stored hash is not an argon2 PHC string that can be verified.
    #[error("the stored password hash is not a valid argon2 PHC string")]
    Malformed,
    /// Every hasher is busy and the queue for a turn is full: try again in a moment. Nothing
    /// was hashed.
    #[error("every password hasher is busy; try again in a moment")]
    Busy,
    /// The hashing machinery failed (invalid configuration, a panic in the hashing task,
    /// memory exhausted). The text describes the failure, never the input.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

impl HashError {
    /// A stable code such as `password_too_large`, for clients and logs to match on.
    pub fn code(&self) -> &'static str {
        match self {
            HashError::TooLarge { .. } => "password_too_large",
            HashError::Malformed => "password_hash_malformed",
            HashError::Busy => "password_hashers_busy",
            HashError::Internal(_) => "password_hash_failed",
        }
    }
}

/// A test hook, called on the thread that runs each hashing job just before the job;
/// what it returns is dropped just after the job, before the job's permit is released.
#[cfg(test)]
pub(crate) type Probe = Arc<dyn Fn() -> Box<dyn std::any::Any + Send> + Send + Sync>;

/// Hashes and verifies passwords with argon2id, on the blocking pool, a bounded number at
/// a time.
///
/// Cloning is cheap and clones share the concurrency limit: make one per application.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    config: HashingConfig,
    /// The parsed configuration; an invalid one fails every hash with
    /// [`HashError::Internal`] (and is logged once, at construction).
    params: Result<Params, argon2::Error>,
    rng: Arc<dyn SecureRandom>,
    /// `max_concurrent` jobs running, `max_waiting` more waiting.
    work: BoundedWork,
    /// argon2's working memory, lent to one job at a time.
    memory: Arc<MemoryPool>,
    /// The hash [`PasswordHasher::dummy_verify`] checks against, made on first use.
    dummy: OnceCell<PasswordHash>,
    #[cfg(test)]
    probe: Option<Probe>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("config", &self.inner.config)
            .field("available_permits", &self.inner.work.free())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with the given costs, taking salts from `rng`.
    pub fn new(config: HashingConfig, rng: Arc<dyn SecureRandom>) -> Self {
        Self::build(
            config,
            rng,
            #[cfg(test)]
            None,
        )
    }

    /// A hasher that calls `probe` around every job it runs on the blocking pool.
    #[cfg(test)]
    pub(crate) fn with_probe(
        config: HashingConfig,
        rng: Arc<dyn SecureRandom>,
        probe: Probe,
    ) -> Self {
        Self::build(config, rng, Some(probe))
    }

    fn build(
        config: HashingConfig,
        rng: Arc<dyn SecureRandom>,
        #[cfg(test)] probe: Option<Probe>,
    ) -> Self {
        let params = config.params();
        if let Err(e) = &params {
            tracing::error!(error = %e, ?config, "invalid argon2 parameters: every password hash will fail");
        }
        let permits = config.max_concurrent.clamp(1, Semaphore::MAX_PERMITS);
        let work = BoundedWork::new(permits, config.max_waiting);
        let blocks = params.as_ref().map_or(0, Params::block_count);
        Self {
            inner: Arc::new(Inner {
                config,
                params,
                rng,
                work,
                memory: Arc::new(MemoryPool::new(blocks, permits)),
                dummy: OnceCell::new(),
                #[cfg(test)]
                probe,
            }),
        }
    }

    /// The configuration this hasher was made with.
    pub fn config(&self) -> &HashingConfig {
        &self.inner.config
    }

    /// Whether a hash asked for now would be taken (run, or queued for a turn) rather than
    /// refused with [`HashError::Busy`]. A hint for refusing early, before any other work:
    /// the answer may change at once.
    pub fn has_room(&self) -> bool {
        self.inner.work.has_room()
    }

    /// The bytes of argon2 working memory the hasher keeps for its next jobs (at most
    /// `max_concurrent` areas of `memory_kib` KiB), not counting the areas in use.
    pub fn pooled_memory_bytes(&self) -> usize {
        self.inner.memory.kept_bytes()
    }

    /// Hashes a password with argon2id, the configured costs and a fresh 16-byte salt.
    ///
    /// # Errors
    ///
    /// [`HashError::TooLarge`] for a password over [`MAX_PASSWORD_BYTES`], before any
    /// work; [`HashError::Internal`] when the configuration is invalid or the hashing task
    /// fails.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        refuse_oversized(password)?;
        let params = self.inner.params.clone().map_err(|e| {
            HashError::Internal(format!(
                "invalid argon2 parameters in the configuration: {e}"
            ))
        })?;
        let salt: [u8; SALT_LEN] = bytes(&*self.inner.rng);
        // The copy that crosses to the blocking thread is wiped when the job drops it.
        let secret = Zeroizing::new(password.expose().as_bytes().to_vec());
        let memory = Arc::clone(&self.inner.memory);
        let phc = self
            .run(move || {
                let failed = |e: &dyn fmt::Display| {
                    HashError::Internal(format!("argon2id hashing failed: {e}"))
                };
                let output = memory.run(
                    &Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
                    &secret,
                    &salt,
                    params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN),
                )?;
                let phc = phc::PasswordHash {
                    algorithm: Algorithm::Argon2id.ident(),
                    version: Some(Version::V0x13.into()),
                    params: phc::ParamsString::try_from(&params).map_err(|e| failed(&e))?,
                    salt: Some(phc::Salt::new(&salt).map_err(|e| failed(&e))?),
                    hash: Some(output),
                };
                Ok::<_, HashError>(phc.to_string())
            })
            .await??;
        Ok(PasswordHash(phc))
    }

    /// Checks a password against a stored hash, with the parameters the hash carries.
    ///
    /// # Errors
    ///
    /// [`HashError::TooLarge`] for a password over [`MAX_PASSWORD_BYTES`], before any
    /// work; [`HashError::Malformed`] when the stored string is not an argon2 PHC string
    /// with valid parameters, a salt and a hash; [`HashError::Internal`] when the hashing
    /// task fails.
    pub async fn verify(
        &self,
        password: &Password,
        hash: &PasswordHash,
    ) -> Result<Verification, HashError> {
        refuse_oversized(password)?;
        let stored = StoredHash::parse(hash)?;
        if stored.beyond_ceiling(&self.inner.config) {
            // A corrupted or planted row must not make one login allocate gigabytes.
            return Err(HashError::Malformed);
        }
        let needs_rehash = stored.below(&self.inner.config);
        let secret = Zeroizing::new(password.expose().as_bytes().to_vec());
        let memory = Arc::clone(&self.inner.memory);
        let matched = self
            .run(move || {
                // The algorithm, version and costs are the stored hash's own.
                let (Some(salt), Some(expected)) = (&stored.phc.salt, &stored.phc.hash) else {
                    return Err(HashError::Malformed);
                };
                let version = match stored.version {
                    Some(v) => Version::try_from(v).map_err(|_| HashError::Malformed)?,
                    None => Version::default(),
                };
                let argon2 = Argon2::new(stored.algorithm, version, stored.params.clone());
                let output = memory.run(&argon2, &secret, salt.as_ref(), expected.len())?;
                // `Output`'s equality is constant-time.
                Ok(output == *expected)
            })
            .await??;
        Ok(if matched {
            Verification::Valid { needs_rehash }
        } else {
            Verification::Invalid
        })
    }

    /// Costs one verification against a hash made once (lazily, with the configured
    /// params) of a random password, result discarded; used for unknown users so timing
    /// does not reveal them (SECURITY.md C12).
    ///
    /// The very first call makes that hash instead of verifying against it, which costs
    /// the same single argon2id run, so even the first unknown user looks like a known
    /// one. An oversized password returns at once, as [`PasswordHasher::verify`] does.
    ///
    /// # Errors
    ///
    /// Only [`HashError::Busy`], as a real verification would answer then; any other
    /// failure is logged, since nothing depends on the outcome.
    pub async fn dummy_verify(&self, password: &Password) -> Result<(), HashError> {
        if password.byte_len() > MAX_PASSWORD_BYTES {
            return Ok(());
        }
        let mut made_now = false;
        let dummy = self
            .inner
            .dummy
            .get_or_try_init(|| {
                made_now = true;
                self.make_dummy()
            })
            .await;
        let outcome = match dummy {
            // The outcome is meaningless by construction; only the time spent matters.
            Ok(hash) if !made_now => self.verify(password, hash).await.map(|_| ()),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        match outcome {
            Err(HashError::Busy) => Err(HashError::Busy),
            Err(e) => {
                tracing::warn!(error = %e, "could not spend the dummy password verification");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// A hash of 256 random bits, which no one can log in with.
    async fn make_dummy(&self) -> Result<PasswordHash, HashError> {
        let mut raw: [u8; 32] = bytes(&*self.inner.rng);
        let password = Password::new(hex::encode(raw));
        raw.zeroize();
        self.hash(&password).await
    }

    /// Runs `job` on the blocking pool once a permit is free, or refuses it at once with
    /// [`HashError::Busy`] when the queue for permits is full.
    async fn run<T, F>(&self, job: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        #[cfg(test)]
        let probe = self.inner.probe.clone();
        let job = move || {
            // Held while the job runs, and dropped before its turn is given back.
            #[cfg(test)]
            let _probe = probe.as_ref().map(|probe| probe());
            job()
        };
        self.inner
            .work
            .run(job)
            .await
            .map_err(|refused| match refused {
                Refused::Busy => HashError::Busy,
                Refused::Failed(what) => HashError::Internal(format!("the hashing task {what}")),
            })
    }
}

/// Refuses a password over [`MAX_PASSWORD_BYTES`].
fn refuse_oversized(password: &Password) -> Result<(), HashError> {
    if password.byte_len() > MAX_PASSWORD_BYTES {
        Err(HashError::TooLarge {
            max: MAX_PASSWORD_BYTES,
        })
    } else {
        Ok(())
    }
}

/// argon2's working memory: areas of the configured size, each lent to one job at a time
/// and kept for the next instead of freed. At most `keep` (the number of permits) are
/// kept, and no more are ever in use at once, so hashing never holds more memory than
/// that however many logins arrive. A stored hash with a larger memory cost than the
/// configuration (one made under an earlier, costlier setting) gets an area of its own,
/// freed after the job.
///
/// An area is reused as the last job left it: argon2 writes every block of its first pass
/// before reading it, so nothing of the previous hash reaches the next. When a job ends
/// with no other job running or waiting, the pool keeps one area and frees the rest, so
/// that the memory a flood of logins took falls back once the flood is over.
struct MemoryPool {
    areas: Mutex<Vec<Vec<Block>>>,
    blocks: usize,
    keep: usize,
    /// Jobs running now.
    jobs: std::sync::atomic::AtomicUsize,
}

impl MemoryPool {
    fn new(blocks: usize, keep: usize) -> Self {
        Self {
            areas: Mutex::new(Vec::new()),
            blocks,
            keep,
            jobs: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The areas kept now.
    fn areas(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
        self.areas.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `argon2` over `secret` and `salt` into an output of `len` bytes, in an area of
    /// the pool.
    fn run(
        &self,
        argon2: &Argon2<'_>,
        secret: &[u8],
        salt: &[u8],
        len: usize,
    ) -> Result<phc::Output, HashError> {
        self.jobs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let result = self.run_in_area(argon2, secret, salt, len);
        if self.jobs.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            // The last job out: nothing runs now, so keep one area for the next login.
            let mut areas = self.areas();
            areas.truncate(1);
        }
        result
    }

    fn run_in_area(
        &self,
        argon2: &Argon2<'_>,
        secret: &[u8],
        salt: &[u8],
        len: usize,
    ) -> Result<phc::Output, HashError> {
        let needed = argon2.params().block_count();
        let pooled = needed <= self.blocks;
        let taken = if pooled { self.areas().pop() } else { None };
        let mut area = taken.unwrap_or_else(|| vec![Block::default(); needed.max(self.blocks)]);
        let mut out = Zeroizing::new([0u8; phc::Output::MAX_LENGTH]);
        let filled = out
            .get_mut(..len)
            .ok_or(HashError::Malformed)
            .and_then(|out| {
                argon2
                    .hash_password_into_with_memory(secret, salt, out, &mut area[..])
                    .map_err(|e| match e {
                        argon2::Error::OutputTooShort
                        | argon2::Error::OutputTooLong
                        | argon2::Error::SaltTooShort
                        | argon2::Error::SaltTooLong => HashError::Malformed,
                        other => HashError::Internal(format!("argon2 failed: {other}")),
                    })
            });
        if pooled {
            let mut areas = self.areas();
            if areas.len() < self.keep {
                areas.push(area);
            }
        }
        filled?;
        phc::Output::new(&out[..len]).map_err(|_| HashError::Malformed)
    }

    /// The bytes of the areas kept now.
    fn kept_bytes(&self) -> usize {
        self.areas()
            .iter()
            .map(|area| area.len() * Block::SIZE)
            .sum()
    }
}

/// A stored PHC string, parsed and checked enough to be verified.
struct StoredHash {
    phc: phc::PasswordHash,
    algorithm: Algorithm,
    version: Option<u32>,
    params: Params,
}

impl StoredHash {
    /// Parses a stored hash; anything argon2 could not verify is [`HashError::Malformed`].
    fn parse(hash: &PasswordHash) -> Result<Self, HashError> {
        let phc = phc::PasswordHash::new(hash.as_phc()).map_err(|_| HashError::Malformed)?;
        let algorithm = Algorithm::new(phc.algorithm.as_str()).map_err(|_| HashError::Malformed)?;
        if let Some(version) = phc.version {
            Version::try_from(version).map_err(|_| HashError::Malformed)?;
        }
        // Without both, argon2 would call any password simply wrong, hiding the corruption.
        if phc.salt.is_none() || phc.hash.is_none() {
            return Err(HashError::Malformed);
        }
        let params = Params::try_from(&phc).map_err(|_| HashError::Malformed)?;
        Ok(Self {
            version: phc.version,
            phc,
            algorithm,
            params,
        })
    }

    /// Whether this hash asks for far more work than `config` does: more than four times
    /// the configured memory and iterations (and at least 256 MiB and 16 iterations are
    /// always allowed), or a parallelism above 16. Such a hash is refused, not verified.
    fn beyond_ceiling(&self, config: &HashingConfig) -> bool {
        let max_m = config.memory_kib.saturating_mul(4).max(256 * 1024);
        let max_t = config.iterations.saturating_mul(4).max(16);
        self.params.m_cost() > max_m || self.params.t_cost() > max_t || self.params.p_cost() > 16
    }

    /// Whether this hash is weaker than `config` asks for.
    fn below(&self, config: &HashingConfig) -> bool {
        self.algorithm != Algorithm::Argon2id
            || self.version != Some(u32::from(Version::V0x13))
            || self.params.m_cost() < config.memory_kib
            || self.params.t_cost() < config.iterations
            || self.params.p_cost() < config.parallelism
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread::ThreadId;
    use std::time::Duration;

    use argon2::PasswordHasher as _;

    use super::*;
    use crate::random::OsRandom;

    fn rng() -> Arc<dyn SecureRandom> {
        Arc::new(OsRandom)
    }

    fn fast() -> HashingConfig {
        HashingConfig::insecure_for_tests()
    }

    fn hasher(config: HashingConfig) -> PasswordHasher {
        PasswordHasher::new(config, rng())
    }

    /// Hashes `n` passwords at once, each on its own task, and waits for all of them.
    async fn hash_at_once(hasher: &PasswordHasher, n: usize) {
        let mut jobs = tokio::task::JoinSet::new();
        for i in 0..n {
            let hasher = hasher.clone();
            jobs.spawn(async move {
                hasher
                    .hash(&Password::new(format!("quartz-meadow-lantern-{i}")))
                    .await
            });
        }
        while let Some(done) = jobs.join_next().await {
            done.expect("task ends").expect("hashes");
        }
    }

    /// Counts the jobs that ran on the blocking pool, how many overlapped at most, and on
    /// which threads they ran.
    #[derive(Default)]
    struct Recorder {
        started: AtomicUsize,
        active: AtomicUsize,
        max_active: AtomicUsize,
        threads: Mutex<Vec<ThreadId>>,
        /// How long each job is held inside the probe, to widen any overlap.
        hold: Mutex<Duration>,
        /// While set, each job waits inside the probe until the test clears it.
        gate: std::sync::atomic::AtomicBool,
    }

    struct Leave(Arc<Recorder>);

    impl Drop for Leave {
        fn drop(&mut self) {
            self.0.active.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl Recorder {
        fn probe(self: &Arc<Self>) -> Probe {
            let me = Arc::clone(self);
            Arc::new(move || {
                me.started.fetch_add(1, Ordering::SeqCst);
                let now = me.active.fetch_add(1, Ordering::SeqCst) + 1;
                me.max_active.fetch_max(now, Ordering::SeqCst);
                me.threads
                    .lock()
                    .expect("not poisoned")
                    .push(std::thread::current().id());
                let hold = *me.hold.lock().expect("not poisoned");
                if !hold.is_zero() {
                    std::thread::sleep(hold);
                }
                // Bounded, so that a broken test fails instead of hanging.
                for _ in 0..10_000 {
                    if !me.gate.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Box::new(Leave(Arc::clone(&me)))
            })
        }

        fn started(&self) -> usize {
            self.started.load(Ordering::SeqCst)
        }
    }

    fn probed(config: HashingConfig) -> (PasswordHasher, Arc<Recorder>) {
        let recorder = Arc::new(Recorder::default());
        let hasher = PasswordHasher::with_probe(config, rng(), recorder.probe());
        (hasher, recorder)
    }

    #[tokio::test]
    async fn a1_phc_string_is_argon2id_with_policy_params_and_unique_salt() {
        let hasher = hasher(HashingConfig::default());
        let password = Password::new("correct horse battery staple");
        let first = hasher.hash(&password).await.expect("hashes");
        let second = hasher.hash(&password).await.expect("hashes");

        for hash in [&first, &second] {
            let parsed = phc::PasswordHash::new(hash.as_phc()).expect("a PHC string");
            assert_eq!(parsed.algorithm.as_str(), "argon2id");
            assert_eq!(parsed.version, Some(0x13));
            assert_eq!(parsed.params.get_decimal("m"), Some(19_456));
            assert_eq!(parsed.params.get_decimal("t"), Some(2));
            assert_eq!(parsed.params.get_decimal("p"), Some(1));
            let salt = parsed.salt.expect("a salt");
            assert_eq!(salt.len(), SALT_LEN);
            assert_eq!(parsed.hash.expect("an output").len(), 32);
        }
        assert_ne!(first, second, "the same password hashed twice must differ");
        let salt_of = |h: &PasswordHash| phc::PasswordHash::new(h.as_phc()).map(|p| p.salt);
        assert_ne!(salt_of(&first), salt_of(&second));
        assert_eq!(
            hasher.verify(&password, &first).await.expect("verifies"),
            Verification::Valid {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn default_config_is_the_owasp_minimum() {
        let config = HashingConfig::default();
        assert_eq!(
            (config.memory_kib, config.iterations, config.parallelism),
            (19_456, 2, 1)
        );
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        assert_eq!(config.max_concurrent, (cores / 2).max(1));
        assert_eq!(config.max_waiting, 2 * config.max_concurrent);
        let partial: HashingConfig =
            serde_json::from_str(r#"{"memory_kib": 47104, "iterations": 1}"#).expect("parses");
        assert_eq!(partial.memory_kib, 47_104);
        assert_eq!(partial.parallelism, 1);
    }

    #[tokio::test]
    async fn a_stored_hash_beyond_the_cost_ceiling_is_refused_unrun() {
        let h = hasher(fast());
        let good = h.hash(&Password::new("correct horse")).await.expect("hash");
        let huge = PasswordHash::from_phc(good.as_phc().replacen("m=64,", "m=4194304,", 1));
        assert_ne!(
            huge.as_phc(),
            good.as_phc(),
            "the test rewrote the memory cost"
        );
        assert!(matches!(
            h.verify(&Password::new("correct horse"), &huge).await,
            Err(HashError::Malformed)
        ));
        let slow = PasswordHash::from_phc(good.as_phc().replacen("t=1,", "t=1000,", 1));
        assert!(matches!(
            h.verify(&Password::new("correct horse"), &slow).await,
            Err(HashError::Malformed)
        ));
    }

    #[tokio::test]
    async fn a2_hash_below_policy_needs_rehash() {
        let password = Password::new("tarragon-ukulele-fjord");
        let weak = hasher(HashingConfig {
            memory_kib: 4096,
            ..HashingConfig::default()
        });
        let old = weak.hash(&password).await.expect("hashes");

        let policy = hasher(HashingConfig::default());
        assert_eq!(
            policy.verify(&password, &old).await.expect("verifies"),
            Verification::Valid { needs_rehash: true }
        );
        // Equal parameters: nothing to upgrade.
        assert_eq!(
            weak.verify(&password, &old).await.expect("verifies"),
            Verification::Valid {
                needs_rehash: false
            }
        );
        let upgraded = policy.hash(&password).await.expect("hashes");
        assert_eq!(
            policy.verify(&password, &upgraded).await.expect("verifies"),
            Verification::Valid {
                needs_rehash: false
            }
        );
        // A wrong password never asks for a rehash: there is nothing to hash.
        assert_eq!(
            policy
                .verify(&Password::new("tarragon-ukulele-fjorD"), &old)
                .await
                .expect("verifies"),
            Verification::Invalid
        );
    }

    #[tokio::test]
    async fn a2_each_weaker_param_or_algorithm_needs_rehash() {
        let password = Password::new("tarragon-ukulele-fjord");
        let made = hasher(fast()).hash(&password).await.expect("hashes");
        for stronger in [
            HashingConfig {
                memory_kib: 128,
                ..fast()
            },
            HashingConfig {
                iterations: 2,
                ..fast()
            },
            HashingConfig {
                parallelism: 2,
                ..fast()
            },
        ] {
            let verdict = hasher(stronger.clone()).verify(&password, &made).await;
            assert_eq!(
                verdict.expect("verifies"),
                Verification::Valid { needs_rehash: true },
                "{stronger:?}"
            );
        }

        // argon2i with the same costs verifies, but is replaced by argon2id.
        let params = fast().params().expect("valid");
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password_with_salt(password.expose().as_bytes(), b"sixteen byte sal")
            .expect("hashes")
            .to_string();
        assert!(argon2i.starts_with("$argon2i$"));
        assert_eq!(
            hasher(fast())
                .verify(&password, &PasswordHash::from_phc(argon2i))
                .await
                .expect("verifies"),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn a4_128_char_password_round_trips() {
        let hasher = hasher(fast());
        let password: String = "Ünïcødé-pässwörd-".chars().cycle().take(128).collect();
        assert_eq!(password.chars().count(), 128);
        let hash = hasher
            .hash(&Password::new(password.clone()))
            .await
            .expect("hashes");
        let check = |p: String| {
            let hasher = hasher.clone();
            let hash = hash.clone();
            async move {
                hasher
                    .verify(&Password::new(p), &hash)
                    .await
                    .expect("verifies")
            }
        };
        assert!(check(password.clone()).await.is_valid());
        // No truncation: the first 127 characters are a different password.
        assert_eq!(
            check(password.chars().take(127).collect()).await,
            Verification::Invalid
        );
        // No case change: the password is hashed exactly as typed.
        assert_eq!(check(password.to_lowercase()).await, Verification::Invalid);
    }

    #[tokio::test]
    async fn a4_one_mebibyte_password_refused_before_hashing() {
        let (hasher, recorder) = probed(fast());
        let huge = Password::new("a".repeat(1024 * 1024));
        let stored = hasher
            .hash(&Password::new("a reasonable one"))
            .await
            .expect("hashes");
        assert_eq!(recorder.started(), 1);

        assert!(matches!(
            hasher.hash(&huge).await,
            Err(HashError::TooLarge { max: 1024 })
        ));
        assert!(matches!(
            hasher.verify(&huge, &stored).await,
            Err(HashError::TooLarge { max: 1024 })
        ));
        hasher.dummy_verify(&huge).await.expect("a hasher is free");
        assert_eq!(recorder.started(), 1, "nothing more reached argon2");

        // The limit itself is allowed; one byte more is not.
        let limit = Password::new("é".repeat(MAX_PASSWORD_BYTES / 2));
        assert!(hasher.hash(&limit).await.is_ok());
        let over = Password::new(format!("{}a", "é".repeat(MAX_PASSWORD_BYTES / 2)));
        assert_eq!(
            hasher.hash(&over).await.map_err(|e| e.code()),
            Err("password_too_large")
        );
    }

    #[tokio::test]
    async fn wrong_password_is_invalid() {
        let hasher = hasher(fast());
        let hash = hasher
            .hash(&Password::new("quartz-meadow-lantern"))
            .await
            .expect("hashes");
        let verdict = hasher
            .verify(&Password::new("quartz-meadow-lanterN"), &hash)
            .await;
        assert_eq!(verdict.expect("verifies"), Verification::Invalid);
        let verdict = hasher.verify(&Password::new(""), &hash).await;
        assert_eq!(verdict.expect("verifies"), Verification::Invalid);
    }

    #[tokio::test]
    async fn malformed_phc_is_an_error() {
        let hasher = hasher(fast());
        let good = hasher
            .hash(&Password::new("quartz-meadow-lantern"))
            .await
            .expect("hashes");
        let (head, output) = good.as_phc().rsplit_once('$').expect("has an output");
        let (_, salt) = head.rsplit_once('$').expect("has a salt");
        let cases = [
            String::new(),
            "not a hash".to_owned(),
            "$argon2id".to_owned(),
            // Parameters but no salt and no output.
            "$argon2id$v=19$m=64,t=1,p=1".to_owned(),
            // A salt but no output.
            format!("$argon2id$v=19$m=64,t=1,p=1${salt}"),
            // Not an argon2 algorithm.
            format!("$scrypt$ln=15,r=8,p=1${salt}${output}"),
            // An argon2 version that does not exist.
            format!("$argon2id$v=42$m=64,t=1,p=1${salt}${output}"),
            // Costs argon2 refuses: less than 8 KiB of memory, zero passes.
            format!("$argon2id$v=19$m=1,t=1,p=1${salt}${output}"),
            format!("$argon2id$v=19$m=64,t=0,p=1${salt}${output}"),
            format!("$argon2id$v=19$m=64,t=one,p=1${salt}${output}"),
            // Output that is not base64.
            format!("$argon2id$v=19$m=64,t=1,p=1${salt}$!!!!"),
            format!("{}$extra", good.as_phc()),
        ];
        for case in cases {
            let verdict = hasher
                .verify(
                    &Password::new("quartz-meadow-lantern"),
                    &PasswordHash::from_phc(case.clone()),
                )
                .await;
            assert!(
                matches!(verdict, Err(HashError::Malformed)),
                "{case:?} gave {verdict:?}"
            );
        }
        assert_eq!(HashError::Malformed.code(), "password_hash_malformed");
    }

    #[tokio::test]
    async fn debug_shows_neither_the_hash_nor_the_password() {
        let hasher = hasher(fast());
        let password = Password::new("quartz-meadow-lantern");
        let hash = hasher.hash(&password).await.expect("hashes");
        let shown = format!("{hash:?}");
        assert_eq!(shown, "PasswordHash(argon2id m=64 t=1 p=1)");
        let (head, output) = hash.as_phc().rsplit_once('$').expect("has an output");
        let (_, salt) = head.rsplit_once('$').expect("has a salt");
        assert!(!shown.contains(output) && !shown.contains(salt));
        assert_eq!(
            format!("{:?}", PasswordHash::from_phc("garbage".into())),
            "PasswordHash(unparsable)"
        );

        hasher
            .dummy_verify(&password)
            .await
            .expect("a hasher is free");
        let everything = format!(
            "{password:?} {hasher:?} {:?} {:?}",
            Verification::Invalid,
            HashError::TooLarge { max: 1 }
        );
        assert!(!everything.contains(password.expose()));
        assert!(!everything.contains(output));
        assert!(everything.contains("Password(***)"));
    }

    #[tokio::test]
    async fn hashing_runs_on_the_blocking_pool_not_the_async_worker() {
        // `#[tokio::test]` is a current-thread runtime: its only worker is this thread.
        let worker = std::thread::current().id();
        let (hasher, recorder) = probed(fast());
        let password = Password::new("quartz-meadow-lantern");
        let hash = hasher.hash(&password).await.expect("hashes");
        hasher.verify(&password, &hash).await.expect("verifies");
        hasher
            .dummy_verify(&password)
            .await
            .expect("a hasher is free"); // makes the dummy hash
        hasher
            .dummy_verify(&password)
            .await
            .expect("a hasher is free"); // verifies against it

        let threads = recorder.threads.lock().expect("not poisoned").clone();
        assert_eq!(threads.len(), 4);
        assert!(
            threads.iter().all(|&t| t != worker),
            "a hash ran on the async worker"
        );
    }

    #[tokio::test]
    async fn the_worker_stays_free_while_a_hash_runs() {
        let (hasher, recorder) = probed(fast());
        *recorder.hold.lock().expect("not poisoned") = Duration::from_millis(50);
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = Arc::clone(&ticks);
            let recorder = Arc::clone(&recorder);
            tokio::spawn(async move {
                // Count the turns this task gets while the hash is running: on a single
                // worker thread it gets any only if the hash runs somewhere else.
                while recorder.started() == 0 || recorder.active.load(Ordering::SeqCst) > 0 {
                    if recorder.active.load(Ordering::SeqCst) > 0 {
                        ticks.fetch_add(1, Ordering::SeqCst);
                    }
                    tokio::task::yield_now().await;
                }
            })
        };
        hasher
            .hash(&Password::new("quartz-meadow-lantern"))
            .await
            .expect("hashes");
        ticker.await.expect("ticker ends");
        assert!(ticks.load(Ordering::SeqCst) > 0);
    }

    #[tokio::test]
    async fn max_concurrent_bounds_parallel_hashes() {
        for limit in [1, 2] {
            let (hasher, recorder) = probed(HashingConfig {
                max_concurrent: limit,
                ..fast()
            });
            // Holding each job a little makes any overlap the limit failed to prevent
            // very likely to be seen; the assertion itself does not depend on timing.
            *recorder.hold.lock().expect("not poisoned") = Duration::from_millis(10);
            hash_at_once(&hasher, 6).await;
            assert_eq!(recorder.started(), 6);
            let max = recorder.max_active.load(Ordering::SeqCst);
            assert!(
                max <= limit,
                "{max} hashes overlapped with a limit of {limit}"
            );
        }
    }

    #[tokio::test]
    async fn a_cancelled_hash_keeps_its_permit_until_it_ends() {
        let (hasher, recorder) = probed(HashingConfig {
            max_concurrent: 1,
            ..fast()
        });
        recorder.gate.store(true, Ordering::SeqCst);
        let first = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash(&Password::new("first-password")).await })
        };
        while recorder.started() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The caller gives up while its job is held on the blocking pool.
        first.abort();
        assert!(first.await.is_err_and(|e| e.is_cancelled()));
        let second = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash(&Password::new("second-password")).await })
        };
        // Give the second hash every chance to start: it must not, as the abandoned
        // job still holds the only permit.
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(recorder.started(), 1);
        recorder.gate.store(false, Ordering::SeqCst);
        second.await.expect("task ends").expect("hashes");
        assert_eq!(recorder.started(), 2);
        assert_eq!(recorder.max_active.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn dummy_verify_costs_one_run_each_time() {
        let (hasher, recorder) = probed(fast());
        let password = Password::new("nobody-has-this-account");
        hasher
            .dummy_verify(&password)
            .await
            .expect("a hasher is free");
        assert_eq!(recorder.started(), 1, "the first call makes the dummy hash");
        hasher
            .dummy_verify(&password)
            .await
            .expect("a hasher is free");
        assert_eq!(recorder.started(), 2, "later calls verify against it");
        hasher
            .clone()
            .dummy_verify(&password)
            .await
            .expect("a hasher is free");
        assert_eq!(recorder.started(), 3, "clones share the dummy hash");
    }

    #[tokio::test]
    async fn invalid_costs_fail_as_internal_errors_and_zero_permits_means_one() {
        let broken = hasher(HashingConfig {
            memory_kib: 1,
            ..fast()
        });
        let outcome = broken.hash(&Password::new("quartz-meadow-lantern")).await;
        assert!(
            matches!(outcome, Err(HashError::Internal(_))),
            "{outcome:?}"
        );
        assert_eq!(outcome.map_err(|e| e.code()), Err("password_hash_failed"));
        // Must not wait forever for a permit that can never exist.
        let one = hasher(HashingConfig {
            max_concurrent: 0,
            ..fast()
        });
        assert!(
            one.hash(&Password::new("quartz-meadow-lantern"))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_hash_beyond_the_queue_is_refused_at_once() {
        let (hasher, recorder) = probed(HashingConfig {
            max_concurrent: 1,
            max_waiting: 1,
            ..fast()
        });
        recorder.gate.store(true, Ordering::SeqCst);
        let spawn = |name: &'static str| {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash(&Password::new(name)).await })
        };
        let running = spawn("the-first-password");
        while recorder.started() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let waiting = spawn("the-second-password");
        // Let the second take its place in the queue.
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The third finds the one hasher busy and the one place in the queue taken: it is
        // refused without waiting, and nothing was hashed for it.
        let refused = hasher.hash(&Password::new("the-third-password")).await;
        assert!(matches!(refused, Err(HashError::Busy)), "{refused:?}");
        assert_eq!(refused.map_err(|e| e.code()), Err("password_hashers_busy"));
        let wrong = PasswordHash::from_phc(
            "$argon2id$v=19$m=64,t=1,p=1$c2l4dGVlbiBieXRlIHNhbHQ$ZW1wdHllbXB0eWVtcHR5ZW1wdHllbXB0eWVtcHQ"
                .to_owned(),
        );
        assert!(matches!(
            hasher.verify(&Password::new("anything"), &wrong).await,
            Err(HashError::Busy)
        ));
        assert!(matches!(
            hasher.dummy_verify(&Password::new("anything")).await,
            Err(HashError::Busy)
        ));
        assert_eq!(recorder.started(), 1);

        recorder.gate.store(false, Ordering::SeqCst);
        running.await.expect("task ends").expect("hashes");
        waiting.await.expect("task ends").expect("hashes");
        // With the queue empty again, hashes are taken.
        hasher
            .hash(&Password::new("the-fourth-password"))
            .await
            .expect("hashes");
    }

    #[tokio::test]
    async fn argon2_memory_is_pooled_one_area_per_permit() {
        let config = HashingConfig {
            memory_kib: 1024,
            max_concurrent: 2,
            ..fast()
        };
        let area = 1024 * 1024;
        let hasher = hasher(config);
        assert_eq!(
            hasher.pooled_memory_bytes(),
            0,
            "areas are made on first use"
        );
        let password = Password::new("quartz-meadow-lantern");
        let hash = hasher.hash(&password).await.expect("hashes");
        assert_eq!(hasher.pooled_memory_bytes(), area);
        for _ in 0..5 {
            hasher.verify(&password, &hash).await.expect("verifies");
        }
        assert_eq!(
            hasher.pooled_memory_bytes(),
            area,
            "one hash after another reuses the one area"
        );
        hash_at_once(&hasher, 8).await;
        assert_eq!(
            hasher.pooled_memory_bytes(),
            area,
            "once the burst is over, one area is kept and the rest freed"
        );
        // A stored hash costlier than the configuration gets its own area, not kept.
        let costly = PasswordHasher::new(
            HashingConfig {
                memory_kib: 2048,
                ..fast()
            },
            rng(),
        )
        .hash(&password)
        .await
        .expect("hashes");
        let before = hasher.pooled_memory_bytes();
        assert!(
            hasher
                .verify(&password, &costly)
                .await
                .expect("verifies")
                .is_valid()
        );
        assert_eq!(hasher.pooled_memory_bytes(), before);
    }

    #[tokio::test]
    async fn pooled_hashes_are_standard_argon2id() {
        use argon2::PasswordVerifier as _;

        let hasher = hasher(fast());
        let password = Password::new("quartz-meadow-lantern");
        let hash = hasher.hash(&password).await.expect("hashes");
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        // The argon2 crate's own verifier accepts it, and refuses another password.
        let parsed = phc::PasswordHash::new(hash.as_phc()).expect("a PHC string");
        assert!(
            Argon2::default()
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"another password", &parsed)
                .is_err()
        );
        // And a hash the crate made verifies here.
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            fast().params().expect("valid"),
        )
        .hash_password_with_salt(password.expose().as_bytes(), b"sixteen byte sal")
        .expect("hashes")
        .to_string();
        let theirs = PasswordHash::from_phc(theirs);
        assert!(
            hasher
                .verify(&password, &theirs)
                .await
                .expect("verifies")
                .is_valid()
        );
        assert_eq!(
            hasher
                .verify(&Password::new("another password"), &theirs)
                .await
                .expect("verifies"),
            Verification::Invalid
        );
    }
}
