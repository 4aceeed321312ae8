//! Which database a test runs on: SQLite by default; PostgreSQL when `DATABASE_URL` names a
//! server (as `scripts/test` does in its second run), each test with a database of its own.

use std::path::Path;

use dingo::crypto::sha256_hex;

/// The PostgreSQL server the suite runs against, if any (`DATABASE_URL`).
pub fn postgres_server() -> Option<url::Url> {
    let raw = std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty())?;
    let url = url::Url::parse(&raw).unwrap_or_else(|e| panic!("DATABASE_URL is not a URL: {e}"));
    assert!(
        matches!(url.scheme(), "postgres" | "postgresql"),
        "DATABASE_URL must be a postgres:// URL"
    );
    Some(url)
}

/// A database of its own on the PostgreSQL server, named after `key` (dingo creates it).
pub fn postgres_database(server: &url::Url, key: &str) -> String {
    let mut url = server.clone();
    url.set_path(&format!("dingo_test_{}", &sha256_hex(key)[..20]));
    url.into()
}

/// The database URL for the test whose files live in `dir`: the same URL every time for the
/// same directory, so a restarted instance finds its data again.
pub fn database_url(dir: &Path) -> String {
    match postgres_server() {
        Some(server) => postgres_database(&server, &dir.display().to_string()),
        None => format!("sqlite://{}", dir.join("dingo.db").display()),
    }
}

/// The server for a test that needs PostgreSQL itself. Such tests are named `postgres_*`; the
/// SQLite pass of `scripts/test` leaves them out by name, and run anywhere else without a server
/// they fail saying so, rather than pass without having run.
pub fn postgres_required(test: &str) -> url::Url {
    postgres_server().unwrap_or_else(|| {
        panic!("{test} needs PostgreSQL: set DATABASE_URL to a server (scripts/test starts one), or leave it out with --skip postgres_")
    })
}
