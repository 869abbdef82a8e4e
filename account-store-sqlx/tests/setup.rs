//! Opening and migrating stores: URLs, files, repeated migrations, and what `Debug` and
//! errors show.

// Test code: a failed expectation panics with its message; the helpers outside `#[test]`
// functions are test code too.
#![allow(clippy::unwrap_used)]

use account_core::store::AccountStore as _;
use account_core::testing::fixtures;
use account_store_sqlx::testing;
use account_store_sqlx::{Backend, SetupError, SqlStore};

#[tokio::test]
async fn a_missing_sqlite_file_and_its_directories_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested").join("deeper").join("accounts.db");
    let url = format!("sqlite:{}", file.display());

    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    assert!(file.exists(), "connect must create the file");
    let alice = fixtures::insert_account(&store, "alice", "alice@example.com").await;
    store.close().await;

    // The data is in the file: a new store finds it.
    let again = SqlStore::connect(&url).await.unwrap();
    again.migrate().await.unwrap();
    assert_eq!(again.account_by_id(alice.id).await.unwrap(), Some(alice));

    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal", "the database must be in WAL mode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_sqlite_database_keeps_its_data_across_connections() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let alice = fixtures::insert_account(&store, "alice", "alice@example.com").await;
    // Reads at once take several connections of the pool; all must see one database.
    let reads: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.account_by_id(alice.id).await })
        })
        .collect();
    for read in reads {
        assert_eq!(read.await.unwrap().unwrap().map(|a| a.id), Some(alice.id));
    }
}

#[tokio::test]
async fn unknown_schemes_are_refused_without_repeating_the_url() {
    for url in [
        "redis://user:hunter2@127.0.0.1/0",
        "hunter2",
        "",
        "file:///tmp/x.db",
    ] {
        let error = SqlStore::connect(url)
            .await
            .expect_err("not a database URL");
        assert!(
            matches!(error, SetupError::UnsupportedUrl),
            "{url}: {error:?}"
        );
        assert!(
            !error.to_string().contains("hunter2") && !format!("{error:?}").contains("hunter2"),
            "the error must not repeat the URL: {error}"
        );
    }
}

#[test]
fn backends_are_chosen_by_scheme() {
    for (url, backend) in [
        ("sqlite:data/accounts.db", Some(Backend::Sqlite)),
        ("sqlite::memory:", Some(Backend::Sqlite)),
        ("SQLite://x.db", Some(Backend::Sqlite)),
        ("postgres://u@h/db", Some(Backend::Postgres)),
        ("postgresql://u@h/db", Some(Backend::Postgres)),
        ("mysql://u@h/db", Some(Backend::MySql)),
        ("mariadb://u@h/db", Some(Backend::MySql)),
        ("redis://h", None),
        ("no scheme", None),
    ] {
        assert_eq!(Backend::from_url(url), backend, "{url}");
    }
}

/// Migrating twice is harmless (every start migrates), on every backend.
async fn check_migrations_repeat(backend: Backend) {
    let Some(db) = testing::fresh_database(backend).await else {
        return;
    };
    let store = db.store().await.unwrap();
    let alice = fixtures::insert_account(&store, "alice", "alice@example.com").await;
    store.migrate().await.unwrap();
    let other = SqlStore::connect(db.url()).await.unwrap();
    other.migrate().await.unwrap();
    assert_eq!(other.account_by_id(alice.id).await.unwrap(), Some(alice));
    assert_eq!(other.backend(), backend);
    let shown = format!("{other:?}");
    assert!(shown.contains(&format!("{backend:?}")), "{shown}");
}

