//! The heart of the account workspace: accounts, profiles, passwords, sessions and the
//! security log, with no database and no HTTP.

pub mod avatar;
pub mod clock;
pub mod device;
pub mod domain;
pub mod mail;
pub mod password;
pub mod random;
pub mod token;
