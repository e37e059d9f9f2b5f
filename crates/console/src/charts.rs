//! The dashboard's charts as SVG written on the server from the figures: columns per month
//! (several series side by side) and horizontal bars (counts, or shares on a 0–100 % scale).
//! Only geometry and markup: what is drawn, and its words, come from the caller. No script,
//! no `style` attribute (the console's CSP allows only its own style sheet): colours are
//! presentation attributes, which `console.css` refines through the classes; every text is
//! escaped. The SVG scales to its box (`viewBox`), so it works at 360 px and prints.

use std::fmt::Write as _;

/// Width of every chart's drawing, in its own units: narrow enough that its text stays
/// legible when the drawing shrinks to a phone's width.
const WIDTH: f64 = 480.0;
/// Font size of labels, in the drawing's units.
const FONT: f64 = 14.0;
/// The widest a bar's label may be drawn; longer ones are cut with "…" (the table beside the
/// chart and the bar's tooltip hold them whole).
const LABEL_WIDTH: f64 = WIDTH - 8.0;
/// Fill colours of the series, in order (refined by `chart-series-N` in the style sheet).
const SERIES_FILLS: &[&str] = &["#1f5fa8", "#b5651d", "#3a8a4f", "#8a3a7a"];

/// An axis from zero: its top and the step between ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// The value at the end of the axis.
    pub top: f64,
    /// The distance between two ticks.
    pub step: f64,
}

impl Scale {
    /// An axis for counts up to `largest`: a step of 1, 2 or 5 times a power of ten, so that
    /// at most five steps reach at least `largest`; at least 0–1 for no data.
    pub fn for_counts(largest: f64) -> Scale {
        if largest.is_nan() || largest <= 1.0 {
            return Scale {
                top: 1.0,
                step: 1.0,
            };
        }
        let rough = largest / 5.0;
        let power = 10f64.powf(rough.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|factor| factor * power)
            .find(|step| *step >= rough)
            .unwrap_or(10.0 * power)
            .max(1.0);
        Scale {
            top: (largest / step).ceil() * step,
            step,
        }
    }

    /// The axis of shares: 0 to 100 % by quarters.
    pub fn for_rates() -> Scale {
        Scale {
            top: 1.0,
            step: 0.25,
        }
    }

    /// The ticks, from zero to the top.
    pub fn ticks(&self) -> Vec<f64> {
        let count = (self.top / self.step).round() as usize;
        (0..=count).map(|index| index as f64 * self.step).collect()
    }

    /// Where `value` falls on an axis `length` long, clamped to it.
    pub fn position(&self, value: f64, length: f64) -> f64 {
        if self.top <= 0.0 || !value.is_finite() {
            return 0.0;
        }
        (value / self.top).clamp(0.0, 1.0) * length
    }
}

/// `text` safe inside SVG markup, in an element or an attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// About how wide `text` is drawn at [`FONT`]: CJK characters a full em, others a little
/// over half.
pub fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|character| {
            if character.len_utf8() >= 3 {
                FONT
            } else {
                FONT * 0.6
            }
        })
        .sum()
}

/// `text` cut to at most `width` as drawn, with "…" where it was cut.
pub fn fit_label(text: &str, width: f64) -> String {
    if text_width(text) <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = text_width("…");
    for character in text.chars() {
        let next = text_width(character.encode_utf8(&mut [0; 4]));
        if used + next > width {
            break;
        }
        used += next;
        out.push(character);
    }
    out.push('…');
    out
}

/// A tick's label: a whole number, or a percentage on a rate axis.
fn tick_label(value: f64, rates: bool) -> String {
    if rates {
        format!("{:.0}%", value * 100.0)
    } else {
        format!("{value:.0}")
    }
}

/// The opening of a chart: its box and, for assistive technology, its title (the caption's
/// short form; the table beside the chart holds the figures).
fn open_svg(out: &mut String, id: &str, height: f64, title: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" role="img" aria-labelledby="{id}-title" font-size="{FONT}" font-family="sans-serif"><title id="{id}-title">{}</title>"#,
        escape(title)
    );
}

/// One series of a column chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name, for the legend.
    pub name: String,
    /// A value for each column group.
    pub values: Vec<u64>,
}

