//! The frontier plot: the measured iron triangle as an SVG picture.
//!
//! Every design is a marker at its latency p99 (x, milliseconds) and its price (y, dollars per
//! month), both on logarithmic axes; its colour and shape name its consistency rung. A filled
//! marker meets every objective, a hollow one misses at least one. The frontier, the designs
//! that no other beats on consistency, p99 and cost at once, is joined by a line in order of
//! p99 and labelled. A dashed vertical line marks the p99 objective when there is one.
//!
//! A design without a positive, finite p99 and cost has no place on a logarithmic axis: it is
//! named in a note under the plot instead.
//!
//! The same designs give the same bytes: positions are whole pixels, tick labels are built
//! from integers, and everything is drawn in the order of the input.

use std::error::Error;
use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One design on the plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point<'a> {
    /// What the design is called on the plot, e.g. "raft N=3".
    pub label: &'a str,
    /// The latency p99 in milliseconds. A design whose p99 is not positive and finite (NaN
    /// when it was not measured) is left off and named in the note under the plot.
    pub p99_ms: f64,
    /// The price in dollars per month; left off likewise unless positive and finite.
    pub usd_per_month: f64,
    /// The consistency rung, 0 for the lowest: an index into the rung names.
    pub rung: usize,
    /// Whether the design is on the frontier.
    pub frontier: bool,
    /// Whether the design meets every objective.
    pub meets: bool,
}

impl Point<'_> {
    fn plottable(&self) -> bool {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        positive(self.p99_ms) && positive(self.usd_per_month)
    }
}

/// The frontier plot as an SVG document.
///
/// `rungs[p.rung]` names the rung of point `p` in the legend (a rung past the end is called
/// "rung N"). `p99_objective_ms`, when positive and finite, is drawn as a dashed vertical line.
pub fn frontier_svg(
    title: &str,
    rungs: &[&str],
    points: &[Point],
    p99_objective_ms: Option<f64>,
) -> String {
    let objective = p99_objective_ms.filter(|v| v.is_finite() && *v > 0.0);
    let left_off: Vec<&str> = points
        .iter()
        .filter(|p| !p.plottable())
        .map(|p| p.label)
        .collect();
    let note = note_lines(&left_off);
    let height = CHART_HEIGHT
        + if note.is_empty() {
            0
        } else {
            NOTE_MARGIN + NOTE_LINE * note.len() as u32
        };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        draw(&root, title, rungs, points, objective, &note)
            .expect("drawing into a string does not fail");
        root.present().expect("drawing into a string does not fail");
    }
    svg
}

const WIDTH: u32 = 960;
/// The height without the note.
const CHART_HEIGHT: u32 = 560;
/// The width of the legend, right of the chart.
const LEGEND_WIDTH: u32 = 230;
const NOTE_MARGIN: u32 = 8;
const NOTE_LINE: u32 = 18;
/// The longest line of the note, in characters.
const NOTE_CHARS: usize = 110;
const FONT: &str = "sans-serif";
/// Font sizes as plotters takes them: the SVG backend writes them smaller by a factor 1.24.
const LABEL_SIZE: u32 = 15;
const TEXT_SIZE: u32 = 16;
/// Half the width of a marker, in pixels.
const MARKER: i32 = 5;

/// Okabe and Ito's colours, which stay apart for colour-blind readers.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x56, 0xB4, 0xE9),
];
const GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);

type Drawn = Result<(), Box<dyn Error>>;

