//! The starter server: the account API on a SQLite file with zero configuration.
//!
//! Once the HTTP adapter and the SQL store exist, `cargo run -p starter` will serve the
//! whole API on 127.0.0.1:8080 with a database under `./data` and mail written to
//! `./data/outbox/`. Until then this binary only says so.

fn main() {
    eprintln!(
        "the starter server needs account-axum and account-store-sqlx, which are not built yet; \
         run `cargo test --workspace` to exercise account-core"
    );
    std::process::exit(2);
}
