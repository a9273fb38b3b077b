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

/// `sql` with every numbered placeholder moved on by `by` (`$1` becomes `$3` for 2), to
/// join statements whose values were bound one after another. Our statements hold no
/// `$` but in placeholders (no dollar quotes, no `$` in literals).
pub fn shifted(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        let (before, from_dollar) = rest.split_at(at);
        out.push_str(before);
        let digits = from_dollar[1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(from_dollar.len() - 1);
        match from_dollar[1..=digits].parse::<usize>() {
            // Writing to a String cannot fail.
            Ok(position) => drop(write!(out, "${}", position + by)),
            Err(_) => out.push('$'),
        }
        rest = &from_dollar[1 + digits..];
    }
    out.push_str(rest);
    out
}

/// The highest numbered placeholder in `sql` (0 when it has none): how many values it
/// takes.
pub fn highest(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..digits].parse::<usize>().ok()
        })
        .max()
        .unwrap_or(0)
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

#[cfg(test)]
mod tests {
    use super::shifted;

    #[test]
    fn shifted_placeholders_move_on_and_nothing_else_changes() {
        assert_eq!(
            shifted("a = $1 AND b IN ($2, $10)", 0),
            "a = $1 AND b IN ($2, $10)"
        );
        assert_eq!(
            shifted("a = $1 AND b IN ($2, $10)", 5),
            "a = $6 AND b IN ($7, $15)"
        );
        assert_eq!(shifted("($9)", 1), "($10)");
        assert_eq!(shifted("no values", 3), "no values");
        assert_eq!(shifted("a lone $ stays", 3), "a lone $ stays");
        assert_eq!(shifted("ends in $", 3), "ends in $");
    }

    #[test]
    fn the_highest_placeholder_counts_a_statements_values() {
        assert_eq!(super::highest("a = $1 AND b IN ($2, $10)"), 10);
        assert_eq!(super::highest("no values, a lone $"), 0);
    }
}
