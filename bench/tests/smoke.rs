//! The benchmark's smoke runs (no timing assertions): a few dozen sagas at low concurrency
//! against a stack the tool starts, checking the JSON report's shape, that every saga
//! ended as its order asked, and that the invariant check passed; on PostgreSQL with two
//! replicas when `SAGA_TEST_POSTGRES_URL` names a server; and a tiny matrix.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Longer than any smoke run takes, even on a loaded machine.
const RUN_DEADLINE: Duration = Duration::from_secs(300);

/// Runs `saga-bench --json --quiet ARGS…` to its end and returns its report.
fn bench(args: &[&str]) -> Value {
    let mut all = vec!["--json", "--quiet", "--settle-secs", "60"];
    all.extend(args);
    let output = run(&all);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "saga-bench {args:?} exited with {}; stderr:\n{stderr}",
        output.status
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}):\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_saga-bench"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("saga-bench starts");
    let started = Instant::now();
    while child
        .try_wait()
        .expect("saga-bench can be waited for")
        .is_none()
    {
        if started.elapsed() > RUN_DEADLINE {
            child.kill().expect("saga-bench can be killed");
            panic!("saga-bench {args:?} did not finish within {RUN_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("saga-bench's output")
}

fn number(report: &Value, pointer: &str) -> f64 {
    report
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} is not a number in {report:#}"))
}

fn outcomes(completed: u64, compensated: u64) -> Value {
    serde_json::json!({
        "completed": completed,
        "compensated": compensated,
        "failed": 0,
        "unfinished": {},
        "errors": {},
    })
}

#[test]
fn a_closed_loop_run_reports_both_phases_and_passes_the_invariant_check() {
    let report = bench(&[
        "--concurrency",
        "4",
        "--sagas",
        "30",
        "--compensate-share",
        "0.2",
    ]);
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["stack"], "started");
    assert_eq!(report["backend"], "sqlite");
    assert_eq!(report["sqlite_sync"], "full");
    assert_eq!(
        report["pace"],
        serde_json::json!({"closed": {"concurrency": 4}})
    );
    for phase in ["saga", "floor"] {
        assert_eq!(report[phase]["calls"], 30, "{phase}");
        assert_eq!(report[phase]["ended"], 30, "{phase}");
        assert_eq!(report[phase]["outcomes"], outcomes(24, 6), "{phase}");
        assert!(number(&report, &format!("/{phase}/sagas_per_s")) > 0.0);
        let latency = format!("/{phase}/latency");
        assert_eq!(number(&report, &format!("{latency}/count")), 30.0);
        let percentiles = ["p50_ms", "p90_ms", "p99_ms", "p99_9_ms", "max_ms"]
            .map(|p| number(&report, &format!("{latency}/{p}")));
        assert!(
            percentiles.windows(2).all(|w| w[0] <= w[1]),
            "{percentiles:?}"
        );
        assert!(percentiles[0] > 0.0);
    }
    let cpu = report["saga"]["cpu_s_per_saga"]
        .as_object()
        .expect("cpu by process");
    let mut processes: Vec<&str> = cpu.keys().map(String::as_str).collect();
    processes.sort_unstable();
    assert_eq!(
        processes,
        ["invoices-svc", "orchestrator", "orders-svc", "saga-bench"]
    );
    assert!(number(&report, "/saga_over_direct/throughput") > 0.0);
    assert!(number(&report, "/saga_log/records_per_saga") > 0.0);
    assert_eq!(report["saga_log"]["sagas_read"], 30);
    assert!(number(&report, "/saga_log/db_growth_bytes_per_saga") >= 0.0);
    let invariants = &report["invariants"];
    assert_eq!(invariants["passed"], true, "{invariants:#}");
    assert_eq!(invariants["violation_count"], 0);
    assert_eq!(invariants["sagas"], 30);
    assert_eq!(
        invariants["floor_records"],
        serde_json::json!({
            "orders_confirmed": 24,
            "orders_cancelled": 6,
            "orders_pending": 0,
            "invoices_issued": 24,
            "invoices_voided": 0,
        })
    );
}

#[test]
fn an_open_loop_run_on_relaxed_sqlite_without_the_floor_reports_the_saga_phase_alone() {
    let report = bench(&[
        "--rate",
        "40",
        "--duration",
        "1",
        "--no-floor",
        "--sqlite-sync",
        "normal",
    ]);
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["sqlite_sync"], "normal");
    assert_eq!(report["floor"], Value::Null);
    assert_eq!(report["saga_over_direct"], Value::Null);
    // 40 a second for one second: the calls scheduled within it, whatever the answers.
    assert_eq!(report["saga"]["calls"], 40);
    assert_eq!(report["saga"]["ended"], 40);
    assert_eq!(report["saga"]["outcomes"], outcomes(40, 0));
    assert_eq!(report["invariants"]["passed"], true);
}

