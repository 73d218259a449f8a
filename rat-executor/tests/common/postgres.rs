//! A fresh database on the PostgreSQL of scripts/test-services.sh, for a
//! test that needs a run store of its own: the PostgreSQL store's own
//! tests, the server's and the CLI's include this file.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

/// Creates an empty database `<prefix>_<random>`; its URL, with no
/// password (the loopback server trusts loopback).
pub async fn fresh_database(prefix: &str) -> String {
    let admin = std::env::var("RAT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5433/postgres".into());
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .expect("PostgreSQL is not running: scripts/test-services.sh start");
    let name = format!("{prefix}_{}", rat_core::RunId::generate().as_str());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
