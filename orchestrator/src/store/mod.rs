//! The saga log's storage: a small interface the engine writes through, and its SQL
//! implementation for SQLite and PostgreSQL.

/// The conditions of a [`SagaFilter`] and a listing's page in `sqlite`'s or `postgres`'s
/// SQL, binding `$1`…`$9` (see `bind_filter!`): status, before the row, definition,
/// created after, created before, unfinished and idle since, key pattern, the input's
/// customer, parked (true or none). The last two read the JSON of the input and state.
macro_rules! saga_filter {
    (sqlite) => {
        saga_filter!(
            "($8 IS NULL OR CAST(json_extract(input, '$.customer_id') AS TEXT) = $8) ",
            "AND ($9 IS NULL OR json_extract(state, '$.position.progress.parked') = 1)"
        )
    };
    (postgres) => {
        saga_filter!(
            "($8::text IS NULL OR (input::jsonb ->> 'customer_id') = $8) ",
            "AND ($9::boolean IS NULL OR (state::jsonb #>> '{position,progress,parked}') = 'true')"
        )
    };
    ($customer:literal, $parked:literal) => {
        concat!(
            "($1 IS NULL OR status = $1) AND ($2 IS NULL OR seq < $2) ",
            "AND ($3 IS NULL OR definition = $3) ",
            "AND ($4 IS NULL OR created_at_ms > $4) ",
            "AND ($5 IS NULL OR created_at_ms < $5) ",
            "AND ($6 IS NULL OR (updated_at_ms < $6 AND status IN ('RUNNING', 'COMPENSATING'))) ",
            "AND ($7 IS NULL OR idempotency_key LIKE $7 ESCAPE '!') AND ",
            $customer,
            $parked
        )
    };
}

/// Binds `saga_filter!()`'s `$1`…`$9` to `query`: `status` (text or none), `before`
/// (a row or none), then the filter's own conditions with its key `pattern`.
macro_rules! bind_filter {
    ($query:expr, $status:expr, $before:expr, $filter:expr, $pattern:expr) => {
        $query
            .bind($status)
            .bind($before)
            .bind($filter.definition.as_deref())
            .bind($filter.created_after_ms)
            .bind($filter.created_before_ms)
            .bind($filter.idle_since_ms)
            .bind($pattern.as_deref())
            .bind($filter.customer_id.as_deref())
            .bind($filter.parked.then_some(true))
    };
}

/// `SELECT <saga columns> FROM sagas` followed by the rest of a query, as a static string.
macro_rules! select_sagas {
    ($rest:literal) => {
        concat!(
            "SELECT seq, saga_id, idempotency_key, definition, definition_version, input, state, ",
            "version, log_len, owner, lease_until_ms, created_at_ms, updated_at_ms, trace_context ",
            "FROM sagas ",
            $rest
        )
    };
}

/// The database's time in milliseconds since the epoch, as SQL for `sqlite` or
/// `postgres`. Leases are written and compared on the database's clock, never a
/// replica's, so a replica whose clock runs ahead cannot take sagas whose owner is alive.
macro_rules! db_now_ms {
    (sqlite) => {
        "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    };
    (postgres) => {
        "(extract(epoch from now()) * 1000)::bigint"
    };
}

mod batch;
mod claims;
mod definitions;
mod feeds;
mod replicas;
mod script;
mod sql;
mod statements;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod writes;

use async_trait::async_trait;

use saga_definitions::machine::{LogRecord, SagaState, SagaStatus};
use serde_json::Value;

pub use definitions::{DefinitionStore, NewDefinition, Registered, StoredDefinition};
pub use feeds::{FeedLease, FeedStore};
pub use sql::{SqlStore, migrations};
pub use writes::FIRST_VERSION;

/// One committed record of a saga's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// 1, 2, 3, … without gaps, per saga.
    pub seq: u32,
    pub record: LogRecord,
    pub at_ms: i64,
    /// The replica whose write appended the record.
    pub writer: String,
    /// The saga's version after that write (see [`SagaRecord::version`]).
    pub version: i64,
}

/// Which sagas a listing shows; every condition left out lets every saga through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SagaFilter {
    pub status: Option<SagaStatus>,
    pub definition: Option<String>,
    /// Created after, and before, these times (ms since the epoch).
    pub created_after_ms: Option<i64>,
    pub created_before_ms: Option<i64>,
    /// Unfinished, with no progress since this time (ms since the epoch): stuck.
    pub idle_since_ms: Option<i64>,
    /// Holding this text in its idempotency key.
    pub key_contains: Option<String>,
    /// Whose input's `customer_id` is this.
    pub customer_id: Option<String>,
    /// Only those whose current call is parked.
    pub parked: bool,
}

