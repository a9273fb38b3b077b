//! Tables for a terminal: sagas listed (status, definition, age, current step) and a
//! saga's calls as a timeline. Colours only when stdout is a terminal and `NO_COLOR` is
//! not set.

use comfy_table::presets::NOTHING;
use comfy_table::{Attribute, Cell, CellAlignment, Color, Table};
use saga_contracts::saga::v1 as pb;

/// A page of sagas, newest first, then the counts by status and the next page's token.
pub fn sagas(listed: &pb::ListSagasResponse, now_ms: i64) -> String {
    let mut table = table(["SAGA", "STATUS", "DEFINITION", "AGE", "STEP", "KEY"]);
    for saga in &listed.sagas {
        let created = millis(saga.created_at.as_ref()).unwrap_or(now_ms);
        let mut status = saga.status().short_name().to_string();
        if saga.parked {
            status.push_str(" (parked)");
        }
        table.add_row(vec![
            Cell::new(&saga.saga_id),
            Cell::new(status).fg(status_colour(saga.status(), saga.parked)),
            Cell::new(format!("{} v{}", saga.definition, saga.definition_version)),
            Cell::new(age(now_ms - created)).set_alignment(CellAlignment::Right),
            Cell::new(current_step(saga)),
            Cell::new(&saga.idempotency_key),
        ]);
    }
    let mut counts: Vec<(&String, &u64)> = listed.counts.iter().collect();
    counts.sort();
    let counts: Vec<String> = counts
        .into_iter()
        .map(|(status, n)| format!("{} {n}", status.to_lowercase()))
        .collect();
    let mut out = format!("{table}\ncounts: {}", counts.join(", "));
    if !listed.next_page_token.is_empty() {
        out.push_str(&format!(
            "\nnext page: --page-token {}",
            listed.next_page_token
        ));
    }
    out
}

/// The saga's calls, one row per call in the order they started: when (from the saga's
/// creation), how long, step and phase (compensations marked `↩`), attempt, outcome,
/// error; then when the waiting call is tried next, if it waits.
pub fn timeline(saga: &pb::Saga) -> String {
    let origin = millis(saga.created_at.as_ref()).unwrap_or(0);
    let mut calls: Vec<(&str, &pb::StepAttempt)> = saga
        .steps
        .iter()
        .flat_map(|step| {
            step.calls
                .iter()
                .map(move |call| (step.name.as_str(), call))
        })
        .collect();
    calls.sort_by_key(|(_, call)| millis(call.started_at.as_ref()));
    let mut table = table(["START", "TOOK", "STEP", "ATTEMPT", "OUTCOME", "ERROR"]);
    for (step, call) in calls {
        let started = millis(call.started_at.as_ref()).unwrap_or(origin);
        let took = millis(call.ended_at.as_ref())
            .map_or_else(|| "…".to_string(), |end| format!("{} ms", end - started));
        let step = match call.phase() {
            pb::StepPhase::Compensation => format!("↩ {step}"),
            _ => step.to_string(),
        };
        table.add_row(vec![
            Cell::new(format!("+{} ms", started - origin)).set_alignment(CellAlignment::Right),
            Cell::new(took).set_alignment(CellAlignment::Right),
            Cell::new(step),
            Cell::new(call.attempt).set_alignment(CellAlignment::Right),
            Cell::new(&call.outcome).fg(outcome_colour(&call.outcome)),
            Cell::new(&call.error),
        ]);
    }
    let mut out = table.to_string();
    for step in &saga.steps {
        if let Some(at) = &step.next_attempt_at {
            out.push_str(&format!("\nnext attempt of {}: {at}", step.name));
        }
    }
    out
}

fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table.load_style(NOTHING);
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        table.force_no_tty();
    }
    table.set_header(header.map(|h| Cell::new(h).add_attribute(Attribute::Bold)));
    table
}

/// The step a saga is at: the one running or compensating, or the one that failed it.
fn current_step(saga: &pb::Saga) -> String {
    let at = |status: &str| saga.steps.iter().find(|s| s.status == status);
    match (at("running"), at("compensating"), at("failed")) {
        (Some(step), _, _) => step.name.clone(),
        (_, Some(step), _) => format!("↩ {}", step.name),
        (_, _, Some(step)) if saga.status() == pb::SagaStatus::Failed => step.name.clone(),
        _ => "-".to_string(),
    }
}

fn status_colour(status: pb::SagaStatus, parked: bool) -> Color {
    match status {
        _ if parked => Color::Magenta,
        pb::SagaStatus::Completed => Color::Green,
        pb::SagaStatus::Compensated => Color::Yellow,
        pb::SagaStatus::Failed => Color::Red,
        pb::SagaStatus::Resolved => Color::Blue,
        pb::SagaStatus::Running | pb::SagaStatus::Compensating => Color::Cyan,
        pb::SagaStatus::Unspecified => Color::Reset,
    }
}

fn outcome_colour(outcome: &str) -> Color {
    match outcome {
        "succeeded" | "skipped" => Color::Green,
        "retrying" | "interrupted" => Color::Yellow,
        "parked" => Color::Magenta,
        "failed" => Color::Red,
        _ => Color::Reset,
    }
}

/// A duration as its largest unit: `42s`, `5m`, `3h`, `2d`.
fn age(ms: i64) -> String {
    let s = ms.max(0) / 1_000;
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
}

/// A timestamp in milliseconds since the epoch.
pub fn millis(at: Option<&prost_types::Timestamp>) -> Option<i64> {
    at.map(|t| {
        t.seconds
            .saturating_mul(1_000)
            .saturating_add(i64::from(t.nanos) / 1_000_000)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_their_largest_unit() {
        let cases = [
            (0, "0s"),
            (59_999, "59s"),
            (60_000, "1m"),
            (7_200_000, "2h"),
        ];
        for (ms, text) in cases {
            assert_eq!(age(ms), text);
        }
        assert_eq!(age(3 * 86_400_000), "3d");
        assert_eq!(age(-5), "0s", "a clock behind the orchestrator's");
    }

    #[test]
    fn a_listing_shows_each_saga_with_its_current_step_and_the_counts() {
        let saga = pb::Saga {
            saga_id: "s-1".into(),
            status: pb::SagaStatus::Running.into(),
            parked: true,
            definition: "place-order".into(),
            definition_version: 2,
            idempotency_key: "k-1".into(),
            created_at: Some(prost_types::Timestamp {
                seconds: 100,
                nanos: 0,
            }),
            steps: vec![pb::StepState {
                name: "confirm_order".into(),
                status: "running".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let listed = pb::ListSagasResponse {
            sagas: vec![saga],
            next_page_token: "7".into(),
            counts: [("RUNNING".to_string(), 1)].into(),
        };
        let text = sagas(&listed, 400_000);
        for part in [
            "s-1",
            "RUNNING (parked)",
            "place-order v2",
            "5m",
            "confirm_order",
            "k-1",
            "counts: running 1",
            "--page-token 7",
        ] {
            assert!(text.contains(part), "{part:?} in\n{text}");
        }
    }
}