fn draw(
    root: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    rungs: &[&str],
    points: &[Point],
    objective: Option<f64>,
    note: &[String],
) -> Drawn {
    root.fill(&WHITE)?;
    let plotted: Vec<&Point> = points.iter().filter(|p| p.plottable()).collect();

    let mut xs: Vec<f64> = plotted.iter().map(|p| p.p99_ms).collect();
    xs.extend(objective);
    let ys: Vec<f64> = plotted.iter().map(|p| p.usd_per_month).collect();
    let (x_range, x_ticks) = log_axis(&xs);
    let (y_range, y_ticks) = log_axis(&ys);

    let chart_area = root
        .clone()
        .shrink((0, 0), (WIDTH - LEGEND_WIDTH, CHART_HEIGHT));
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(clean(title), (FONT, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(
            x_range
                .log_scale()
                .with_key_points(x_ticks.bold)
                .with_light_points(x_ticks.light),
            y_range
                .log_scale()
                .with_key_points(y_ticks.bold)
                .with_light_points(y_ticks.light),
        )?;
    chart
        .configure_mesh()
        .x_desc("p99 latency (ms)")
        .y_desc("$ per month")
        .x_label_formatter(&|v| tick_label(*v))
        .y_label_formatter(&|v| tick_label(*v))
        .label_style((FONT, TEXT_SIZE))
        .axis_desc_style((FONT, TEXT_SIZE + 1))
        .bold_line_style(BLACK.mix(0.15))
        .light_line_style(BLACK.mix(0.05))
        .draw()?;

    let (px, py) = chart.plotting_area().get_pixel_range();
    let at = |p: &Point| chart.backend_coord(&(p.p99_ms, p.usd_per_month));

    if let Some(x) = objective {
        let (x, _) = chart.backend_coord(&(x, 1.0));
        let mut y = py.start;
        while y < py.end {
            let end = (y + 6).min(py.end);
            root.draw(&PathElement::new(
                vec![(x, y), (x, end)],
                BLACK.mix(0.6).stroke_width(1),
            ))?;
            y += 10;
        }
    }

    // The frontier in order of p99, ties by cost then label so the line is the same each time.
    let mut frontier: Vec<&Point> = plotted.iter().copied().filter(|p| p.frontier).collect();
    frontier.sort_by(|a, b| {
        a.p99_ms
            .total_cmp(&b.p99_ms)
            .then(a.usd_per_month.total_cmp(&b.usd_per_month))
            .then(a.label.cmp(b.label))
    });
    if frontier.len() > 1 {
        root.draw(&PathElement::new(
            frontier.iter().map(|p| at(p)).collect::<Vec<_>>(),
            GREY.mix(0.7).stroke_width(2),
        ))?;
    }

    for p in &plotted {
        draw_marker(root, at(p), p.rung, p.meets)?;
    }

    // Each label goes beside its marker inside the plot, clear of the markers and of the
    // labels placed before it where there is room (`place_label`).
    let mut taken: Vec<Boxed> = plotted
        .iter()
        .map(|p| {
            let (x, y) = at(p);
            Boxed::new(
                x - MARKER - 1,
                y - MARKER - 1,
                x + MARKER + 1,
                y + MARKER + 1,
            )
        })
        .collect();
    let inside = Boxed::new(px.start, py.start, px.end, py.end);
    for p in &frontier {
        let text = clean(p.label);
        let (b, pos) = place_label(at(p), text_width(&text), &taken, &inside);
        let x = match pos.h_pos {
            HPos::Left => b.x0,
            HPos::Center => (b.x0 + b.x1) / 2,
            HPos::Right => b.x1,
        };
        root.draw(&Text::new(
            text,
            (x, (b.y0 + b.y1) / 2),
            (FONT, LABEL_SIZE).into_font().color(&BLACK).pos(pos),
        ))?;
        taken.push(b);
    }

    draw_legend(root, rungs, &plotted, objective.is_some())?;

    for (i, line) in note.iter().enumerate() {
        let y = (CHART_HEIGHT + NOTE_MARGIN + NOTE_LINE * i as u32 + NOTE_LINE / 2) as i32;
        root.draw(&Text::new(
            line.as_str(),
            (16, y),
            (FONT, TEXT_SIZE)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// The legend, right of the chart: a rung for each colour and shape on the plot, then what
/// filled and hollow markers, the line and the dashed line mean.
fn draw_legend(
    root: &DrawingArea<SVGBackend, Shift>,
    rungs: &[&str],
    plotted: &[&Point],
    objective: bool,
) -> Drawn {
    let x = (WIDTH - LEGEND_WIDTH) as i32 + 8;
    let text_x = x + 20;
    let mut y = 64;
    let font = |size| {
        (FONT, size)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center))
    };
    let mut shown: Vec<usize> = plotted.iter().map(|p| p.rung).collect();
    shown.sort_unstable();
    shown.dedup();
    if !shown.is_empty() {
        root.draw(&Text::new("consistency", (x, y), font(TEXT_SIZE + 1)))?;
    }
    for rung in shown {
        y += 22;
        draw_marker(root, (x + 6, y), rung, true)?;
        let name = match rungs.get(rung) {
            Some(name) => clean(name),
            None => format!("rung {rung}"),
        };
        root.draw(&Text::new(name, (text_x, y), font(TEXT_SIZE)))?;
    }
    y += 36;
    circle(root, (x + 6, y), GREY, true)?;
    root.draw(&Text::new(
        "meets every objective",
        (text_x, y),
        font(TEXT_SIZE),
    ))?;
    y += 22;
    circle(root, (x + 6, y), GREY, false)?;
    root.draw(&Text::new(
        "misses an objective",
        (text_x, y),
        font(TEXT_SIZE),
    ))?;
    y += 22;
    root.draw(&PathElement::new(
        vec![(x - 2, y), (x + 14, y)],
        GREY.mix(0.7).stroke_width(2),
    ))?;
    root.draw(&Text::new(
        "frontier, in order of p99",
        (text_x, y),
        font(TEXT_SIZE),
    ))?;
    if objective {
        y += 22;
        for dash in [x - 2, x + 8] {
            root.draw(&PathElement::new(
                vec![(dash, y), (dash + 6, y)],
                BLACK.mix(0.6).stroke_width(1),
            ))?;
        }
        root.draw(&Text::new("p99 objective", (text_x, y), font(TEXT_SIZE)))?;
    }
    Ok(())
}

/// The marker of a rung at pixel `at`: the rung's colour, and one of four shapes; hollow
/// markers are white inside.
fn draw_marker(
    root: &DrawingArea<SVGBackend, Shift>,
    (x, y): (i32, i32),
    rung: usize,
    filled: bool,
) -> Drawn {
    let colour = PALETTE[rung % PALETTE.len()];
    let r = MARKER;
    let outline = match rung % 4 {
        0 => return circle(root, (x, y), colour, filled),
        1 => vec![(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)],
        2 => vec![
            (x - r, y - r),
            (x + r, y - r),
            (x + r, y + r),
            (x - r, y + r),
        ],
        _ => vec![
            (x, y - r - 1),
            (x + r + 1, y),
            (x, y + r + 1),
            (x - r - 1, y),
        ],
    };
    let inside = if filled { colour } else { WHITE };
    root.draw(&Polygon::new(outline.clone(), inside.filled()))?;
    let mut closed = outline;
    closed.push(closed[0]);
    root.draw(&PathElement::new(closed, colour.stroke_width(2)))?;
    Ok(())
}

fn circle(
    root: &DrawingArea<SVGBackend, Shift>,
    at: (i32, i32),
    colour: RGBColor,
    filled: bool,
) -> Drawn {
    let inside = if filled { colour } else { WHITE };
    root.draw(&Circle::new(at, MARKER, inside.filled()))?;
    root.draw(&Circle::new(at, MARKER, colour.stroke_width(2)))?;
    Ok(())
}

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Boxed {
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
}

impl Boxed {
    fn new(x0: i32, y0: i32, x1: i32, y1: i32) -> Self {
        Self { x0, y0, x1, y1 }
    }

    fn overlaps(&self, other: &Boxed) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    fn within(&self, outer: &Boxed) -> bool {
        self.x0 >= outer.x0 && self.x1 <= outer.x1 && self.y0 >= outer.y0 && self.y1 <= outer.y1
    }
}

/// The box of a label of `width` pixels beside the marker at `(x, y)`, and its anchor. The
/// places tried: right of the marker, left of it, above, below, then the four corners, then
/// the same again a line further out. The first that stays inside and overlaps nothing taken
/// wins; failing that, the one inside that overlaps the fewest; failing that, the first.
fn place_label((x, y): (i32, i32), width: i32, taken: &[Boxed], inside: &Boxed) -> (Boxed, Pos) {
    let h = (LABEL_SIZE as f64 / 1.24).ceil() as i32 + 2;
    let left = Pos::new(HPos::Left, VPos::Center);
    let right = Pos::new(HPos::Right, VPos::Center);
    let centre = Pos::new(HPos::Center, VPos::Center);
    let half = width / 2;
    let mut candidates = Vec::with_capacity(16);
    for gap in [MARKER + 4, MARKER + 4 + h] {
        let (up, down) = (y - gap - h, y + gap);
        candidates.extend([
            (
                Boxed::new(x + gap, y - h / 2, x + gap + width, y + h - h / 2),
                left,
            ),
            (
                Boxed::new(x - gap - width, y - h / 2, x - gap, y + h - h / 2),
                right,
            ),
            (Boxed::new(x - half, up, x + width - half, up + h), centre),
            (
                Boxed::new(x - half, down, x + width - half, down + h),
                centre,
            ),
            (Boxed::new(x + 4, up, x + 4 + width, up + h), left),
            (Boxed::new(x + 4, down, x + 4 + width, down + h), left),
            (Boxed::new(x - 4 - width, up, x - 4, up + h), right),
            (Boxed::new(x - 4 - width, down, x - 4, down + h), right),
        ]);
    }
    let overlaps = |b: &Boxed| taken.iter().filter(|t| t.overlaps(b)).count();
    candidates
        .iter()
        .filter(|(b, _)| b.within(inside))
        .min_by_key(|(b, _)| overlaps(b))
        .copied()
        .unwrap_or(candidates[0])
}

/// A guess at the width of a label in pixels: the viewer picks the font, so the layout cannot
/// know it; sans-serif letters average a little over half their size.
fn text_width(text: &str) -> i32 {
    (text.chars().count() as f64 * LABEL_SIZE as f64 / 1.24 * 0.62).ceil() as i32
}

/// The ticks of an axis: labelled ones, and light grid lines between them.
#[derive(Debug, Clone, PartialEq)]
struct Ticks {
    bold: Vec<f64>,
    light: Vec<f64>,
}

/// A logarithmic axis over positive, finite `values`: their range widened to at least a
/// decade with some room each side, and its ticks at each decade (every few decades over a
/// long range), or at 1, 2 and 5 times a decade when fewer than three decades fall inside.
fn log_axis(values: &[f64]) -> (Range<f64>, Ticks) {
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v.log10()), hi.max(v.log10()))
        });
    if lo > hi {
        // Nothing to plot: an axis around 1 to 10.
        (lo, hi) = (0.0, 1.0);
    }
    // Far inside the range of f64 before the padding and within it after, so the axis ends
    // are positive and finite whatever the values (off-scale ones fall outside the axis).
    let (lo, hi) = (lo.clamp(-300.0, 300.0), hi.clamp(-300.0, 300.0));
    let span = hi - lo;
    let pad = (0.06 * span).max(0.12).max((1.0 - span) / 2.0);
    let lo = (lo - pad).max(-307.0);
    let hi = (hi + pad).min(307.0);

    let first = lo.ceil() as i32;
    let last = hi.floor() as i32;
    let decades = (last - first + 1).max(0);
    let (mut bold, mut light) = (Vec::new(), Vec::new());
    if decades >= 3 {
        let step = (decades + 7) / 8;
        for k in first..=last {
            if k.rem_euclid(step) == 0 {
                bold.push(10f64.powi(k));
            }
        }
        if step == 1 {
            for k in first - 1..=last {
                for m in 2..=9 {
                    light.push(m as f64 * 10f64.powi(k));
                }
            }
        }
    } else {
        for k in lo.floor() as i32..=hi.ceil() as i32 {
            for m in 1..=9 {
                let v = m as f64 * 10f64.powi(k);
                if matches!(m, 1 | 2 | 5) {
                    bold.push(v);
                } else {
                    light.push(v);
                }
            }
        }
    }
    let (lo, hi) = (10f64.powf(lo), 10f64.powf(hi));
    let range = lo..hi;
    bold.retain(|v| range.contains(v));
    light.retain(|v| range.contains(v));
    (range, Ticks { bold, light })
}

