//! Benchmarks of the hot paths of account-core, with the in-memory store:
//!
//! - `session/authenticate`: validating a session token through the service (parse,
//!   digest, one store read, expiry check), next to `session/store_lookup`, the bare store
//!   read, as the baseline measured in the same run;
//! - `password/verify`: one argon2id verification with the default parameters
//!   (m=19456 KiB, t=2, p=1), through the blocking pool and its semaphore, next to
//!   `password/verify_inline`, the same verification called directly on the thread;
//! - `login/burst_of_32`: 32 logins at once with a wrong password for one account, with the
//!   default hashing (each costs one verification, `max_concurrent` at a time): their
//!   throughput, next to `password/verify` of the same run (the burst should take about
//!   32 / `max_concurrent` verifications' time). After it, the bench prints the hashing
//!   pool's memory: the bytes of argon2 memory kept, the number of areas (at most one per
//!   permit) and the process's resident memory before and after the bursts.
//!
//! Run with `cargo bench -p account-core --bench core`.

use std::hint::black_box;
use std::sync::Arc;

use account_core::domain::Password;
use account_core::mail::MemoryMailer;
use account_core::password::{HashingConfig, PasswordHasher};
use account_core::random::OsRandom;
use account_core::store::SessionStore;
use account_core::store::memory::MemoryStore;
use account_core::{AccountConfig, Accounts, LoginOutcome, RequestInfo, SignUp};
use criterion::{Criterion, criterion_group, criterion_main};

const PASSWORD: &str = "correct horse battery staple";

fn sessions(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = Arc::new(MemoryStore::new());
    let mut config = AccountConfig::new("https://accounts.example.com".parse().expect("url"));
    config.hashing = HashingConfig {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 2,
        max_waiting: 1024,
    };
    let accounts = Accounts::builder(store.clone(), Arc::new(MemoryMailer::new()), config).build();
    let info = RequestInfo::default();
    let token = rt.block_on(async {
        // A realistic store: a thousand accounts with a session each, and the one measured.
        for i in 0..1000 {
            let form = SignUp::parse(
                &format!("user{i}"),
                &format!("user{i}@example.com"),
                PASSWORD,
                None,
            )
            .expect("valid");
            accounts.sign_up(form, &info).await.expect("sign-up");
            let _ = accounts
                .login(&format!("user{i}"), &PASSWORD.into(), &info)
                .await
                .expect("login");
        }
        match accounts
            .login("user500", &PASSWORD.into(), &info)
            .await
            .expect("login")
        {
            LoginOutcome::SignedIn(s) => s.token,
            other => panic!("unexpected {other:?}"),
        }
    });
    let digest = token.digest();

    let mut group = c.benchmark_group("session");
    group.bench_function("store_lookup", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                store
                    .session_by_token(black_box(&digest))
                    .await
                    .expect("store"),
            )
        })
    });
    group.bench_function("authenticate", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                accounts
                    .authenticate(black_box(token.expose()))
                    .await
                    .expect("valid"),
            )
        })
    });
    group.finish();
}

fn passwords(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let hasher = PasswordHasher::new(HashingConfig::default(), Arc::new(OsRandom));
    let password = Password::new(PASSWORD);
    let hash = rt.block_on(hasher.hash(&password)).expect("hash");

    let mut group = c.benchmark_group("password");
    group.sample_size(20);
    group.bench_function("verify", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(hasher.verify(&password, &hash).await.expect("verify")) })
    });
    group.bench_function("verify_inline", |b| {
        use argon2::PasswordVerifier as _;
        let parsed = argon2::PasswordHash::new(hash.as_phc()).expect("phc");
        b.iter(|| {
            black_box(
                argon2::Argon2::default()
                    .verify_password(password.expose().as_bytes(), &parsed)
                    .is_ok(),
            )
        })
    });
    group.finish();
}

/// Resident memory of this process, in MiB, from `/proc/self/status` (`VmRSS` or `VmHWM`).
fn memory_mib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn logins(c: &mut Criterion) {
    const BURST: usize = 32;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut config = AccountConfig::new("https://accounts.example.com".parse().expect("url"));
    // The default costs, and a queue long enough for the whole burst: this measures the
    // hashers' throughput, not their refusals.
    config.hashing.max_waiting = BURST;
    let hashing = config.hashing.clone();
    let store = Arc::new(MemoryStore::new());
    let accounts = Accounts::builder(store, Arc::new(MemoryMailer::new()), config).build();
    let info = RequestInfo::default();
    rt.block_on(async {
        let form = SignUp::parse("flooded", "flooded@example.com", PASSWORD, None).expect("valid");
        accounts.sign_up(form, &info).await.expect("sign-up");
    });
    let before = memory_mib("VmRSS:");

    let mut group = c.benchmark_group("login");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(BURST as u64));
    group.bench_function("burst_of_32", |b| {
        b.to_async(&rt).iter(|| {
            let accounts = accounts.clone();
            async move {
                let mut burst = tokio::task::JoinSet::new();
                for _ in 0..BURST {
                    let accounts = accounts.clone();
                    burst.spawn(async move {
                        let wrong = Password::new("not the password at all");
                        // Refused (wrong password, then throttled): either costs one
                        // verification.
                        let refused = accounts
                            .login("flooded", &wrong, &RequestInfo::default())
                            .await;
                        assert!(refused.is_err());
                    });
                }
                while let Some(done) = burst.join_next().await {
                    done.expect("a login task");
                }
            }
        })
    });
    group.finish();

    let pooled = accounts.password_hasher().pooled_memory_bytes();
    let area = usize::try_from(hashing.memory_kib).unwrap_or(usize::MAX) * 1024;
    println!(
        "hashing memory: {} MiB kept in {} areas of {} MiB (max_concurrent {}); \
         resident memory {} MiB before the bursts, {} MiB after, peak {} MiB",
        pooled >> 20,
        pooled / area.max(1),
        area >> 20,
        hashing.max_concurrent,
        before.unwrap_or(0),
        memory_mib("VmRSS:").unwrap_or(0),
        memory_mib("VmHWM:").unwrap_or(0),
    );
}

criterion_group!(benches, sessions, passwords, logins);
criterion_main!(benches);
