//! The diesel store migrates a database as the sqlx store does, on every backend: a
//! database migrated by either adapter is up to date for the other, and a changed or
//! unknown migration is refused by both.

use account_store_diesel::{DieselStore, SetupError};
use account_store_sqlx::testing::fresh_database;
use account_store_sqlx::{Backend, SqlStore};

async fn each_backend(check: impl AsyncFn(&str)) {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        // `None` when the backend's server is not configured (and never under CI).
        let Some(db) = fresh_database(backend).await else {
            continue;
        };
        check(db.url()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_migrated_by_diesel_is_up_to_date_for_sqlx_and_again_for_diesel() {
    each_backend(async |url| {
        let diesel = DieselStore::connect(url).await.expect("connects");
        diesel.migrate().await.expect("migrates a fresh database");
        diesel
            .migrate()
            .await
            .expect("a second run has nothing to do");
        let sqlx = SqlStore::connect(url).await.expect("sqlx connects");
        sqlx.migrate()
            .await
            .expect("sqlx accepts the migrations diesel recorded");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_migrated_by_sqlx_is_up_to_date_for_diesel() {
    each_backend(async |url| {
        let sqlx = SqlStore::connect(url).await.expect("sqlx connects");
        sqlx.migrate().await.expect("sqlx migrates");
        let diesel = DieselStore::connect(url).await.expect("connects");
        diesel
            .migrate()
            .await
            .expect("diesel accepts the migrations sqlx recorded");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_whose_text_changed_or_that_failed_is_refused() {
    use diesel::{Connection, connection::SimpleConnection};

    let db = fresh_database(Backend::Sqlite)
        .await
        .expect("SQLite needs no server");
    let diesel = DieselStore::connect(db.url()).await.expect("connects");
    diesel.migrate().await.expect("migrates");
    let path = db.url().trim_start_matches("sqlite:").to_owned();
    let mut raw = diesel::SqliteConnection::establish(&path).expect("opens the file");
    raw.batch_execute(
        "UPDATE _sqlx_migrations SET checksum = X'00' WHERE version = (SELECT MIN(version) FROM _sqlx_migrations)",
    )
    .expect("tampers with the record");
    match diesel.migrate().await {
        Err(SetupError::ChangedMigration(_)) => {}
        other => panic!("a changed migration must be refused, got {other:?}"),
    }
    assert!(
        SqlStore::connect(db.url())
            .await
            .expect("sqlx connects")
            .migrate()
            .await
            .is_err(),
        "sqlx refuses it too"
    );
    raw.batch_execute("UPDATE _sqlx_migrations SET success = FALSE")
        .expect("marks a migration failed");
    match diesel.migrate().await {
        Err(SetupError::Dirty(_)) => {}
        other => panic!("a failed migration must be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_url_it_cannot_use_is_refused_with_a_reason() {
    match DieselStore::connect("redis://127.0.0.1/").await {
        Err(SetupError::UnsupportedUrl) => {}
        other => panic!("{other:?}"),
    }
}