/// A tick's label, `m` times `10^k` written from the integers: 0.05, 1, 20, 50000, 1e5.
fn tick_label(v: f64) -> String {
    if !(v.is_finite() && v > 0.0) {
        return String::new();
    }
    let mut k = v.log10().floor() as i32;
    let mut m = (v / 10f64.powi(k)).round() as u64;
    if m >= 10 {
        m /= 10;
        k += 1;
    }
    match k {
        0..=4 => format!("{m}{}", "0".repeat(k as usize)),
        -3..=-1 => format!("0.{}{m}", "0".repeat((-k - 1) as usize)),
        _ => format!("{m}e{k}"),
    }
}

/// The note under the plot naming the designs left off, in lines of at most
/// [`NOTE_CHARS`] characters (a longer name has a line of its own).
fn note_lines(left_off: &[&str]) -> Vec<String> {
    if left_off.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![String::from(
        "Not plotted, for want of a positive, finite p99 and cost:",
    )];
    for (i, label) in left_off.iter().enumerate() {
        let item = clean(label) + if i + 1 < left_off.len() { "," } else { "" };
        let last = lines.last_mut().expect("the first line is there");
        if last.chars().count() + 1 + item.chars().count() <= NOTE_CHARS {
            last.push(' ');
            last.push_str(&item);
        } else {
            lines.push(format!("  {item}"));
        }
    }
    lines
}

