//! loss.png: training and validation loss against epochs, as matplotlib or TensorBoard would
//! draw it: the run's name as the title, epochs on x, nats per character on the left axis and
//! bits per character (nats / ln 2) on the right one, tick values on all three, and a legend
//! naming the curves (train in blue, validation in red).
//!
//! Policy: the text is drawn with a font built into the binary (DejaVu Sans, cut down to
//! Latin-1; its licence in trainer/assets/DejaVuSans-LICENSE.txt) through plotters' `ab_glyph`
//! backend, never with system fonts (fontconfig), which a fresh machine may lack; a character
//! the font lacks is drawn as its missing-glyph box. metrics.csv holds the numbers.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use image::ImageEncoder;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::config::MetricsRow;
use charlstm_files::write_atomic;

/// The picture's size in pixels (width, height).
pub const SIZE: (u32, u32) = (900, 540);
/// Pixels above the plot area that hold the title.
pub const TITLE_BAND: u32 = 44;
/// Pixels below the plot area (x tick values, then the x axis label) and left and right of it
/// (y tick values, then the axis labels).
pub const X_LABEL_AREA: u32 = 56;
pub const Y_LABEL_AREA: u32 = 76;
/// Space around everything.
pub const MARGIN: u32 = 12;

/// The font: DejaVu Sans, U+0020-007E and U+00A0-00FF (and a few dashes), about 37 KB.
const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
/// The family name the font is registered under (plotters looks fonts up by name).
const FONT: &str = "charlstm-sans";

/// What to draw: the curves of `rows`, `title` on top.
#[derive(Debug, Clone, Copy)]
pub struct LossPlot<'a> {
    pub title: &'a str,
    pub rows: &'a [MetricsRow],
    /// Steps of a whole epoch: x = step / steps_per_epoch, so an epoch cut short by a time
    /// limit lands where it stopped.
    pub steps_per_epoch: u64,
    /// Whether the text has ink; `false` draws it in the background colour, the same layout
    /// with no visible text (the control of the plot test).
    pub text: bool,
}

/// Writes the plot to `path` as a PNG (with `charlstm_files::write_atomic`).
pub fn loss_png(path: &Path, plot: &LossPlot<'_>) -> Result<()> {
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    draw(&mut rgb, plot).map_err(|e| anyhow!("cannot draw {}: {e}", path.display()))?;
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&rgb, w, h, image::ColorType::Rgb8)
        .map_err(|e| anyhow!("cannot encode {}: {e}", path.display()))?;
    write_atomic(path, &png)
}

fn font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            register_font(FONT, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the built-in font does not load".to_string())
        })
        .clone()
}

/// Renders the plot into `rgb` (SIZE, 3 bytes a pixel, row-major).
fn draw(rgb: &mut [u8], plot: &LossPlot<'_>) -> Result<(), Box<dyn std::error::Error>> {
    font()?;
    let ink = if plot.text { BLACK } else { WHITE };
    let text = |size: u32| (FONT, size).into_font().color(&ink);
    let rows = plot.rows;
    let spe = plot.steps_per_epoch.max(1) as f64;
    let epochs = rows.last().map_or(1.0, |r| r.step as f64 / spe).max(1e-3);
    let losses = rows
        .iter()
        .flat_map(|r| [r.train_loss, r.val_loss])
        .filter(|x| x.is_finite());
    let (lo, hi) = losses.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let (y0, y1) = (lo - pad, hi + pad);
    let ln2 = std::f64::consts::LN_2;

    let root = BitMapBackend::with_buffer(rgb, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (w, _) = SIZE;
    root.draw(&Text::new(
        plot.title.to_string(),
        ((w / 2) as i32, (MARGIN + TITLE_BAND / 2) as i32),
        text(22).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        )),
    ))?;
    let mut chart = ChartBuilder::on(&root)
        .margin(MARGIN)
        .margin_top(MARGIN + TITLE_BAND)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .right_y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..epochs, y0..y1)?
        .set_secondary_coord(0.0..epochs, y0 / ln2..y1 / ln2);
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss (nats/char)")
        .label_style(text(14))
        .axis_desc_style(text(16))
        .bold_line_style(RGBColor(215, 215, 215))
        .light_line_style(RGBColor(246, 246, 246))
        .axis_style(RGBColor(90, 90, 90))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .x_label_formatter(&|x| format_epoch(*x))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("bits per character (bpc)")
        .label_style(text(14))
        .axis_desc_style(text(16))
        .axis_style(RGBColor(90, 90, 90))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .draw()?;
    let series = |f: fn(&MetricsRow) -> f64| {
        rows.iter()
            .map(move |r| (r.step as f64 / spe, f(r)))
            .filter(|(_, y)| y.is_finite())
            .collect::<Vec<_>>()
    };
    let points = if rows.len() <= 50 { 2 } else { 0 };
    for (name, color, f) in [
        ("train", BLUE, (|r| r.train_loss) as fn(&MetricsRow) -> f64),
        ("validation", RED, |r| r.val_loss),
    ] {
        chart
            // Points too, so that a single epoch shows.
            .draw_series(LineSeries::new(series(f), color.stroke_width(2)).point_size(points))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE)
        .border_style(RGBColor(170, 170, 170))
        .label_font(text(15))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Tick values: at most two decimals, no trailing zeros (0.5, 1, 1.5).
fn format_epoch(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
