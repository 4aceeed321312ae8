//! Tests that need PostgreSQL itself (their names start with `postgres_`): several instances on
//! one database, and database outages. Without `DATABASE_URL` they fail, saying so; the SQLite pass
//! of `scripts/test` leaves them out by name.

mod events;
mod outage;
mod scale_out;
