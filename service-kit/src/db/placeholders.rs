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
    let mut sql = String::with_capacity(count * 5);
    push_list(&mut sql, tx, count, first);
    sql
}

/// `count` rows of `width` placeholders each, for `VALUES …`, in one buffer (a batch's
/// multi-row statements are built on the writer's path).
pub fn rows(tx: &Tx, width: usize, count: usize, first: usize) -> String {
    let mut sql = String::with_capacity(count * (width * 5 + 4));
    for row in 0..count {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        push_list(&mut sql, tx, width, first + row * width);
        sql.push(')');
    }
    sql
}

/// Appends `count` placeholders from the `first`-th, without a string for each.
fn push_list(sql: &mut String, tx: &Tx, count: usize, first: usize) {
    for position in first..first + count {
        if position > first {
            sql.push_str(", ");
        }
        match tx {
            // Writing to a String cannot fail.
            Tx::Postgres(_) => drop(write!(sql, "${position}")),
            Tx::Sqlite(_) => sql.push('?'),
        }
    }
}