/// Columns side by side for each of `groups` (months), one per series, on a count axis, with
/// a legend. `id` must be unique in the page.
pub fn columns(id: &str, title: &str, groups: &[String], series: &[Series]) -> String {
    let (left, right, top, bottom) = (44.0, 12.0, 34.0, 44.0);
    let height = 300.0;
    let plot_width = WIDTH - left - right;
    let plot_height = height - top - bottom;
    let largest = series
        .iter()
        .flat_map(|one| one.values.iter())
        .copied()
        .max()
        .unwrap_or(0);
    let scale = Scale::for_counts(largest as f64);
    let mut out = String::new();
    open_svg(&mut out, id, height, title);
    // The legend, above the plot.
    let mut legend_x = left;
    for (index, one) in series.iter().enumerate() {
        let fill = SERIES_FILLS[index % SERIES_FILLS.len()];
        let _ = write!(
            out,
            r#"<rect class="chart-series-{index}" x="{legend_x}" y="8" width="12" height="12" fill="{fill}"/><text class="chart-text" x="{}" y="18.5">{}</text>"#,
            legend_x + 16.0,
            escape(&one.name)
        );
        legend_x += 16.0 + text_width(&one.name) + 20.0;
    }
    axis_grid(&mut out, scale, left, top, plot_width, plot_height);
    let slot = plot_width / groups.len().max(1) as f64;
    let bar = (slot * 0.8 / series.len().max(1) as f64).min(28.0);
    let label_every = (text_width("2026-01") + 8.0) / slot;
    let label_every = (label_every.ceil() as usize).max(1);
    for (group_index, group) in groups.iter().enumerate() {
        let group_left = left + slot * group_index as f64;
        let bars_left = group_left + (slot - bar * series.len() as f64) / 2.0;
        for (series_index, one) in series.iter().enumerate() {
            let value = one.values.get(group_index).copied().unwrap_or(0);
            let bar_height = scale.position(value as f64, plot_height);
            let fill = SERIES_FILLS[series_index % SERIES_FILLS.len()];
            let _ = write!(
                out,
                r#"<rect class="chart-bar chart-series-{series_index}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{} {}: {value}</title></rect>"#,
                bars_left + bar * series_index as f64,
                top + plot_height - bar_height,
                bar,
                bar_height,
                escape(group),
                escape(&one.name)
            );
        }
        if group_index % label_every == 0 {
            let _ = write!(
                out,
                r#"<text class="chart-text" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                group_left + slot / 2.0,
                top + plot_height + 18.0,
                escape(group)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// The horizontal grid lines and their labels at the left.
fn axis_grid(out: &mut String, scale: Scale, left: f64, top: f64, width: f64, height: f64) {
    for tick in scale.ticks() {
        let y = top + height - scale.position(tick, height);
        let _ = write!(
            out,
            r##"<line class="chart-grid" x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#c8ccd2" stroke-width="1"/><text class="chart-text" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + width,
            left - 6.0,
            y + 4.0,
            tick_label(tick, false)
        );
    }
}

/// One bar of a bar chart.
#[derive(Debug, Clone)]
pub struct Bar {
    /// What it is.
    pub label: String,
    /// Its length on the scale; `None` for no figure (nothing drawn, the text says so).
    pub value: Option<f64>,
    /// The figure as written beside it.
    pub shown: String,
}

/// Horizontal bars, one a row, each under its label (so that long labels, and labels that
/// differ only at their end, stay whole), on a count axis or (`rates`) on 0–100 %.
pub fn bars(id: &str, title: &str, rows: &[Bar], rates: bool) -> String {
    let value_width = rows
        .iter()
        .map(|row| text_width(&row.shown))
        .fold(0.0, f64::max)
        + 10.0;
    let (left, top) = (FONT * 1.2, 4.0);
    let row_height = 46.0;
    let plot_width = WIDTH - left - value_width - FONT;
    let plot_height = row_height * rows.len().max(1) as f64;
    let height = top + plot_height + 24.0;
    let scale = if rates {
        Scale::for_rates()
    } else {
        let largest = rows.iter().filter_map(|row| row.value).fold(0.0, f64::max);
        Scale::for_counts(largest)
    };
    let mut out = String::new();
    open_svg(&mut out, id, height, title);
    for tick in scale.ticks() {
        let x = left + scale.position(tick, plot_width);
        let _ = write!(
            out,
            r##"<line class="chart-grid" x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{:.1}" stroke="#c8ccd2" stroke-width="1"/><text class="chart-text" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            top + plot_height,
            top + plot_height + 18.0,
            tick_label(tick, rates)
        );
    }
    for (index, row) in rows.iter().enumerate() {
        let y = top + row_height * index as f64;
        let _ = write!(
            out,
            r#"<text class="chart-text" x="0" y="{:.1}">{}<title>{}</title></text>"#,
            y + FONT + 2.0,
            escape(&fit_label(&row.label, LABEL_WIDTH)),
            escape(&row.label)
        );
        let length = row
            .value
            .map_or(0.0, |value| scale.position(value, plot_width));
        let bar_top = y + FONT + 8.0;
        let bar_height = row_height - FONT - 16.0;
        if row.value.is_some() {
            let _ = write!(
                out,
                r#"<rect class="chart-bar chart-series-0" x="{left:.1}" y="{bar_top:.1}" width="{length:.1}" height="{bar_height:.1}" fill="{}"/>"#,
                SERIES_FILLS[0]
            );
        }
        let _ = write!(
            out,
            r#"<text class="chart-text chart-value" x="{:.1}" y="{:.1}">{}</text>"#,
            left + length + 6.0,
            bar_top + bar_height / 2.0 + FONT * 0.35,
            escape(&row.shown)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn count_scales_end_on_a_round_step_at_or_above_the_largest() {
        assert_eq!(
            Scale::for_counts(0.0),
            Scale {
                top: 1.0,
                step: 1.0
            }
        );
        assert_eq!(
            Scale::for_counts(1.0),
            Scale {
                top: 1.0,
                step: 1.0
            }
        );
        assert_eq!(
            Scale::for_counts(3.0),
            Scale {
                top: 3.0,
                step: 1.0
            }
        );
        assert_eq!(
            Scale::for_counts(7.0),
            Scale {
                top: 8.0,
                step: 2.0
            }
        );
        assert_eq!(
            Scale::for_counts(23.0),
            Scale {
                top: 25.0,
                step: 5.0
            }
        );
        assert_eq!(
            Scale::for_counts(100_000.0),
            Scale {
                top: 100_000.0,
                step: 20_000.0
            }
        );
        for largest in [2.0, 9.0, 11.0, 99.0, 101.0, 4_321.0] {
            let scale = Scale::for_counts(largest);
            assert!(scale.top >= largest, "{largest}: {scale:?}");
            assert!(scale.ticks().len() <= 6, "{largest}: {scale:?}");
        }
    }

    #[test]
    fn positions_are_proportional_and_clamped() {
        let scale = Scale::for_rates();
        assert_eq!(scale.ticks(), [0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(scale.position(0.5, 200.0), 100.0);
        assert_eq!(scale.position(0.0, 200.0), 0.0);
        assert_eq!(scale.position(1.5, 200.0), 200.0);
        assert_eq!(scale.position(f64::NAN, 200.0), 0.0);
    }

    #[test]
    fn empty_data_draws_an_empty_axis_not_a_broken_chart() {
        let svg = columns("empty", "nothing", &[], &[]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        assert!(!svg.contains("chart-bar"));
        let svg = bars("none", "nothing", &[], false);
        assert!(!svg.contains("NaN") && !svg.contains("chart-bar"));
    }

    #[test]
    fn one_month_draws_one_column_per_series_with_its_label() {
        let svg = columns(
            "months",
            "opened and closed",
            &["2026-03".to_owned()],
            &[
                Series {
                    name: "opened".into(),
                    values: vec![4],
                },
                Series {
                    name: "closed".into(),
                    values: vec![2],
                },
            ],
        );
        assert_eq!(svg.matches("class=\"chart-bar").count(), 2);
        assert!(svg.contains(">2026-03</text>"));
        assert!(svg.contains("2026-03 opened: 4"));
        // The taller bar is the full plot height (the scale's top is 4).
        assert!(svg.contains("height=\"222.0\""), "{svg}");
        assert!(svg.contains("viewBox=\"0 0 480 300\""), "{svg}");
    }

    #[test]
    fn a_zero_rate_is_a_bar_of_no_length_and_a_missing_one_draws_none() {
        let svg = bars(
            "rates",
            "rates",
            &[
                Bar {
                    label: "reply".into(),
                    value: Some(0.0),
                    shown: "0.0%".into(),
                },
                Bar {
                    label: "rectified".into(),
                    value: None,
                    shown: "—".into(),
                },
            ],
            true,
        );
        assert_eq!(svg.matches("class=\"chart-bar").count(), 1);
        assert!(svg.contains("width=\"0.0\""));
        assert!(svg.contains(">100%</text>") && svg.contains(">—</text>"));
    }

    #[test]
    fn text_is_escaped_and_no_style_attribute_is_written() {
        let svg = bars(
            "x",
            "<script>",
            &[Bar {
                label: "a&b <i>".into(),
                value: Some(1.0),
                shown: "1".into(),
            }],
            false,
        );
        assert!(svg.contains("&lt;script&gt;") && svg.contains("a&amp;b &lt;i&gt;"));
        assert!(!svg.contains("style="));
        assert!(!svg.contains("<script"));
    }

    #[test]
    fn chinese_labels_are_measured_wider_than_latin_ones() {
        assert!(text_width("涪城区") > text_width("abc"));
        assert_eq!(text_width(""), 0.0);
    }

    #[test]
    fn long_labels_are_cut_to_fit_and_short_ones_kept() {
        assert_eq!(fit_label("涪城区", LABEL_WIDTH), "涪城区");
        let long = "Labour-law supervision recommendation letter to the department of human \
                    resources and social security";
        let cut = fit_label(long, LABEL_WIDTH);
        assert!(
            cut.ends_with('…') && text_width(&cut) <= LABEL_WIDTH,
            "{cut}"
        );
        assert!(long.starts_with(cut.trim_end_matches('…')));
        let svg = bars(
            "long",
            "t",
            &[Bar {
                label: long.into(),
                value: Some(1.0),
                shown: "1".into(),
            }],
            false,
        );
        // Cut on the drawing, whole in the tooltip.
        assert!(svg.contains(&format!("<title>{long}</title>")), "{svg}");
    }
}
