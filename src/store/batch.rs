//! Writes sent to the database in one round trip.

use sqlx::any::AnyArguments;
use sqlx::error::BoxDynError;
use sqlx::{Any, AnyConnection, Arguments, Encode, Type};

use super::{Backend, StoreError};

/// Statements sent as one, because a round trip costs more than most writes (on SQLite, a
/// hand-off to the connection's thread and back). Either every statement of a batch is kept or
/// none is, on both backends. SQLite's driver runs a string of statements in one call, their
/// `$n` numbering the arguments of them all; the string is wrapped in `BEGIN IMMEDIATE` …
/// `COMMIT`, and rolled back when a statement fails. PostgreSQL takes a single statement, so
/// there every write but the last becomes a data-modifying CTE, which runs once and to
/// completion although nothing reads it. The CTEs see the database as it was before the batch
/// (not each other's rows), so a batch holds independent writes only.
pub(super) struct Batch<'q> {
    statements: Vec<String>,
    args: AnyArguments<'q>,
    bound: usize,
    error: Option<BoxDynError>,
}

impl<'q> Batch<'q> {
    pub fn new() -> Self {
        Self {
            statements: Vec::new(),
            args: AnyArguments::default(),
            bound: 0,
            error: None,
        }
    }

    /// Adds a statement whose placeholders `$1`, `$2`, … are the values bound next.
    pub fn add(&mut self, sql: &str) -> &mut Self {
        self.statements.push(renumbered(sql, self.bound));
        self
    }

    pub fn bind<T: 'q + Encode<'q, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        self.bound += 1;
        self
    }

    /// Sends the batch on a connection outside any transaction: it is a transaction of its own.
    pub async fn execute(self, conn: &mut AnyConnection, backend: Backend) -> Result<(), StoreError> {
        let atomic = backend == Backend::Sqlite && self.statements.len() > 1;
        if !atomic {
            return self.execute_within(conn, backend).await;
        }
        let mut batch = self;
        batch.statements.insert(0, "BEGIN IMMEDIATE".to_owned());
        batch.statements.push("COMMIT".to_owned());
        let result = batch.execute_within(&mut *conn, backend).await;
        if result.is_err()
            && let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await
        {
            // "no transaction is active" when BEGIN itself failed: nothing to undo.
            tracing::debug!(cause = %e, "nothing to roll back after a failed batch");
        }
        result
    }

    /// Sends the batch as part of the transaction `conn` is in (or statement by statement).
    pub async fn execute_within(self, conn: &mut AnyConnection, backend: Backend) -> Result<(), StoreError> {
        if let Some(e) = self.error {
            return Err(sqlx::Error::Encode(e).into());
        }
        let Some((last, writes)) = self.statements.split_last() else {
            return Ok(());
        };
        let sql = match backend {
            Backend::Sqlite => self.statements.join(";\n"),
            Backend::Postgres if writes.is_empty() => last.clone(),
            Backend::Postgres => {
                let ctes: Vec<String> = writes
                    .iter()
                    .enumerate()
                    .map(|(i, write)| format!("write_{i} AS ({write})"))
                    .collect();
                format!("WITH {} {last}", ctes.join(", "))
            }
        };
        sqlx::query_with(&sql, self.args).execute(conn).await?;
        Ok(())
    }
}

/// `sql` with each placeholder `$n` made `$(n + offset)`.
fn renumbered(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::renumbered;

    #[test]
    fn placeholders_are_shifted_by_the_values_bound_before() {
        assert_eq!(renumbered("VALUES ($1, $2, $10)", 0), "VALUES ($1, $2, $10)");
        assert_eq!(
            renumbered("INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING", 9),
            "INSERT INTO t (a, b) VALUES ($10, $11) ON CONFLICT DO NOTHING"
        );
        assert_eq!(renumbered("$9,$10 $", 3), "$12,$13 $");
    }
}