#[tokio::test]
async fn sqlite_migrations_can_run_again() {
    check_migrations_repeat(Backend::Sqlite).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_migrations_can_run_again() {
    check_migrations_repeat(Backend::Postgres).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_migrations_can_run_again() {
    check_migrations_repeat(Backend::MySql).await;
}

/// A database that an earlier release migrated is up to date for this one. Releases
/// before `account-schema` ran sqlx's `migrate!` on the same files, then in this crate's
/// folder; sqlx refuses to go on when a recorded checksum differs from the text it has,
/// so the files must have moved unchanged and `migrate` must record them as the macro
/// did. The macro reads the files where they are now, which is the same text.
async fn check_earlier_release_bookkeeping(backend: Backend) {
    let Some(db) = testing::fresh_database(backend).await else {
        return;
    };
    match backend {
        Backend::Sqlite => {
            let options = db
                .url()
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .unwrap();
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                .await
                .unwrap();
            sqlx::migrate!("../account-schema/migrations/sqlite")
                .run(&pool)
                .await
                .unwrap();
        }
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
            sqlx::migrate!("../account-schema/migrations/postgres")
                .run(&pool)
                .await
                .unwrap();
        }
        #[cfg(feature = "mysql")]
        Backend::MySql => {
            let pool = sqlx::MySqlPool::connect(db.url()).await.unwrap();
            sqlx::migrate!("../account-schema/migrations/mysql")
                .run(&pool)
                .await
                .unwrap();
        }
        #[allow(unreachable_patterns)]
        other => panic!("{other} is not compiled in"),
    }
    let store = SqlStore::connect(db.url()).await.unwrap();
    store.migrate().await.unwrap();
    let alice = fixtures::insert_account(&store, "alice", "alice@example.com").await;
    assert_eq!(store.account_by_id(alice.id).await.unwrap(), Some(alice));
}

#[tokio::test]
async fn sqlite_databases_of_earlier_releases_are_up_to_date() {
    check_earlier_release_bookkeeping(Backend::Sqlite).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_databases_of_earlier_releases_are_up_to_date() {
    check_earlier_release_bookkeeping(Backend::Postgres).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_databases_of_earlier_releases_are_up_to_date() {
    check_earlier_release_bookkeeping(Backend::MySql).await;
}

/// A URL with a password: the store works, and neither `Debug` nor the store's errors
/// show the password. (The servers of the test setup trust local connections, so any
/// password is accepted.)
#[cfg(feature = "postgres")]
#[tokio::test]
async fn debug_shows_no_credentials() {
    let Some(db) = testing::fresh_database(Backend::Postgres).await else {
        return;
    };
    let mut url = url::Url::parse(db.url()).unwrap();
    url.set_password(Some("hunter2")).unwrap();
    let store = SqlStore::connect(url.as_str()).await.unwrap();
    store.migrate().await.unwrap();
    let shown = format!("{store:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("Postgres"), "{shown}");
}

/// `mariadb:` URLs work like `mysql:` ones.
#[cfg(feature = "mysql")]
#[tokio::test]
async fn mariadb_urls_are_accepted() {
    let Some(db) = testing::fresh_database(Backend::MySql).await else {
        return;
    };
    let url = db.url().replacen("mysql:", "mariadb:", 1);
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    fixtures::insert_account(&store, "alice", "alice@example.com").await;
}

/// The version of the migration that made the security log outlive accounts.
const LIFECYCLE: i64 = 20261130000000;

/// Runs the migrations of `account-schema` before [`LIFECYCLE`] on the database at `url`:
/// the schema of the release before it.
async fn migrate_to_previous_release(backend: Backend, url: &str) {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    let dialect = match backend {
        Backend::Sqlite => account_schema::Dialect::Sqlite,
        Backend::Postgres => account_schema::Dialect::Postgres,
        _ => account_schema::Dialect::MySql,
    };
    let migrations: Vec<Migration> = account_schema::migrations(dialect)
        .iter()
        .filter(|m| m.version < LIFECYCLE)
        .map(|m| {
            Migration::new(
                m.version,
                m.description.into(),
                MigrationType::Simple,
                m.sql.into(),
                false,
            )
        })
        .collect();
    let migrator = Migrator {
        migrations: migrations.into(),
        ..Migrator::DEFAULT
    };
    match backend {
        Backend::Sqlite => {
            let options = url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap();
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                .await
                .unwrap();
            migrator.run(&pool).await.unwrap();
        }
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            migrator.run(&pool).await.unwrap();
        }
        #[cfg(feature = "mysql")]
        Backend::MySql => {
            let pool = sqlx::MySqlPool::connect(url).await.unwrap();
            migrator.run(&pool).await.unwrap();
        }
        #[allow(unreachable_patterns)]
        other => panic!("{other} is not compiled in"),
    }
}

/// Inserts the account `new` as the release before [`LIFECYCLE`] did (no
/// `display_name_key`), with its times and text as each backend keeps them.
async fn insert_account_as_previous_release(
    backend: Backend,
    url: &str,
    new: &account_core::model::NewAccount,
) {
    let a = &new.account;
    let sql = |p: [&str; 6]| {
        format!(
            "INSERT INTO accounts (id, username, email, email_key, email_verified, \
             display_name, source, state, role, security_stamp, created_at, updated_at) \
             VALUES ({}, {}, {}, {}, FALSE, {}, 'local', 'active', 'user', {}, {t}, {t})",
            p[0],
            p[1],
            p[2],
            p[3],
            p[4],
            p[5],
            t = match backend {
                Backend::Sqlite => a.created_at.timestamp_micros().to_string(),
                _ => format!("'{}'", a.created_at.format("%Y-%m-%d %H:%M:%S%.6f")),
            },
        )
    };
    let values = [
        a.username.as_str().to_owned(),
        a.email.as_str().to_owned(),
        a.email.lookup_key(),
        a.display_name.as_str().to_owned(),
        a.security_stamp.as_str().to_owned(),
    ];
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let query = sql(["?"; 6]);
            values
                .iter()
                .fold(sqlx::query(&query).bind(a.id.as_uuid()), |q, v| q.bind(v))
                .execute(&pool)
                .await
                .unwrap();
        }
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let query = sql(["$1", "$2", "$3", "$4", "$5", "$6"]);
            values
                .iter()
                .fold(sqlx::query(&query).bind(a.id.as_uuid()), |q, v| q.bind(v))
                .execute(&pool)
                .await
                .unwrap();
        }
        #[cfg(feature = "mysql")]
        Backend::MySql => {
            let pool = sqlx::MySqlPool::connect(url).await.unwrap();
            let query = sql(["?"; 6]);
            values
                .iter()
                .fold(sqlx::query(&query).bind(a.id.as_uuid()), |q, v| q.bind(v))
                .execute(&pool)
                .await
                .unwrap();
        }
        #[allow(unreachable_patterns)]
        other => panic!("{other} is not compiled in"),
    }
}

