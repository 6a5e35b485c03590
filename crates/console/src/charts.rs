//! Charts as server-rendered SVG (no chart script): a column chart of a series and a bar
//! chart of labelled values. Pure functions of their data, so they are unit-tested; every
//! label is escaped, every bar has a `<title>` (hover text, read by screen readers) and the
//! chart an `aria-label` summary. Styling is by class, from the one stylesheet (the CSP
//! allows no inline styles).

use std::fmt::Write;

/// One value of a chart.
pub struct Point {
    pub label: String,
    pub value: f64,
    /// The value as the hover text shows it (`$0.0123`, `42`).
    pub shown: String,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const AXIS: f64 = 20.0;

/// Text for XML: `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A column per point (a time series: oldest left), with the first and last labels under
/// the axis and the maximum on the left. An all-zero or empty series still draws its axis.
pub fn columns(summary: &str, points: &[Point], max_shown: &str) -> String {
    let max = points.iter().map(|p| p.value).fold(0.0_f64, f64::max);
    let plot = HEIGHT - AXIS;
    let step = if points.is_empty() {
        WIDTH
    } else {
        WIDTH / points.len() as f64
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" preserveAspectRatio="none">"#,
        escape(summary)
    );
    let _ = write!(
        svg,
        r#"<line class="axis" x1="0" y1="{plot}" x2="{WIDTH}" y2="{plot}"/>"#
    );
    for (i, point) in points.iter().enumerate() {
        let h = if max > 0.0 {
            (point.value / max) * (plot - 4.0)
        } else {
            0.0
        };
        let x = i as f64 * step + step * 0.1;
        let _ = write!(
            svg,
            r#"<rect class="bar" x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}"><title>{}: {}</title></rect>"#,
            plot - h,
            step * 0.8,
            escape(&point.label),
            escape(&point.shown)
        );
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            svg,
            r#"<text class="tick" x="0" y="{HEIGHT}">{}</text><text class="tick end" x="{WIDTH}" y="{HEIGHT}">{}</text>"#,
            escape(&first.label),
            escape(&last.label)
        );
    }
    let _ = write!(
        svg,
        r#"<text class="tick" x="2" y="12">max {}</text></svg>"#,
        escape(max_shown)
    );
    svg
}

/// A horizontal bar per point with its label and value, scaled to the largest (or to
/// `scale` when given, e.g. 1.0 for shares).
pub fn bars(summary: &str, points: &[Point], scale: Option<f64>) -> String {
    let max = scale.unwrap_or_else(|| points.iter().map(|p| p.value).fold(0.0_f64, f64::max));
    let row = 26.0;
    let height = (points.len().max(1) as f64) * row;
    let label_w = 150.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart bars" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}">"#,
        escape(summary)
    );
    for (i, point) in points.iter().enumerate() {
        let y = i as f64 * row;
        let w = if max > 0.0 {
            (point.value / max).clamp(0.0, 1.0) * (WIDTH - label_w - 110.0)
        } else {
            0.0
        };
        let _ = write!(
            svg,
            r#"<text class="label" x="0" y="{:.1}">{}</text><rect class="bar" x="{label_w}" y="{:.1}" width="{w:.1}" height="{:.1}"><title>{}: {}</title></rect><text class="value" x="{:.1}" y="{:.1}">{}</text>"#,
            y + row * 0.65,
            escape(&point.label),
            y + 4.0,
            row - 8.0,
            escape(&point.label),
            escape(&point.shown),
            label_w + w + 6.0,
            y + row * 0.65,
            escape(&point.shown)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(label: &str, value: f64) -> Point {
        Point {
            label: label.into(),
            value,
            shown: format!("{value}"),
        }
    }

    #[test]
    fn columns_scale_to_the_largest_value_and_escape_labels() {
        let svg = columns("cost per hour", &[point("<b>", 1.0), point("b", 4.0)], "4");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(
            svg.contains(r#"height="156.0""#),
            "the largest fills the plot: {svg}"
        );
        assert!(svg.contains(r#"height="39.0""#), "a quarter of it: {svg}");
        assert!(!svg.contains("style"), "no inline styles under the CSP");
    }

    #[test]
    fn empty_and_all_zero_series_draw_no_bars_of_height() {
        let svg = columns("nothing", &[], "0");
        assert!(svg.contains("<line") && !svg.contains("<rect"));
        let svg = columns("zeros", &[point("a", 0.0)], "0");
        assert!(
            svg.contains(r#"height="0.0""#) && !svg.contains("NaN"),
            "{svg}"
        );
        let svg = bars("zeros", &[point("a", 0.0)], None);
        assert!(!svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn bars_use_a_fixed_scale_when_given() {
        let svg = bars("success", &[point("completed", 0.5)], Some(1.0));
        assert!(svg.contains(r#"width="190.0""#), "half of 380: {svg}");
        assert!(svg.contains("<title>completed: 0.5</title>"));
    }
}
