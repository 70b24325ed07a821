//! loss.png has its text: the title, the axis labels and the legend leave ink where they
//! belong, and the same plot with its text in the background colour leaves none there (so
//! the check can fail).

use charlstm_trainer::config::MetricsRow;
use charlstm_trainer::plot::{
    LossPlot, MARGIN, SIZE, TITLE_BAND, X_LABEL_AREA, Y_LABEL_AREA, loss_png,
};

/// Ten epochs of falling losses, 100 steps each.
fn rows() -> Vec<MetricsRow> {
    (1..=10u64)
        .map(|e| {
            let val = 1.4 + 1.0 / e as f64;
            MetricsRow {
                epoch: e,
                step: 100 * e,
                train_loss: 1.3 + 1.2 / e as f64,
                val_loss: val,
                val_bpc: val / std::f64::consts::LN_2,
                lr: 1e-3,
                chars_per_s: 1e5,
                elapsed_s: e as f64,
            }
        })
        .collect()
}

fn render(dir: &std::path::Path, text: bool) -> image::RgbImage {
    let path = dir.join(format!("loss-{text}.png"));
    let rows = rows();
    let plot = LossPlot {
        title: "nietzsche",
        rows: &rows,
        steps_per_epoch: 100,
        text,
    };
    loss_png(&path, &plot).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), SIZE);
    img
}

/// Pixels darker than mid-grey in columns `x` and rows `y` (text is black; the curves are
/// pure blue and red, the grid and frame light grey, so none of them count).
fn ink(img: &image::RgbImage, x: std::ops::Range<u32>, y: std::ops::Range<u32>) -> usize {
    y.flat_map(|y| x.clone().map(move |x| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&c| c < 100))
        .count()
}

#[test]
fn the_plot_has_a_title_axis_labels_and_a_legend() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = SIZE;
    // The bands hold only their own text: the title above the plot area, the axis labels in
    // the outer third of their label areas (tick values sit next to the axes), the legend in
    // the plot area's top right corner.
    let bands = [
        (
            "title",
            w / 2 - 150..w / 2 + 150,
            MARGIN..MARGIN + TITLE_BAND,
        ),
        (
            "x axis label",
            w / 2 - 100..w / 2 + 100,
            h - MARGIN - X_LABEL_AREA / 2..h - MARGIN,
        ),
        (
            "y axis label (nats)",
            MARGIN..MARGIN + Y_LABEL_AREA / 4,
            h / 4..3 * h / 4,
        ),
        (
            "y axis label (bpc)",
            w - MARGIN - Y_LABEL_AREA / 4..w - MARGIN,
            h / 4..3 * h / 4,
        ),
        (
            "legend",
            w - MARGIN - Y_LABEL_AREA - 130..w - MARGIN - Y_LABEL_AREA - 10,
            MARGIN + TITLE_BAND + 5..MARGIN + TITLE_BAND + 60,
        ),
    ];
    let with = render(dir.path(), true);
    let without = render(dir.path(), false);
    for (name, x, y) in bands {
        let (a, b) = (
            ink(&with, x.clone(), y.clone()),
            ink(&without, x.clone(), y.clone()),
        );
        assert!(
            a >= 30,
            "{name} ({x:?}, {y:?}): {a} dark pixels, no text there"
        );
        assert_eq!(
            b, 0,
            "{name} ({x:?}, {y:?}): ink without text, the band is not text only"
        );
    }
    // The tick values too: the text-less plot has far less ink overall.
    let all = |img| ink(img, 0..w, 0..h);
    assert!(
        all(&with) > all(&without) + 1000,
        "{} vs {}",
        all(&with),
        all(&without)
    );
}
