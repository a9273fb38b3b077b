//! The metrics every service records the same way (names, meanings and the histograms'
//! buckets), through the `metrics` facade; each service's own live beside its code. A
//! process scraped on its own needs no label to say which service it is.

use metrics::{Unit, describe_counter, describe_histogram};

/// Write transactions of a group writer (the saga log, a participant's database) by how
/// long they took, BEGIN to COMMIT.
pub const COMMIT_SECONDS: &str = "db_commit_duration_seconds";
/// Writes that shared one such commit.
pub const COMMIT_BATCH: &str = "db_commit_batch_size";
/// A participant's requests by `method` and gRPC `code` (`OK` for none): those that got
/// past decoding and validation (a malformed request is refused before).
pub const REQUESTS: &str = "participant_requests_total";
/// Faults a participant injected, by `method` and `kind`.
pub const FAULTS: &str = "participant_faults_injected_total";
/// Calls the idempotency barrier answered without running their effect, by `hit`:
/// `repeat` (the first answer again), `tombstone` (a compensation with nothing to undo),
/// `late_action` (an action refused after its compensation).
pub const BARRIER_HITS: &str = "participant_barrier_hits_total";

/// Buckets of the histograms in seconds: from half a millisecond to ten seconds.
pub const SECONDS_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];
/// Buckets of batch sizes.
pub const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Says what the shared metrics mean, for the exporter's `# HELP` lines.
pub fn describe() {
    describe_histogram!(
        COMMIT_SECONDS,
        Unit::Seconds,
        "Write transactions of the group writer, BEGIN to COMMIT."
    );
    describe_histogram!(
        COMMIT_BATCH,
        Unit::Count,
        "Writes that shared one commit of the group writer."
    );
    describe_counter!(REQUESTS, Unit::Count, "Requests by method and gRPC code.");
    describe_counter!(FAULTS, Unit::Count, "Injected faults by method and kind.");
    describe_counter!(
        BARRIER_HITS,
        Unit::Count,
        "Calls the idempotency barrier answered without their effect, by hit."
    );
}

/// A gRPC code as the metrics spell it: `OK`, `UNAVAILABLE`, `FAILED_PRECONDITION`, …
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
