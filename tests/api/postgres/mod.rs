//! Tests that need PostgreSQL itself (their names start with `postgres_`): several instances on
//! one database, and database outages. Without `DATABASE_URL` they say so and pass nothing.

mod outage;
mod scale_out;
