//! The SVG chart of a run: the latency CDF beside throughput over time.
//! With several configurations (`--compare-nodes`) each run is one line in
//! both panels, labelled with its throughput and p99.
//!
//! Drawn with plotters' SVG backend only (no bitmap or font dependencies):
//! SVG text is laid out by the viewer's browser, so no system fonts are
//! needed to build or run the harness.

use std::path::Path;

use anyhow::Context;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::report::Report;

/// One line in each panel.
struct Series<'a> {
    label: String,
    cdf: &'a [(f64, f64)],
    rates: &'a [(f64, f64)],
}

/// Line colours, one per run.
const COLOURS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

/// The runs of `report` (or the report itself when it holds one run).
fn series(report: &Report) -> Vec<Series<'_>> {
    if report.runs.len() > 1 {
        return report
            .runs
            .iter()
            .map(|run| Series {
                label: format!(
                    "{}: {:.0}/s, p99 {:.1} ms",
                    run.label, run.throughput_per_s, run.latency_ms.p99
                ),
                cdf: &run.latency_cdf,
                rates: &run.throughput_over_time,
            })
            .collect();
    }
    vec![Series {
        label: String::new(),
        cdf: &report.latency_cdf,
        rates: &report.throughput_over_time,
    }]
}

/// Write the chart of `report` to `path`.
pub fn write_svg(report: &Report, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1100, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (left, right) = root.split_horizontally(550);
    draw_cdf(report, &left).map_err(|e| anyhow::anyhow!("latency chart: {e}"))?;
    draw_throughput(report, &right).map_err(|e| anyhow::anyhow!("throughput chart: {e}"))?;
    root.present()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("writing {}", path.display()))
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw_cdf(report: &Report, area: &Area<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let all = series(report);
    let max_ms = all
        .iter()
        .flat_map(|s| s.cdf)
        .map(|p| p.0)
        .fold(1.0_f64, f64::max)
        * 1.05;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{}: latency CDF (ms)", report.scenario),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..max_ms, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("latency (ms)")
        .y_desc("fraction ≤")
        .draw()?;
    for (k, line) in all.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let drawn = chart.draw_series(LineSeries::new(
            line.cdf.iter().copied(),
            colour.stroke_width(2),
        ))?;
        if !line.label.is_empty() {
            drawn.label(line.label.clone()).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        }
    }
    legend(&mut chart, &all)
}

/// The runs' labels in the lower right corner, when there are several.
fn legend<'a>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    all: &[Series<'_>],
) -> Result<(), Box<dyn std::error::Error>> {
    if all.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()?;
    }
    Ok(())
}

fn draw_throughput(report: &Report, area: &Area<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let all = series(report);
    let points = || all.iter().flat_map(|s| s.rates);
    let max_t = points().map(|p| p.0).fold(1.0_f64, f64::max) * 1.05;
    let max_rate = points().map(|p| p.1).fold(1.0_f64, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{} per second", report.throughput_unit),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..max_t, 0.0..max_rate)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("per second")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for (k, line) in all.iter().enumerate() {
        let colour = if all.len() > 1 {
            COLOURS[k % COLOURS.len()]
        } else {
            RED
        };
        let drawn = chart.draw_series(LineSeries::new(
            line.rates.iter().copied(),
            colour.stroke_width(2),
        ))?;
        if !line.label.is_empty() {
            drawn.label(line.label.clone()).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        }
    }
    legend(&mut chart, &all)
}
