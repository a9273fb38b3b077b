//! The matrix as an SVG drawn by hand: throughput and p99 (log scale) against concurrency
//! per backend and compensating share, the direct floor dotted beside them, and
//! throughput against PostgreSQL replicas (durable settings only).

use std::fmt::Write as _;

use super::{CellResult, Matrix};
use crate::config::Backend;
use crate::matrix::figures::Medians;

const PANEL_W: f64 = 330.0;
const PANEL_H: f64 = 270.0;
const LEFT: f64 = 70.0;
const GAP: f64 = 75.0;
const TOP: f64 = 60.0;

/// One line of a panel: points at category indexes.
#[derive(Debug, Clone)]
struct Series {
    label: String,
    color: &'static str,
    dash: &'static str,
    points: Vec<(usize, f64)>,
}

/// One chart: a categorical x axis, a linear or logarithmic y axis.
#[derive(Debug, Clone)]
struct Panel {
    title: String,
    x_title: &'static str,
    x_labels: Vec<String>,
    y_log: bool,
    series: Vec<Series>,
}

/// The whole `matrix.svg`.
pub fn render(matrix: &Matrix) -> String {
    // The durable cells only; the relaxed SQLite ones are in the table.
    let durable: Vec<CellResult> = matrix
        .cells
        .iter()
        .filter(|c| c.cell.durable())
        .cloned()
        .collect();
    let panels = panels(&durable);
    let width = LEFT + 3.0 * PANEL_W + 2.0 * GAP + 30.0;
    let height = TOP + PANEL_H + 140.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">saga-bench matrix: medians of {} runs per cell, {} s per phase, {} CPUs</text>"#,
        matrix.runs_per_cell, matrix.duration_s, matrix.cpus
    );
    for (i, panel) in panels.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x0 = LEFT + i as f64 * (PANEL_W + GAP);
        draw(&mut out, panel, x0);
    }
    legend(&mut out, &panels, TOP + PANEL_H + 60.0);
    out.push_str("</svg>\n");
    out
}

fn panels(cells: &[CellResult]) -> Vec<Panel> {
    let mut concurrencies: Vec<u32> = cells
        .iter()
        .filter(|c| c.cell.replicas == 1)
        .map(|c| c.cell.concurrency)
        .collect();
    concurrencies.sort_unstable();
    concurrencies.dedup();
    let x_of = |c: u32| concurrencies.iter().position(|&x| x == c);
    let mut throughput = Vec::new();
    let mut p99 = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut shares: Vec<f64> = cells
            .iter()
            .filter(|c| c.cell.backend == backend)
            .map(|c| c.cell.compensate)
            .collect();
        shares.sort_by(f64::total_cmp);
        shares.dedup();
        for (k, &share) in shares.iter().enumerate() {
            let ours = |c: &&CellResult| {
                c.cell.backend == backend && c.cell.replicas == 1 && c.cell.compensate == share
            };
            let line = |pick: fn(&Medians) -> Option<f64>, dash, label: String| Series {
                label,
                color: color(backend),
                dash,
                points: cells
                    .iter()
                    .filter(ours)
                    .filter_map(|c| Some((x_of(c.cell.concurrency)?, pick(&c.medians)?)))
                    .collect(),
            };
            let label = format!("{backend} {:.0} % compensating", share * 100.0);
            let dash = if k == 0 { "" } else { "7 4" };
            throughput.push(line(|m| m.sagas_per_s, dash, label.clone()));
            p99.push(line(|m| m.p99_ms, dash, label));
            if k == 0 {
                let label = format!("{backend} direct floor");
                throughput.push(line(|m| m.floor_sagas_per_s, "2 3", label.clone()));
                p99.push(line(|m| m.floor_p99_ms, "2 3", label));
            }
        }
    }
    let x_labels: Vec<String> = concurrencies.iter().map(u32::to_string).collect();
    vec![
        Panel {
            title: "throughput (ended sagas/s)".into(),
            x_title: "concurrency",
            x_labels: x_labels.clone(),
            y_log: false,
            series: throughput,
        },
        Panel {
            title: "p99 latency (ms, log scale)".into(),
            x_title: "concurrency",
            x_labels,
            y_log: true,
            series: p99,
        },
        replica_panel(cells),
    ]
}

