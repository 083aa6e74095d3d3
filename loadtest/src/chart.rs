//! The SVG chart of a run: the latency CDF beside throughput over time.
//!
//! Drawn with plotters' SVG backend only (no bitmap or font dependencies):
//! SVG text is laid out by the viewer's browser, so no system fonts are
//! needed to build or run the harness.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use crate::report::Report;

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
    let points = &report.latency_cdf;
    let max_ms = points.iter().map(|p| p.0).fold(1.0_f64, f64::max) * 1.05;
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
    chart.draw_series(LineSeries::new(
        points.iter().copied(),
        BLUE.stroke_width(2),
    ))?;
    Ok(())
}

fn draw_throughput(report: &Report, area: &Area<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let points = &report.throughput_over_time;
    let max_t = points.iter().map(|p| p.0).fold(1.0_f64, f64::max) * 1.05;
    let max_rate = points.iter().map(|p| p.1).fold(1.0_f64, f64::max) * 1.1;
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
    chart.draw_series(LineSeries::new(points.iter().copied(), RED.stroke_width(2)))?;
    Ok(())
}