/// A database of the release before the lifecycle migration, with an account, its
/// sessions and its security log, comes through the migration whole: the log is copied
/// (SQLite rebuilds the table) and no longer needs its account, the display names are
/// searchable, and the account's other tables still go with it.
async fn check_lifecycle_migration_keeps_data(backend: Backend) {
    use account_core::model::{
        AccountQuery, AccountRemoval, EventFilter, EventPage, ProfileChange, SecurityEventKind,
    };
    use account_core::store::{SecurityEventStore as _, SessionStore as _};

    let Some(db) = testing::fresh_database(backend).await else {
        return;
    };
    migrate_to_previous_release(backend, db.url()).await;
    let mut new = fixtures::new_account("alice", "Alice@Example.com");
    new.account.display_name = fixtures::display_name("Alice Smith");
    insert_account_as_previous_release(backend, db.url(), &new).await;
    let alice = new.account;

    // The previous release's statements for sessions and events are this one's.
    let store = SqlStore::connect(db.url()).await.unwrap();
    let session = fixtures::insert_session(&store, alice.id, fixtures::time(1)).await;
    let mut log = Vec::new();
    for n in 0..3 {
        let event = fixtures::event(
            alice.id,
            fixtures::time(n),
            SecurityEventKind::LoginSucceeded,
        );
        store.record_event(&event).await.unwrap();
        log.insert(0, event);
    }

    store.migrate().await.unwrap();
    let page = EventPage {
        before: None,
        limit: 10,
    };
    assert_eq!(
        store.account_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .events(&EventFilter::account(alice.id), page)
            .await
            .unwrap(),
        log,
        "the migration must keep the security log, field for field"
    );
    let search = |term: &str| AccountQuery {
        search: AccountQuery::search(term),
        limit: 10,
        ..AccountQuery::default()
    };
    assert_eq!(
        store.list_accounts(&search("SMITH")).await.unwrap(),
        vec![alice.clone()],
        "the migration must fill display_name_key"
    );

    // A name written after the migration folds in every script.
    let renamed = store
        .update_profile(
            alice.id,
            &ProfileChange {
                display_name: Some(fixtures::display_name("Élodie Smith")),
                ..ProfileChange::default()
            },
            fixtures::time(5),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.list_accounts(&search("ÉLODIE")).await.unwrap(),
        vec![renamed.clone()]
    );

    // The account goes with its sessions; its log becomes the deletion record.
    let record = fixtures::event(
        alice.id,
        fixtures::time(9),
        SecurityEventKind::AccountDeleted,
    );
    assert_eq!(
        store.delete_account(alice.id, &record).await.unwrap(),
        AccountRemoval::Removed(Box::new(renamed))
    );
    assert_eq!(
        store.session_by_token(&session.token_digest).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .events(&EventFilter::account(alice.id), page)
            .await
            .unwrap(),
        vec![record]
    );
}

#[tokio::test]
async fn sqlite_lifecycle_migration_keeps_data() {
    check_lifecycle_migration_keeps_data(Backend::Sqlite).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_lifecycle_migration_keeps_data() {
    check_lifecycle_migration_keeps_data(Backend::Postgres).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_lifecycle_migration_keeps_data() {
    check_lifecycle_migration_keeps_data(Backend::MySql).await;
}