impl SagaFilter {
    /// `key_contains` as a `LIKE` pattern, its wildcards escaped with `!`.
    fn key_pattern(&self) -> Option<String> {
        self.key_contains.as_ref().map(|text| {
            let escaped: String = text
                .chars()
                .flat_map(|c| match c {
                    '%' | '_' | '!' => vec!['!', c],
                    c => vec![c],
                })
                .collect();
            format!("%{escaped}%")
        })
    }
}

/// A saga as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaRecord {
    /// Insertion order; the key of list paging.
    pub row: i64,
    pub saga_id: String,
    pub idempotency_key: String,
    /// The definition the saga runs, pinned to the version it started on.
    pub definition: String,
    pub definition_version: u32,
    /// The saga's input, as its templates read it.
    pub input: Value,
    pub state: SagaState,
    /// The version a write must name to replace this state: 1 at insert, raised by one
    /// by every write and every claim (its fencing token).
    pub version: i64,
    /// How many log records the saga has.
    pub log_len: u32,
    /// The replica that holds the saga (see [`Lease`]).
    pub owner: String,
    /// Until when `owner` holds it, on the database's clock; after that any replica may
    /// claim it.
    pub lease_until_ms: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// The trace context (`traceparent`) of the call that started it; empty: none.
    pub trace_context: String,
    /// Filled by [`SagaStore::get`]; empty in lists.
    pub log: Vec<LogEntry>,
}

/// A saga to insert, with the records of its first transition.
#[derive(Debug, Clone)]
pub struct NewSaga<'a> {
    pub saga_id: &'a str,
    pub idempotency_key: &'a str,
    pub definition: &'a str,
    pub definition_version: u32,
    pub input: &'a Value,
    pub state: &'a SagaState,
    pub log: &'a [LogRecord],
    pub now_ms: i64,
    /// The trace context (`traceparent`) of the call that starts it; empty: none.
    pub trace_context: &'a str,
    /// The replica that will drive the saga, and until when it holds it.
    pub lease: Lease<'a>,
}

/// A replica's hold on a saga: others may claim it once `ms` have passed on the
/// database's clock since the write that took or renewed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub ms: i64,
}

/// One process's registration of its replica id: a number that rises by one at every
/// start under that id, so that the newest process fences older ones still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incarnation<'a> {
    pub replica_id: &'a str,
    pub number: i64,
}

/// A replica as the replicas table knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRecord {
    pub replica_id: String,
    pub incarnation: i64,
    /// When this incarnation registered, on the database's clock.
    pub started_at_ms: i64,
    /// Its last heartbeat, on the database's clock, and how long ago that was.
    pub heartbeat_ms: i64,
    pub heartbeat_age_ms: i64,
    /// Unfinished sagas it holds.
    pub sagas_held: i64,
}

/// The result of an insert: new, or the saga that already holds the key.
#[derive(Debug)]
pub enum Inserted {
    New,
    Existing(Box<SagaRecord>),
}

/// One transition to commit: the new state and its log records, atomically. The writer
/// holds the saga afterwards.
#[derive(Debug, Clone)]
pub struct SagaWrite<'a> {
    pub saga_id: &'a str,
    /// The replica writing (recorded with each log record).
    pub writer: &'a str,
    /// The version the writer read; the write fails if the saga moved on since.
    pub expected_version: i64,
    pub state: &'a SagaState,
    /// Appended after the saga's `log_len` existing records.
    pub log: &'a [LogRecord],
    pub log_len: u32,
    pub now_ms: i64,
    /// Each commit also extends the writer's lease by this much, from the database's time
    /// when it commits (however long the write was retried).
    pub lease_ms: i64,
}

