//! The matrix as an SVG drawn with plotters: throughput and p99 (log scale) against
//! concurrency per backend and compensating share, the direct floor dotted beside them,
//! and throughput against PostgreSQL replicas (durable settings only).

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordusize;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::{CellResult, Matrix};
use crate::config::Backend;
use crate::matrix::figures::Medians;

const WIDTH: u32 = 1_200;
const HEIGHT: u32 = 440;
/// The height of the legend under the panels.
const LEGEND: u32 = 60;
const FONT: &str = "sans-serif";

/// How a series' line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dash {
    Solid,
    Dashed,
    Dotted,
}

/// One line of a panel: points at category indexes.
#[derive(Debug, Clone)]
struct Series {
    label: String,
    color: RGBColor,
    dash: Dash,
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
pub fn render(matrix: &Matrix) -> Result<String> {
    // The durable cells only; the relaxed SQLite ones are in the table.
    let durable: Vec<CellResult> = matrix
        .cells
        .iter()
        .filter(|c| c.cell.durable())
        .cloned()
        .collect();
    let panels = panels(&durable);
    let title = format!(
        "saga-bench matrix: medians of {} runs per cell, {} s per phase, {} CPUs",
        matrix.runs_per_cell, matrix.duration_s, matrix.cpus
    );
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let root = root.titled(&title, (FONT, 16)).map_err(plot_error)?;
        let (charts, legend_area) = root.split_vertically(HEIGHT - LEGEND - 30);
        let areas = charts.split_evenly((1, panels.len().max(1)));
        for (panel, area) in panels.iter().zip(&areas) {
            draw(area, panel)?;
        }
        legend(&legend_area, &panels)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn plot_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("cannot draw the matrix: {error}")
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
            let dash = if k == 0 { Dash::Solid } else { Dash::Dashed };
            throughput.push(line(|m| m.sagas_per_s, dash, label.clone()));
            p99.push(line(|m| m.p99_ms, dash, label));
            if k == 0 {
                let label = format!("{backend} direct floor");
                throughput.push(line(|m| m.floor_sagas_per_s, Dash::Dotted, label.clone()));
                p99.push(line(|m| m.floor_p99_ms, Dash::Dotted, label));
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
            line(|m| m.sagas_per_s, Dash::Solid, "postgres 0 % compensating"),
            line(
                |m| m.floor_sagas_per_s,
                Dash::Dotted,
                "postgres direct floor",
            ),
        ],
    }
}

fn color(backend: Backend) -> RGBColor {
    match backend {
        Backend::Sqlite => RGBColor(0x1f, 0x77, 0xb4),
        Backend::Postgres => RGBColor(0xd6, 0x27, 0x28),
    }
}

/// Draws `panel` in `area`.
fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> Result<()> {
    let values: Vec<f64> = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite() && (!panel.y_log || *v > 0.0))
        .collect();
    let high = values.iter().copied().fold(0.0, f64::max);
    // One segment per label (a segmented range holds its end too).
    let x = (0..panel.x_labels.len().saturating_sub(1)).into_segmented();
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&panel.title, (FONT, 13))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55);
    if panel.y_log {
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let (low, high) = match low.is_finite() {
            true => (low / 1.5, high * 1.5),
            false => (1.0, 10.0),
        };
        let chart = builder
            .build_cartesian_2d(x, (low..high).log_scale())
            .map_err(plot_error)?;
        plot(chart, panel)
    } else {
        let high = if high > 0.0 { high * 1.1 } else { 1.0 };
        let chart = builder
            .build_cartesian_2d(x, 0.0..high)
            .map_err(plot_error)?;
        plot(chart, panel)
    }
}

/// The axes and the lines of `panel` on `chart`.
fn plot<DB, Y>(
    mut chart: ChartContext<'_, DB, Cartesian2d<SegmentedCoord<RangedCoordusize>, Y>>,
    panel: &Panel,
) -> Result<()>
where
    DB: DrawingBackend,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let label = |x: &SegmentValue<usize>| match x {
        SegmentValue::CenterOf(i) => panel.x_labels.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(panel.x_labels.len().max(1))
        .x_label_formatter(&label)
        .x_desc(panel.x_title)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .draw()
        .map_err(plot_error)?;
    for series in &panel.series {
        let points: Vec<(SegmentValue<usize>, f64)> = series
            .points
            .iter()
            .filter(|(_, v)| v.is_finite() && (!panel.y_log || *v > 0.0))
            .map(|&(i, v)| (SegmentValue::CenterOf(i), v))
            .collect();
        let dots = points
            .iter()
            .map(|point| Circle::new(point.clone(), 3, series.color.filled()));
        chart.draw_series(dots).map_err(plot_error)?;
        let style = series.color.stroke_width(2);
        match series.dash {
            Dash::Solid => chart.draw_series(LineSeries::new(points, style)),
            Dash::Dashed => chart.draw_series(DashedLineSeries::new(points, 7, 4, style)),
            Dash::Dotted => chart.draw_series(DashedLineSeries::new(points, 2, 3, style)),
        }
        .map_err(plot_error)?;
    }
    Ok(())
}

/// Each series once, three to a row.
fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panels: &[Panel]) -> Result<()> {
    let mut seen: Vec<&Series> = Vec::new();
    for series in panels.iter().flat_map(|p| &p.series) {
        if !seen.iter().any(|s| s.label == series.label) {
            seen.push(series);
        }
    }
    let column = i32::try_from(WIDTH / 3).unwrap_or(400);
    for (i, series) in seen.iter().enumerate() {
        let i = i32::try_from(i).unwrap_or(0);
        let (x, y) = (70 + (i % 3) * column, 15 + (i / 3) * 20);
        let style = series.color.stroke_width(2);
        let line = [(x, y), (x + 30, y)];
        match series.dash {
            Dash::Solid => area.draw(&PathElement::new(line, style)),
            Dash::Dashed => area.draw(&DashedPathElement::new(line, 7, 4, style)),
            Dash::Dotted => area.draw(&DashedPathElement::new(line, 2, 3, style)),
        }
        .map_err(plot_error)?;
        let text = Text::new(series.label.clone(), (x + 38, y - 7), (FONT, 12));
        area.draw(&text).map_err(plot_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matrix of the last committed run (`bench/results/matrix.json`), drawn again:
    /// set `SAGA_BENCH_REDRAW=1` to write the plot next to it.
    #[test]
    fn the_committed_matrix_is_drawn_with_every_panel_and_series() -> Result<()> {
        let (dir, matrix) = crate::matrix::committed()?;
        let svg = render(&matrix)?;
        for text in [
            "saga-bench matrix",
            "throughput (ended sagas/s)",
            "p99 latency (ms, log scale)",
            "sqlite 0 % compensating",
            "sqlite direct floor",
            "concurrency",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        if std::env::var_os("SAGA_BENCH_REDRAW").is_some() {
            std::fs::write(dir.join("matrix.svg"), &svg)?;
        }
        Ok(())
    }
}
