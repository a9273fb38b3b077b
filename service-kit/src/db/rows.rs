//! Reading columns the same way on both backends: TEXT as `String`, integers as `i64`
//! (SQLite INTEGER, PostgreSQL BIGINT), blobs as bytes (BLOB, BYTEA).

use sqlx::{ColumnIndex, Decode, Row, Type};

/// Typed column access with the same Rust types on both backends.
pub trait RowExt: Row {
    fn text(&self, column: &'static str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, column: &'static str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, column: &'static str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, column: &'static str) -> Result<Option<i64>, sqlx::Error>;
    fn bytes(&self, column: &'static str) -> Result<Option<Vec<u8>>, sqlx::Error>;
}

impl<R> RowExt for R
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &'static str) -> Result<String, sqlx::Error> {
        self.try_get(column)
    }

    fn opt_text(&self, column: &'static str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }

    fn int(&self, column: &'static str) -> Result<i64, sqlx::Error> {
        self.try_get(column)
    }

    fn opt_int(&self, column: &'static str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(column)
    }

    fn bytes(&self, column: &'static str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        self.try_get(column)
    }
}