#[test]
fn a_postgres_run_with_two_replicas_passes_the_invariant_check() {
    let Ok(server) = std::env::var("SAGA_TEST_POSTGRES_URL") else {
        eprintln!("skipped: SAGA_TEST_POSTGRES_URL names no PostgreSQL server");
        return;
    };
    let report = bench(&[
        "--backend",
        "postgres",
        "--postgres-url",
        &server,
        "--replicas",
        "2",
        "--concurrency",
        "4",
        "--sagas",
        "30",
        "--compensate-share",
        "0.2",
    ]);
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["backend"], "postgres");
    assert_eq!(report["replicas"], 2);
    for phase in ["saga", "floor"] {
        assert_eq!(report[phase]["ended"], 30, "{phase}");
        assert_eq!(report[phase]["outcomes"], outcomes(24, 6), "{phase}");
    }
    assert_eq!(report["invariants"]["sagas"], 30);
    assert!(number(&report, "/saga_log/wal_bytes_per_saga") > 0.0);
    assert!(number(&report, "/saga_log/db_growth_bytes_per_saga") >= 0.0);
}

#[test]
fn a_tiny_matrix_writes_its_table_plot_and_figures() {
    let out = tempfile::tempdir().expect("folder");
    let out_dir = out.path().to_str().expect("utf-8 path");
    let output = run(&[
        "matrix",
        "--backends",
        "sqlite",
        "--concurrency",
        "1,4",
        "--compensate",
        "0,0.5",
        "--sqlite-normal-concurrency",
        "4",
        "--overload",
        "1,2",
        "--runs",
        "1",
        "--duration",
        "0.3",
        "--out",
        out_dir,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "matrix failed; stderr:\n{stderr}");
    let printed = String::from_utf8_lossy(&output.stdout);
    let read = |name: &str| {
        let path = out.path().join(name);
        assert!(printed.contains(&path.display().to_string()), "{printed}");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let table = read("matrix.md");
    let rows = table.lines().filter(|l| l.starts_with("| sqlite | 1 |"));
    assert_eq!(rows.count(), 4, "{table}");
    assert!(
        table.contains("| sqlite (normal) | 1 | 4 | 0 % |"),
        "{table}"
    );
    assert!(table.contains("## Targets"), "{table}");
    // Open loops at 1× and 2× the best durable row's throughput, after the closed loops.
    assert!(table.contains("## Open loop (durable SQLite)"), "{table}");
    for multiple in ["| 1× |", "| 2× |"] {
        assert!(table.contains(multiple), "{multiple} missing: {table}");
    }
    let svg = read("matrix.svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // The durable cells' series (0 % and 50 % compensating, the floor), a dot per point.
    for label in [
        "sqlite 0 % compensating",
        "sqlite 50 % compensating",
        "sqlite direct floor",
    ] {
        assert!(svg.contains(label), "{label} missing: {svg}");
    }
    assert!(svg.matches("<circle").count() >= 4, "{svg}");
    let figures: Value = serde_json::from_str(&read("matrix.json")).expect("json");
    let cells = figures["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 5);
    for cell in cells {
        assert_eq!(cell["medians"]["passed"], 1, "{cell:#}");
    }
    let rows = figures["overload"].as_array().expect("open-loop rows");
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["medians"]["passed"], 1, "{row:#}");
    }
}
