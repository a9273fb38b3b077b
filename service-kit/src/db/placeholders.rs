//! Placeholders for statements whose length depends on a batch: numbered (`$1`) on
//! PostgreSQL, anonymous (`?`) on SQLite, where sqlx looks every numbered placeholder up
//! by name (quadratic in a statement's values). Values are bound in the order the
//! placeholders appear, from the `first`-th (counting from 1) on PostgreSQL.

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
    for position in first..first + count {
        if position > first {
            sql.push_str(", ");
        }
        sql.push_str(&one(tx, position));
    }
    sql
}

/// `count` rows of `width` placeholders each, for `VALUES …`.
pub fn rows(tx: &Tx, width: usize, count: usize, first: usize) -> String {
    (0..count)
        .map(|row| format!("({})", list(tx, width, first + row * width)))
        .collect::<Vec<_>>()
        .join(", ")
}