/// Which unfinished sagas a replica claims. A replica renews the leases of the sagas it
/// drives and no others, so an expired lease means that nobody drives the saga, whoever
/// its owner: every claim takes expired sagas, the claimer's own included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim<'a> {
    /// At the replica's start, when it drives nothing yet: expired sagas and its own. On
    /// SQLite, where one process has the file, every unfinished saga (a predecessor that
    /// is still draining is fenced).
    AtStart,
    /// Expired sagas: the replica's own, and those of replicas that are not alive.
    Expired,
    /// Only the replica's own expired sagas (nobody else may take them while it lives,
    /// so it claims them whatever its room).
    OwnExpired,
    /// This one saga, if its lease expired (a client retried its key here).
    ExpiredSaga(&'a str),
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The saga's version moved on: another writer owns it now. Stop driving it.
    #[error("saga {0} was changed by another writer")]
    Fenced(String),
    /// The database could not be reached or refused the write; retry later.
    #[error("saga log unavailable")]
    Unavailable(#[from] sqlx::Error),
    /// The group committer stopped (the process is shutting down) or lost this write's
    /// batch to a panic; nothing of it was committed.
    #[error("saga log writer stopped")]
    Closed,
    /// A stored row does not decode: a bug or a hand edit.
    #[error("saga log row is corrupt: {0}")]
    Corrupt(String),
}

/// The saga log. Every method is one transaction; a method that returns `Ok` has
/// committed durably.
#[async_trait]
pub trait SagaStore: Send + Sync + 'static {
    /// Inserts a saga unless its idempotency key is taken, in which case the saga that
    /// holds the key is returned and nothing is written.
    async fn insert(&self, new: &NewSaga<'_>) -> Result<Inserted, StoreError>;
    /// Inserts the sagas one page of a feed starts (finding those whose keys are taken)
    /// and moves the feed to `position`, in one transaction: the feed never moves past a
    /// saga that was not stored, nor stores one it does not move past. Fenced (and
    /// nothing is written) when the lease's holder no longer holds the feed.
    async fn insert_page(
        &self,
        news: &[NewSaga<'_>],
        feed: FeedLease<'_>,
        position: &str,
    ) -> Result<Vec<Inserted>, StoreError>;
    /// Commits one transition (state and log together), fenced by version.
    async fn commit(&self, write: &SagaWrite<'_>) -> Result<(), StoreError>;
    /// A saga with its whole log.
    async fn get(&self, saga_id: &str) -> Result<Option<SagaRecord>, StoreError>;
    /// A saga by its idempotency key, without its log.
    async fn get_by_key(&self, key: &str) -> Result<Option<SagaRecord>, StoreError>;
    /// Sagas newest first that `filter` lets through, after the row `before` (paging).
    async fn list(
        &self,
        filter: &SagaFilter,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<SagaRecord>, StoreError>;
    /// Sagas `filter` lets through that changed at or after `since_ms`, in change order,
    /// without their logs.
    async fn changed_since(
        &self,
        filter: &SagaFilter,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<SagaRecord>, StoreError>;
    /// How many sagas `filter` (its status aside) lets through, by status.
    async fn count(&self, filter: &SagaFilter) -> Result<Vec<(SagaStatus, u64)>, StoreError>;
    /// Takes over up to `limit` unfinished sagas for `claimer`, with leases of
    /// `lease_ms`, oldest first: each claim bumps the saga's version, so the previous
    /// owner can no longer write it, and appends a CLAIMED record naming the new owner,
    /// stamped `now_ms` (or the saga's last write, if later: a log's stamps never go
    /// back). Replicas claiming at once never wait on each other or claim the same saga;
    /// a claimer superseded by a newer incarnation of its id claims nothing.
    async fn claim(
        &self,
        which: Claim<'_>,
        claimer: Incarnation<'_>,
        lease_ms: i64,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<SagaRecord>, StoreError>;
    /// Registers a new incarnation of `replica_id`: the first, or one more than the last.
    async fn register(&self, replica_id: &str) -> Result<i64, StoreError>;
    /// Records that `incarnation` is alive and extends, by `lease_ms`, the lease of each
    /// of `saga_ids` its replica still holds: the sagas it drives, and no others, so that
    /// an undriven saga's lease runs out. Returns how many it renewed, or `None` (and
    /// renews nothing) when a newer incarnation holds the replica id.
    async fn renew(
        &self,
        incarnation: Incarnation<'_>,
        lease_ms: i64,
        saga_ids: &[&str],
    ) -> Result<Option<u64>, StoreError>;
    /// The replicas heard from in the last `fresh_ms`, by id.
    async fn replicas(&self, fresh_ms: i64) -> Result<Vec<ReplicaRecord>, StoreError>;
}

/// Opens the saga log at `url` (`sqlite://PATH` or `postgres://…`), applying migrations,
/// trying again for up to `patience` while the database cannot be reached; up to
/// `max_batch` writes share one commit.
pub async fn open(
    url: &str,
    max_batch: usize,
    patience: std::time::Duration,
) -> Result<std::sync::Arc<SqlStore>, service_kit::db::OpenError> {
    let db = service_kit::db::Db::open_patiently(url, &migrations(), patience).await?;
    Ok(std::sync::Arc::new(SqlStore::new(db, max_batch)))
}
