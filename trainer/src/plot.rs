//! loss.png: training and validation loss per epoch (plotters, bitmap backend).
//!
//! Policy: no text is drawn (plotters' text needs system fonts that a fresh machine may lack),
//! so the picture cannot fail to render: x = optimizer step, train loss in blue, validation
//! loss in red, grey lines every 0.5 nats/char (darker at whole nats); metrics.csv holds the
//! numbers.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::train::MetricsRow;

/// Writes the curves of `rows` to `path` (atomically: rendered to a temp file, then renamed).
pub fn loss_png(path: &Path, rows: &[MetricsRow]) -> Result<()> {
    // The bitmap encoder picks the format from the extension, so the temp name ends in .png.
    let tmp = path.with_file_name(".loss.tmp.png");
    draw(&tmp, rows).map_err(|e| anyhow!("cannot draw {}: {e}", path.display()))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| anyhow!("cannot write {}: {e} (check the directory)", path.display()))
}

fn draw(path: &Path, rows: &[MetricsRow]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let steps = rows.last().map_or(1, |r| r.step.max(1)) as f64;
    let losses = rows
        .iter()
        .flat_map(|r| [r.train_loss, r.val_loss])
        .filter(|x| x.is_finite());
    let (lo, hi) = losses.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let mut chart = ChartBuilder::on(&root)
        .margin(20)
        .build_cartesian_2d(0.0..steps, (lo - pad)..(hi + pad))?;
    // Without text, a grid line every 0.5 nats (darker at whole nats) gives the scale.
    let (y0, y1) = (lo - pad, hi + pad);
    let mut y = (y0 * 2.0).ceil() / 2.0;
    while y <= y1 {
        let color = if y.fract() == 0.0 {
            RGBColor(170, 170, 170)
        } else {
            RGBColor(225, 225, 225)
        };
        chart.draw_series(LineSeries::new([(0.0, y), (steps, y)], color))?;
        y += 0.5;
    }
    chart.draw_series(LineSeries::new(
        [(0.0, y0), (steps, y0), (steps, y1), (0.0, y1), (0.0, y0)],
        BLACK,
    ))?;
    let series = |f: fn(&MetricsRow) -> f64| {
        rows.iter()
            .map(move |r| (r.step as f64, f(r)))
            .filter(|(_, y)| y.is_finite())
            .collect::<Vec<_>>()
    };
    chart.draw_series(LineSeries::new(
        series(|r| r.train_loss),
        BLUE.stroke_width(2),
    ))?;
    chart.draw_series(LineSeries::new(series(|r| r.val_loss), RED.stroke_width(2)))?;
    root.present()?;
    Ok(())
}
