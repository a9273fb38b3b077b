//! Claiming sagas that nobody drives: pick them (locking the rows on PostgreSQL, skipping
//! rows another replica is claiming right now), take them over, and append a CLAIMED
//! record saying from whom and why. A saga is claimable once its lease has passed on the
//! database's clock, unless its owner is another replica whose heartbeat is fresh: a live
//! replica claims its own undriven sagas itself, so nobody takes work from a live peer.

use std::collections::HashMap;

use service_kit::db::{RowExt, Tx};
use service_kit::on_backend;

use super::statements::saga_from_row;
use super::writes::{Append, insert_logs};
use super::{Claim, Incarnation, Lease, SagaRecord, StoreError};
use saga_definitions::machine::{LogRecord, Outcome, SAGA_STEP};

/// A saga picked for a claim, and how its previous holder stood then.
#[derive(Debug)]
struct Picked {
    owner: String,
    /// How long ago its lease ended (negative: it had not).
    lease_over_ms: i64,
    /// How old its owner's heartbeat was (`None`: the owner never registered).
    heartbeat_age_ms: Option<i64>,
}

/// Claims up to `limit` sagas for the claimer, with leases of `lease_ms` (see
/// [`super::SagaStore::claim`]); a heartbeat younger than `lease_ms` is fresh.
pub(super) async fn claim(
    tx: &mut Tx,
    which: Claim<'_>,
    (claimer, lease_ms): (Incarnation<'_>, i64),
    now_ms: i64,
    limit: u32,
) -> Result<Vec<SagaRecord>, StoreError> {
    let lease = Lease {
        owner: claimer.replica_id,
        ms: lease_ms,
    };
    let picked = pick(tx, which, lease, claimer.number, limit).await?;
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let seqs: Vec<i64> = picked.keys().copied().collect();
    let seqs = serde_json::to_string(&seqs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let sql = match tx {
        Tx::Sqlite(_) => take_over!(sqlite, "SELECT value FROM json_each($3)"),
        Tx::Postgres(_) => take_over!(
            postgres,
            "SELECT json_array_elements_text($3::json)::bigint"
        ),
    };
    let mut claimed = on_backend!(tx, conn => {
        let rows = sqlx::query(sql)
            .bind(lease.owner)
            .bind(lease.ms)
            .bind(&seqs)
            .bind(now_ms)
            .fetch_all(conn)
            .await?;
        rows.iter().map(saga_from_row).collect::<Result<Vec<_>, _>>()
    })?;
    // RETURNING keeps no order: resume oldest first.
    claimed.sort_by_key(|saga| saga.row);
    record_claims(tx, &claimed, &picked, which, lease).await?;
    Ok(claimed)
}

async fn pick(
    tx: &mut Tx,
    which: Claim<'_>,
    lease: Lease<'_>,
    incarnation: i64,
    limit: u32,
) -> Result<HashMap<i64, Picked>, StoreError> {
    let at_start = which == Claim::AtStart;
    let (sql, sqlite) = match tx {
        Tx::Sqlite(_) => (pick_sagas!(sqlite, ""), true),
        Tx::Postgres(_) => (pick_sagas!(postgres, "FOR UPDATE OF s SKIP LOCKED"), false),
    };
    let one = match which {
        Claim::ExpiredSaga(saga_id) => Some(saga_id),
        Claim::AtStart | Claim::Expired | Claim::OwnExpired => None,
    };
    on_backend!(tx, conn => {
        let rows = sqlx::query(sql)
            .bind(lease.owner)
            .bind(lease.ms)
            .bind(at_start)
            .bind(at_start && sqlite)
            .bind(i64::from(limit))
            .bind(one)
            .bind(which == Claim::OwnExpired)
            .bind(incarnation)
            .fetch_all(conn)
            .await?;
        rows.iter()
            .map(|row| {
                let picked = Picked {
                    owner: row.text("owner")?,
                    lease_over_ms: row.int("lease_over_ms")?,
                    heartbeat_age_ms: row.opt_int("heartbeat_age_ms")?,
                };
                Ok((row.int("seq")?, picked))
            })
            .collect::<Result<HashMap<_, _>, StoreError>>()
    })
}

/// Appends a CLAIMED record to each claimed saga's log (the claim already counted it in
/// `log_len`), naming the previous owner, how long its lease had been over, how old its
/// heartbeat was and under what age a heartbeat counted as fresh:
/// `claimed by B from A: lease over N ms, heartbeat M ms old, fresh under F ms`
/// (`heartbeat none` when A never registered). The chaos checker reads it back.
async fn record_claims(
    tx: &mut Tx,
    claimed: &[SagaRecord],
    picked: &HashMap<i64, Picked>,
    which: Claim<'_>,
    lease: Lease<'_>,
) -> Result<(), StoreError> {
    let owner = lease.owner;
    let why = match which {
        Claim::Expired | Claim::OwnExpired => "",
        Claim::ExpiredSaga(_) => " (its key was retried)",
        Claim::AtStart => " at its start",
    };
    let records: Vec<[LogRecord; 1]> = claimed
        .iter()
        .map(|saga| {
            let detail = match picked.get(&saga.row) {
                Some(from) => {
                    let heartbeat = from.heartbeat_age_ms.map_or_else(
                        || "none".to_string(),
                        |age| format!("{age} ms old, fresh under {} ms", lease.ms),
                    );
                    format!(
                        "claimed by {owner} from {}{why}: lease over {} ms, heartbeat {heartbeat}",
                        from.owner, from.lease_over_ms
                    )
                }
                None => format!("claimed by {owner}{why}"),
            };
            [LogRecord {
                step: SAGA_STEP.to_string(),
                operation: None,
                outcome: Outcome::Claimed,
                attempt: 0,
                detail,
                status: saga.state.status(),
            }]
        })
        .collect();
    let appends: Vec<Append> = claimed
        .iter()
        .zip(&records)
        .map(|(saga, records)| Append {
            saga_id: &saga.saga_id,
            log_len: saga.log_len.saturating_sub(1),
            records,
            writer: owner,
            version: saga.version,
            now_ms: saga.updated_at_ms,
        })
        .collect();
    insert_logs(tx, &appends).await
}

/// Picks unfinished sagas for `$1`, whose heartbeat freshness is `$2` ms: those whose
/// lease ended on the database's clock, unless another replica with a fresh heartbeat
/// holds them; with `$1`'s own when `$3` (at its start), or all when `$4` (at its start
/// on SQLite, one process per file); only the saga `$6` if given; only `$1`'s own when
/// `$7`; none when a newer incarnation of `$1` than `$8` registered; at most `$5`,
/// oldest first. `$lock` locks the picked rows until the claim commits.
macro_rules! pick_sagas {
    ($backend:ident, $lock:literal) => {
        concat!(
            "SELECT s.seq, s.owner, ",
            db_now_ms!($backend),
            " - s.lease_until_ms AS lease_over_ms,
                    (SELECT ",
            db_now_ms!($backend),
            " - r.heartbeat_ms FROM replicas r WHERE r.replica_id = s.owner) AS heartbeat_age_ms
             FROM sagas s
             WHERE s.status IN ('RUNNING', 'COMPENSATING')
               AND ((s.lease_until_ms < ",
            db_now_ms!($backend),
            " AND (s.owner = $1 OR NOT EXISTS (SELECT 1 FROM replicas r
                          WHERE r.replica_id = s.owner AND r.heartbeat_ms > ",
            db_now_ms!($backend),
            " - $2)))
                    OR ($3 AND s.owner = $1) OR $4)
               AND ($6 IS NULL OR s.saga_id = $6) AND (NOT $7 OR s.owner = $1)
               AND NOT EXISTS (SELECT 1 FROM replicas me
                               WHERE me.replica_id = $1 AND me.incarnation > $8)
             ORDER BY s.seq LIMIT $5 ",
            $lock
        )
    };
}
use pick_sagas;

/// Takes over the sagas whose `seq` the JSON array `$3` lists (taken apart by `$ids`) for
/// `$1`, with a lease of `$2` ms from the database's time; every claim bumps the version
/// and is the saga's last change at `$4`, or at its previous one if later (a claimer
/// paused between reading its clock and claiming must not stamp the log back in time).
macro_rules! take_over {
    ($backend:ident, $ids:literal) => {
        concat!(
            "UPDATE sagas SET owner = $1, lease_until_ms = ",
            db_now_ms!($backend),
            " + $2, version = version + 1, log_len = log_len + 1,
             updated_at_ms = CASE WHEN updated_at_ms > $4 THEN updated_at_ms ELSE $4 END
             WHERE seq IN (",
            $ids,
            ") RETURNING seq, saga_id, idempotency_key, definition, definition_version, input, state, ",
            "version, log_len, owner, lease_until_ms, created_at_ms, updated_at_ms, trace_context"
        )
    };
}
use take_over;
