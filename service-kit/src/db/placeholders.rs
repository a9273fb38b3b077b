//! Placeholders for statements whose length depends on a batch: numbered (`$1`) on
//! PostgreSQL, anonymous (`?`) on SQLite, where sqlx looks every numbered placeholder up
//! by name (quadratic in a statement's values). Values are bound in the order the
//! placeholders appear, from the `first`-th (counting from 1) on PostgreSQL.

use std::fmt::Write;

use super::Tx;

/// The placeholder of the `position`-th value (counting from 1).
pub fn one(tx: &Tx, position: usize) -> String {
    match tx {
        Tx::Postgres(_) => format!("${position}"),
        Tx::Sqlite(_) => "?".to_string(),
    }
}

/// `count` placeholders separated by commas, for `IN (…)`.
pub fn list(tx: &Tx, count: usize, first: usize) -> String {
    rows(tx, 1, count, first).replace(['(', ')'], "")
}

/// `count` rows of `width` placeholders each, for `VALUES …`.
pub fn rows(tx: &Tx, width: usize, count: usize, first: usize) -> String {
    let numbered = matches!(tx, Tx::Postgres(_));
    let mut sql = String::with_capacity(count * (width * 5 + 4));
    for row in 0..count {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            if numbered {
                // Writing to a String cannot fail.
                let _ = write!(sql, "${}", first + row * width + column);
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}
