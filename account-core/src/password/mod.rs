//! Passwords: argon2id hashing on the blocking pool, and the password policy.
//!
//! - [`PasswordHasher`] turns a [`Password`](crate::domain::Password) into an argon2id
//!   PHC string and checks one against it, off the async workers and a bounded number at
//!   a time; it also says when a stored hash is below policy and should be replaced, and
//!   spends the time of a verification for unknown users.
//! - [`PasswordRules`] decides whether a new password is acceptable, and if not, gives a
//!   [`PasswordRejection`] with a stable reason code.
//! - [`common`] is the shipped list of common passwords the rules refuse.
//!
//! Both refuse anything larger than [`MAX_PASSWORD_BYTES`] before doing any work.

pub mod common;
pub mod hasher;
pub mod policy;

pub use hasher::{
    HashError, HashingConfig, MAX_PASSWORD_BYTES, PasswordHash, PasswordHasher, Verification,
};
pub use policy::{ContextWord, PasswordContext, PasswordRejection, PasswordRules};
