//! Passwords: argon2id hashing on the blocking pool, and the password policy.