fn replica_panel(cells: &[CellResult]) -> Panel {
    let replica_cells: Vec<&CellResult> = cells
        .iter()
        .filter(|c| c.cell.backend == Backend::Postgres && c.cell.compensate == 0.0)
        .filter(|c| {
            cells
                .iter()
                .any(|o| o.cell.replicas > 1 && o.cell.concurrency == c.cell.concurrency)
        })
        .collect();
    let concurrency = replica_cells.first().map_or(0, |c| c.cell.concurrency);
    let line = |pick: fn(&Medians) -> Option<f64>, dash, label: &str| Series {
        label: label.to_string(),
        color: color(Backend::Postgres),
        dash,
        points: replica_cells
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, pick(&c.medians)?)))
            .collect(),
    };
    Panel {
        title: format!("postgres replicas at concurrency {concurrency} (sagas/s)"),
        x_title: "orchestrator replicas",
        x_labels: replica_cells
            .iter()
            .map(|c| c.cell.replicas.to_string())
            .collect(),
        y_log: false,
        series: vec![
            line(|m| m.sagas_per_s, "", "postgres 0 % compensating"),
            line(|m| m.floor_sagas_per_s, "2 3", "postgres direct floor"),
        ],
    }
}

fn color(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "#1f77b4",
        Backend::Postgres => "#d62728",
    }
}

fn draw(out: &mut String, panel: &Panel, x0: f64) {
    let values: Vec<f64> = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite() && (!panel.y_log || *v > 0.0))
        .collect();
    let axis = super::axis::Axis::fit(&values, panel.y_log);
    let bottom = TOP + PANEL_H;
    let _ = writeln!(
        out,
        r#"<text x="{x0}" y="{}" font-weight="bold">{}</text>"#,
        TOP - 12.0,
        escape(&panel.title)
    );
    for (value, label) in axis.ticks() {
        let y = bottom - axis.fraction(value) * PANEL_H;
        let _ = writeln!(
            out,
            r##"<line x1="{x0}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
            x0 + PANEL_W,
            x0 - 6.0,
            y + 4.0
        );
    }
    let n = panel.x_labels.len().max(1);
    #[allow(clippy::cast_precision_loss)]
    let x_at = |i: usize| x0 + PANEL_W * (i as f64 + 0.5) / n as f64;
    for (i, label) in panel.x_labels.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x_at(i),
            bottom + 18.0,
            escape(label)
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#444">{}</text>"##,
        x0 + PANEL_W / 2.0,
        bottom + 36.0,
        panel.x_title
    );
    let _ = writeln!(
        out,
        r##"<rect x="{x0}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#888"/>"##
    );
    for series in &panel.series {
        let points: Vec<(f64, f64)> = series
            .points
            .iter()
            .filter(|(_, v)| v.is_finite() && (!panel.y_log || *v > 0.0))
            .map(|&(i, v)| (x_at(i), bottom - axis.fraction(v) * PANEL_H))
            .collect();
        if points.is_empty() {
            continue;
        }
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>"#,
            path.join(" "),
            series.color,
            series.dash
        );
        for (x, y) in points {
            let _ = writeln!(
                out,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{}"/>"#,
                series.color
            );
        }
    }
}

fn legend(out: &mut String, panels: &[Panel], top: f64) {
    let mut seen: Vec<&Series> = Vec::new();
    for series in panels.iter().flat_map(|p| &p.series) {
        if !seen.iter().any(|s| s.label == series.label) {
            seen.push(series);
        }
    }
    for (i, series) in seen.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let (x, y) = (
            LEFT + (i % 3) as f64 * (PANEL_W + GAP),
            top + (i / 3) as f64 * 20.0,
        );
        let _ = writeln!(
            out,
            r#"<line x1="{x}" x2="{}" y1="{y}" y2="{y}" stroke="{}" stroke-width="2" stroke-dasharray="{}"/><text x="{}" y="{}">{}</text>"#,
            x + 30.0,
            series.color,
            series.dash,
            x + 38.0,
            y + 4.0,
            escape(&series.label)
        );
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
