//! The side-by-side report: a markdown table and a small SVG plot of the time until an
//! order and its invoice agree, per pattern.

use std::fmt::Write as _;

use serde::Serialize;

use super::drive::Phase;
use super::{Pattern, PatternsConfig};

/// One pattern's phases.
#[derive(Debug, Clone, Serialize)]
pub struct PatternResult {
    pub pattern: Pattern,
    pub steady: Phase,
    pub outage: Option<Phase>,
}

/// Every pattern run, with what they ran.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub concurrency: u32,
    pub sync_interval_ms: u64,
    pub outage_secs: u64,
    pub results: Vec<PatternResult>,
}

impl Report {
    pub fn new(config: &PatternsConfig, results: Vec<PatternResult>) -> Self {
        Self {
            concurrency: config.concurrency,
            sync_interval_ms: config.sync_interval_ms,
            outage_secs: config.outage_secs,
            results,
        }
    }

    /// The results as a markdown table (steady phase), then the outage phase's.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| pattern | orders | place p50 / p99 ms | consistent p50 / p99 / max ms | orders/s | CPU ms/order |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for result in &self.results {
            let p = &result.steady;
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} / {:.1} | {:.0} / {:.0} / {:.0} | {:.0} | {:.2} |",
                result.pattern.label(),
                p.confirmed + p.cancelled,
                p.placed.p50_ms,
                p.placed.p99_ms,
                p.consistent.p50_ms,
                p.consistent.p99_ms,
                p.consistent.max_ms,
                p.orders_per_s,
                p.cpu_ms_per_order,
            );
        }
        if self.results.iter().any(|r| r.outage.is_some()) {
            let _ = writeln!(
                out,
                "\nWith invoices-svc paused (SIGSTOP) for {} s, one second into the run:\n",
                self.outage_secs
            );
            let _ = writeln!(
                out,
                "| pattern | orders placed / consistent | place p99 / max ms | consistent max s | all consistent after resume, s |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---:|");
            for result in &self.results {
                let Some(p) = &result.outage else { continue };
                let _ = writeln!(
                    out,
                    "| {} | {} / {} | {:.0} / {:.0} | {:.1} | {:.2} |",
                    result.pattern.label(),
                    p.orders,
                    p.confirmed + p.cancelled,
                    p.placed.p99_ms,
                    p.placed.max_ms,
                    p.consistent.max_ms / 1_000.0,
                    p.recovered_after_s.unwrap_or(0.0),
                );
            }
        }
        out
    }

    /// Horizontal bars, on a log scale: the steady phase's place p50 and the time until
    /// consistent at p50 and p99, per pattern.
    pub fn svg(&self) -> String {
        const LEFT: f64 = 190.0;
        const WIDTH: f64 = 460.0;
        const ROW: f64 = 64.0;
        let top = 40.0;
        let height = top + ROW * self.results.len() as f64 + 50.0;
        let (low, high) = (0.1_f64.log10(), 10_000_f64.log10());
        let x =
            |ms: f64| LEFT + WIDTH * ((ms.max(0.1).log10() - low) / (high - low)).clamp(0.0, 1.0);
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="sans-serif" font-size="12">"#,
            LEFT + WIDTH + 30.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="10" y="20" font-size="14">Time until order and invoice agree (ms, log scale), concurrency {}</text>"#,
            self.concurrency
        );
        for tick in [0.1, 1.0, 10.0, 100.0, 1_000.0, 10_000.0] {
            let tx = x(tick);
            let _ = writeln!(
                svg,
                r##"<line x1="{tx}" y1="{top}" x2="{tx}" y2="{}" stroke="#ddd"/><text x="{tx}" y="{}" text-anchor="middle">{tick}</text>"##,
                height - 40.0,
                height - 25.0
            );
        }
        let bars = [
            ("place p50", "#999"),
            ("consistent p50", "#3a7"),
            ("consistent p99", "#c63"),
        ];
        for (row, result) in self.results.iter().enumerate() {
            let y = top + ROW * row as f64;
            let _ = writeln!(
                svg,
                r#"<text x="10" y="{}">{}</text>"#,
                y + 30.0,
                result.pattern.label()
            );
            let p = &result.steady;
            let values = [p.placed.p50_ms, p.consistent.p50_ms, p.consistent.p99_ms];
            for (i, ((label, color), ms)) in bars.iter().zip(values).enumerate() {
                let by = y + 8.0 + 16.0 * i as f64;
                let _ = writeln!(
                    svg,
                    r#"<rect x="{LEFT}" y="{by}" width="{:.1}" height="12" fill="{color}"/><text x="{:.1}" y="{}" font-size="10">{label} {ms:.1}</text>"#,
                    x(ms) - LEFT,
                    x(ms) + 4.0,
                    by + 10.0
                );
            }
        }
        svg.push_str("</svg>\n");
        svg
    }
}