/// `text` with control characters (which XML 1.0 cannot carry) as spaces; the backend escapes
/// the rest.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNGS: [&str; 5] = [
        "none",
        "eventual",
        "linearizable",
        "atomic-commit",
        "byzantine",
    ];

    fn point(label: &str, p99_ms: f64, usd_per_month: f64, rung: usize) -> Point<'_> {
        Point {
            label,
            p99_ms,
            usd_per_month,
            rung,
            frontier: true,
            meets: true,
        }
    }

    /// Designs like those `advise` ranks for a linearizable service.
    fn example() -> Vec<Point<'static>> {
        let design = |label, p99_ms, usd_per_month, rung, frontier, meets| Point {
            label,
            p99_ms,
            usd_per_month,
            rung,
            frontier,
            meets,
        };
        vec![
            design("fire-and-forget N=1", 0.9, 12.0, 0, true, false),
            design("gossip N=5", 4.1, 30.0, 1, true, true),
            design("crdt-counter N=3", 2.2, 45.0, 1, false, true),
            design("raft N=3", 3.4, 95.0, 2, true, true),
            design("raft N=5", 4.6, 160.0, 2, false, true),
            design("paxos N=5", 6.8, 210.0, 2, false, false),
            design("quorum-rw N=5", 5.2, 120.0, 2, false, true),
            design("two-phase-commit N=3", 9.5, 140.0, 3, true, true),
            design("three-phase-commit N=3", 14.0, 260.0, 3, false, false),
            design("pbft N=4", 21.0, 620.0, 4, true, false),
            design("sequencer N=3", f64::NAN, 80.0, 2, false, false),
        ]
    }

    /// The document parsed: it fails on unbalanced tags and unescaped text.
    fn parse(svg: &str) -> roxmltree::Document<'_> {
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
        let doc = roxmltree::Document::parse(svg).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        doc
    }

    /// The text of every `<text>` element, trimmed.
    fn texts_of(svg: &str) -> Vec<String> {
        parse(svg)
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect()
    }

    /// The centres of the circles inside the chart (the markers of rung 0), once each, left
    /// to right.
    fn circles(svg: &str) -> Vec<(i32, i32)> {
        let mut at: Vec<(i32, i32)> = parse(svg)
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .map(|n| {
                let coord = |name| n.attribute(name).unwrap().parse::<i32>().unwrap();
                (coord("cx"), coord("cy"))
            })
            .filter(|(x, _)| *x < (WIDTH - LEGEND_WIDTH) as i32)
            .collect();
        at.sort_unstable();
        at.dedup();
        at
    }

    fn assert_finite(svg: &str) {
        assert!(!svg.contains("NaN"), "{svg}");
        assert!(!svg.contains("inf"), "{svg}");
    }

    #[test]
    fn the_document_is_well_formed() {
        let svg = frontier_svg("orders", &RUNGS, &example(), Some(10.0));
        parse(&svg);
        assert_finite(&svg);
        let texts = texts_of(&svg);
        for words in ["orders", "p99 latency (ms)", "$ per month", "p99 objective"] {
            assert!(texts.iter().any(|t| t == words), "{words}: {texts:?}");
        }
        // Decade ticks on x (0.9 to 21 ms with the objective at 10), 1-2-5 ticks on y.
        for tick in ["1", "10", "20", "50", "100", "200", "500"] {
            assert!(texts.iter().any(|t| t == tick), "{tick}: {texts:?}");
        }
    }

    #[test]
    fn every_frontier_design_is_labelled_and_every_plotted_rung_named() {
        let points = example();
        let texts = texts_of(&frontier_svg("orders", &RUNGS, &points, None));
        for p in points.iter().filter(|p| p.frontier) {
            assert!(texts.iter().any(|t| t == p.label), "{}: {texts:?}", p.label);
        }
        for rung in RUNGS {
            assert!(texts.iter().any(|t| t == rung), "{rung}: {texts:?}");
        }
        // No objective, no line for it in the legend; a rung without a name is numbered.
        assert!(!texts.iter().any(|t| t == "p99 objective"));
        let unnamed = texts_of(&frontier_svg("", &[], &points[..1], None));
        assert!(unnamed.iter().any(|t| t == "rung 0"), "{unnamed:?}");
    }

    #[test]
    fn labels_and_title_are_escaped() {
        let label = r#"<raft & "paxos" 'N=3'>"#;
        let svg = frontier_svg(
            "a < b & c",
            &["<none>"],
            &[point(label, 2.0, 10.0, 0)],
            None,
        );
        let texts = texts_of(&svg);
        for text in [label, "a < b & c", "<none>"] {
            assert!(texts.iter().any(|t| t == text), "{text}: {texts:?}");
        }
        assert!(!svg.contains("<raft") && !svg.contains("<none>"), "{svg}");
        assert!(svg.contains("&lt;raft &amp; &quot;paxos&quot; &apos;N=3&apos;&gt;"));
        // Control characters, which XML cannot carry, become spaces.
        let cleaned = texts_of(&frontier_svg(
            "a\u{1}b",
            &[],
            &[point("c\u{0}d", 2.0, 10.0, 0)],
            None,
        ));
        assert!(cleaned.iter().any(|t| t == "a b") && cleaned.iter().any(|t| t == "c d"));
    }

    #[test]
    fn designs_without_a_positive_finite_p99_and_cost_are_named_in_the_note() {
        let points = [
            point("raft N=3", 3.0, 90.0, 2),
            point("unmeasured", f64::NAN, 90.0, 2),
            point("stuck", f64::INFINITY, 90.0, 2),
            point("free", 3.0, 0.0, 0),
            point("priceless", 3.0, f64::NAN, 0),
            point("instant", 0.0, 10.0, 0),
        ];
        let svg = frontier_svg("orders", &RUNGS, &points, None);
        assert_finite(&svg);
        let texts = texts_of(&svg);
        let note: Vec<&String> = texts
            .iter()
            .filter(|t| t.starts_with("Not plotted"))
            .collect();
        assert_eq!(note.len(), 1, "{texts:?}");
        assert!(
            note[0].ends_with("unmeasured, stuck, free, priceless, instant"),
            "{note:?}"
        );
        // Named once, in the note, not as a label; the rung of the one plotted design only.
        for left_off in &points[1..] {
            assert_eq!(svg.matches(left_off.label).count(), 1, "{}", left_off.label);
        }
        assert!(texts.iter().any(|t| t == "raft N=3"));
        assert!(!texts.iter().any(|t| t == "none"), "{texts:?}");
        assert!(!frontier_svg("orders", &RUNGS, &points[..1], None).contains("Not plotted"));
    }

    #[test]
    fn a_long_note_is_wrapped() {
        let labels: Vec<String> = (0..40).map(|i| format!("design number {i}")).collect();
        let points: Vec<Point> = labels.iter().map(|l| point(l, f64::NAN, 1.0, 0)).collect();
        let svg = frontier_svg("many", &RUNGS, &points, None);
        let lines = note_lines(&labels.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(lines.len() > 5, "{lines:?}");
        assert!(
            lines.iter().all(|l| l.chars().count() <= NOTE_CHARS),
            "{lines:?}"
        );
        let texts = texts_of(&svg);
        for line in &lines {
            assert!(texts.contains(&line.trim().to_string()), "{line}");
        }
        let height = (CHART_HEIGHT + NOTE_MARGIN + NOTE_LINE * lines.len() as u32).to_string();
        assert_eq!(
            parse(&svg).root_element().attribute("height"),
            Some(&*height)
        );
    }

    #[test]
    fn equal_or_extreme_values_give_finite_coordinates() {
        let same = [point("a", 5.0, 40.0, 0), point("b", 5.0, 40.0, 0)];
        let cases: [&[Point]; 7] = [
            &[],
            &same,
            &same[..1],
            &[point("decade", 10.0, 100.0, 0)],
            &[
                point("tiny", 1e-320, 1e-300, 0),
                point("huge", 1e300, f64::MAX, 0),
            ],
            &[point("a", 1.0, 1.0, 0), point("b", 1.0 + 1e-15, 1.0, 1)],
            &[point("subnormal", 1e-320, 1e-320, 0)],
        ];
        for points in cases {
            for objective in [
                None,
                Some(5.0),
                Some(f64::NAN),
                Some(-1.0),
                Some(f64::INFINITY),
            ] {
                let svg = frontier_svg("edge", &RUNGS, points, objective);
                assert_finite(&svg);
                parse(&svg);
            }
        }
        let (range, ticks) = log_axis(&[5.0, 5.0]);
        assert!(range.start < 5.0 && 5.0 < range.end, "{range:?}");
        assert!(ticks.bold.len() >= 2, "{ticks:?}");
        let (range, ticks) = log_axis(&[]);
        assert!(range.start > 0.0 && range.end.is_finite(), "{range:?}");
        assert!(ticks.bold.len() >= 2, "{ticks:?}");
        let (range, ticks) = log_axis(&[1e-320, f64::MAX]);
        assert!(range.start > 0.0 && range.end.is_finite(), "{range:?}");
        assert!((2..=9).contains(&ticks.bold.len()), "{ticks:?}");
        assert!(ticks.light.is_empty(), "{ticks:?}");
        for alone in [1e-320, f64::MIN_POSITIVE, f64::MAX] {
            let (range, ticks) = log_axis(&[alone]);
            assert!(0.0 < range.start && range.start < range.end, "{range:?}");
            assert!(range.end.is_finite() && ticks.bold.len() >= 2, "{ticks:?}");
        }
    }

    #[test]
    fn tick_labels_are_written_from_integers() {
        let cases = [
            (1e-4, "1e-4"),
            (2e-3, "0.002"),
            (0.05, "0.05"),
            (0.1, "0.1"),
            (1.0, "1"),
            (2.0, "2"),
            (10.0, "10"),
            (500.0, "500"),
            (5e4, "50000"),
            (1e5, "1e5"),
            (1e6, "1e6"),
            (5e12, "5e12"),
        ];
        for (v, label) in cases {
            assert_eq!(tick_label(v), label);
        }
        for k in -20..20 {
            let v = 10f64.powi(k);
            assert_eq!(tick_label(v), tick_label(v * (1.0 + 1e-12)), "{v}");
            assert_eq!(tick_label(v), tick_label(v * (1.0 - 1e-12)), "{v}");
        }
    }

    #[test]
    fn the_same_designs_give_the_same_bytes() {
        let a = frontier_svg("orders", &RUNGS, &example(), Some(10.0));
        let b = frontier_svg("orders", &RUNGS, &example(), Some(10.0));
        assert_eq!(a, b);
        let mut other = example();
        other[0].p99_ms = 1.1;
        assert_ne!(a, frontier_svg("orders", &RUNGS, &other, Some(10.0)));
    }

    #[test]
    fn lower_p99_is_further_left_and_higher_cost_further_up() {
        let points = [
            point("middle", 10.0, 1000.0, 0),
            point("fast", 1.0, 100.0, 0),
            point("slow", 100.0, 10.0, 0),
        ];
        let at = circles(&frontier_svg("order", &RUNGS, &points, None));
        // Left to right: fast, middle, slow; top to bottom: middle, fast, slow.
        assert_eq!(at.len(), 3, "{at:?}");
        let (fast, middle, slow) = (at[0], at[1], at[2]);
        assert!(fast.0 < middle.0 && middle.0 < slow.0, "{at:?}");
        assert!(middle.1 < fast.1 && fast.1 < slow.1, "{at:?}");
        // Equal steps in log10 are equal steps on the plot, to the pixel.
        assert!(
            (middle.0 - fast.0 - (slow.0 - middle.0)).abs() <= 1,
            "{at:?}"
        );
        assert!((fast.1 - middle.1 - (slow.1 - fast.1)).abs() <= 1, "{at:?}");
    }

    #[test]
    fn labels_stay_inside_the_plot_and_apart() {
        let inside = Boxed::new(0, 0, 400, 300);
        let (first, _) = place_label((200, 150), 80, &[], &inside);
        assert!(first.x0 > 200, "right of the marker first: {first:?}");
        let (second, _) = place_label((200, 150), 80, &[first], &inside);
        assert!(
            !second.overlaps(&first) && second.within(&inside),
            "{second:?}"
        );
        let (edge, pos) = place_label((395, 150), 80, &[], &inside);
        assert!(edge.within(&inside) && edge.x1 < 395, "{edge:?}");
        assert!(matches!(pos.h_pos, HPos::Right));
    }

    #[test]
    fn example_is_written_to_the_temporary_directory() {
        let svg = frontier_svg("orders: designs & prices", &RUNGS, &example(), Some(10.0));
        let path = std::env::temp_dir().join("coordsim-frontier-example.svg");
        std::fs::write(&path, &svg).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap() == svg);
    }
}
