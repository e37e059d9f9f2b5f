//! The supervisors' dashboard (contract §8): the statistics of `GET /v1/stats` for a chosen
//! period (this month, quarter or year in the office's time zone, or any range of days), for
//! one region and one category, as tables and charts, and the same figures as CSV and XLSX.
//! The figures are the app's (`App::stats_within`, the API's code path); the rows are
//! `figures.rs`'s, the charts `charts.rs`'s, the files `reports.rs`'s. Here: reading the
//! period and filters, and rendering.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use caseledger_app::{Period, Stats, StatsScope};
use caseledger_domain::{Category, LetterKind};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::charts::{self, Bar, Series};
use crate::error::ConsoleError;
use crate::figures::{by_section, figure_rows, FigureRow};
use crate::forms::{FormError, Reading};
use crate::i18n::Lang;
use crate::pages::render::render_page;
use crate::reports::{self, Report};
use crate::session::SignedIn;
use crate::state::ConsoleState;

/// The periods offered by name.
const PRESETS: &[&str] = &["month", "quarter", "year", "range"];

/// The longest region a filter may name, in characters.
const MAX_REGION_CHARS: usize = 100;

/// The dashboard's query: the period and the filters, as its form sends them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DashboardQuery {
    /// `month`, `quarter`, `year` (the one now, in the office) or `range` (`from`–`to`).
    pub period: String,
    /// The first day of a range (`YYYY-MM-DD`).
    pub from: String,
    /// The last day of a range, included.
    pub to: String,
    /// Only cases of this region.
    pub region: String,
    /// Only cases of this category.
    pub category: String,
}

/// The period and filters as read: days in the office, the instants they span, the scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    /// The first day.
    pub first_day: NaiveDate,
    /// The last day, included.
    pub last_day: NaiveDate,
    /// From the first day's start to the end of the last, in the office's time zone.
    pub period: Period,
    /// The region and category.
    pub scope: StatsScope,
}

impl DashboardQuery {
    /// The period and filters this query names, `today` being the office's date; or the
    /// errors beside the fields.
    pub fn read(&self, today: NaiveDate, zone: chrono_tz::Tz) -> Result<Chosen, Vec<FormError>> {
        let mut reading = Reading::default();
        let days = match self.period.as_str() {
            "month" => Some(this_month(today)),
            "quarter" => Some(this_quarter(today)),
            // The year is the default, unless a range's days are given.
            "year" => Some(this_year(today)),
            "" if self.from.trim().is_empty() && self.to.trim().is_empty() => {
                Some(this_year(today))
            }
            "" | "range" => range(&mut reading, &self.from, &self.to),
            _ => {
                reading
                    .errors
                    .push(FormError::keyed("period", "error-choose"));
                None
            }
        };
        let category = match self.category.trim() {
            "" => None,
            text => reading.choice::<Category>("category", text),
        };
        let region = self.region.trim();
        if region.chars().count() > MAX_REGION_CHARS {
            reading
                .errors
                .push(FormError::keyed("region", "error-too-long"));
        } else if region.chars().any(char::is_control) {
            reading
                .errors
                .push(FormError::keyed("region", "error-control-characters"));
        }
        reading.finish(|| {
            let (first_day, last_day) = days?;
            Some(Chosen {
                first_day,
                last_day,
                period: Period {
                    from: Some(day_start(first_day, zone)?),
                    to: Some(day_start(last_day.succ_opt()?, zone)?),
                },
                scope: StatsScope {
                    region: (!region.is_empty()).then(|| region.to_owned()),
                    category,
                },
            })
        })
    }

    /// The query that names `chosen` as a range of days: what the downloads are asked with,
    /// so that they hold the page's figures even when a month ends meanwhile.
    fn of(chosen: &Chosen) -> DashboardQuery {
        DashboardQuery {
            period: "range".into(),
            from: chosen.first_day.to_string(),
            to: chosen.last_day.to_string(),
            region: chosen.scope.region.clone().unwrap_or_default(),
            category: chosen
                .scope
                .category
                .map(|category| category.as_str().to_owned())
                .unwrap_or_default(),
        }
    }
}

/// The start of `day` in `zone`, as an instant.
fn day_start(day: NaiveDate, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|start| start.with_timezone(&Utc))
}

fn this_month(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    months_from(today.year(), today.month(), 1)
}

fn this_quarter(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    months_from(today.year(), (today.month() - 1) / 3 * 3 + 1, 3)
}

fn this_year(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    months_from(today.year(), 1, 12)
}

/// The first and last day of `count` months from `month` of `year` (within the year).
fn months_from(year: i32, month: u32, count: u32) -> (NaiveDate, NaiveDate) {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
    let after = if month + count > 12 {
        NaiveDate::from_ymd_opt(year + 1, month + count - 12, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + count, 1)
    };
    let last = after.and_then(|after| after.pred_opt()).unwrap_or(first);
    (first, last)
}

/// The days of a range: both needed, real dates, the last not before the first.
fn range(reading: &mut Reading, from: &str, to: &str) -> Option<(NaiveDate, NaiveDate)> {
    let mut day = |field: &str, text: &str| {
        let text = text.trim();
        if text.is_empty() {
            reading.errors.push(FormError::keyed(field, "error-empty"));
            return None;
        }
        let parsed = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
        if parsed.is_none() {
            reading.errors.push(FormError::keyed(field, "error-date"));
        }
        parsed
    };
    let first = day("from", from);
    let last = day("to", to);
    let (first, last) = (first?, last?);
    if last < first {
        reading
            .errors
            .push(FormError::keyed("to", "dashboard-error-to-before-from"));
        return None;
    }
    Some((first, last))
}

/// A chart with its caption and its figures as a table (the text alternative).
#[derive(Debug, Serialize)]
struct ChartView {
    id: String,
    caption: String,
    svg: String,
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// What the page shows once the figures are read.
#[derive(Debug, Serialize)]
struct Figures {
    period_label: String,
    region: Option<String>,
    category: Option<String>,
    sections: Vec<(String, Vec<FigureRow>)>,
    charts: Vec<ChartView>,
    download_query: String,
}

#[derive(Debug, Serialize)]
struct DashboardPage {
    query: DashboardQuery,
    errors: Vec<FormError>,
    presets: &'static [&'static str],
    categories: Vec<&'static str>,
    figures: Option<Figures>,
}

/// The figures of `chosen`, read by the app on a blocking thread (a scan of every case).
async fn read_stats(
    state: &ConsoleState,
    signed_in: &SignedIn,
    chosen: &Chosen,
) -> Result<Stats, ConsoleError> {
    let app = state.app.clone();
    let caller = signed_in.caller().clone();
    let (period, scope) = (chosen.period, chosen.scope.clone());
    tokio::task::spawn_blocking(move || app.stats_within(&caller, period, &scope))
        .await
        .map_err(|error| {
            ConsoleError::App(caseledger_app::AppError::Internal(anyhow::anyhow!(
                "the statistics scan stopped: {error}"
            )))
        })?
        .map_err(ConsoleError::from)
}

/// Reads the query; `Err` with the page of errors (422) when it cannot be used. Anyone who
/// may not read statistics is refused first, whatever the query.
async fn chosen_or_errors(
    state: &ConsoleState,
    signed_in: &SignedIn,
    query: Option<&str>,
) -> Result<(DashboardQuery, Result<Chosen, Vec<FormError>>), ConsoleError> {
    state.app.check_may_read_stats(signed_in.caller())?;
    let query: DashboardQuery =
        serde_html_form::from_str(query.unwrap_or_default()).map_err(|_| ConsoleError::BadForm)?;
    let chosen = query.read(state.app.today(), state.config.timezone);
    Ok((query, chosen))
}

/// `GET /console/dashboard`.
pub async fn show(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let (query, chosen) = chosen_or_errors(&state, &signed_in, query.as_deref()).await?;
    match chosen {
        Ok(chosen) => {
            let stats = read_stats(&state, &signed_in, &chosen).await?;
            let figures = figures_view(&state, signed_in.visitor.lang, &chosen, &stats);
            dashboard_page(&state, &signed_in, query, Vec::new(), Some(figures))
        }
        Err(errors) => dashboard_page(&state, &signed_in, query, errors, None),
    }
}

fn dashboard_page(
    state: &ConsoleState,
    signed_in: &SignedIn,
    query: DashboardQuery,
    errors: Vec<FormError>,
    figures: Option<Figures>,
) -> Result<Response, ConsoleError> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = DashboardPage {
        query,
        errors,
        presets: PRESETS,
        categories: Category::ALL.iter().map(|value| value.as_str()).collect(),
        figures,
    };
    render_page(
        state,
        status,
        "dashboard.html",
        &signed_in.chrome("dashboard"),
        page,
    )
}

/// The words of the period: its first and last day.
fn period_label(state: &ConsoleState, lang: Lang, chosen: &Chosen) -> String {
    let mut args = fluent_bundle::FluentArgs::new();
    args.set("from", chosen.first_day.to_string());
    args.set("to", chosen.last_day.to_string());
    state
        .catalogs
        .text(lang, "dashboard-period-label", Some(&args))
}

fn text(state: &ConsoleState, lang: Lang, key: &str) -> String {
    state.catalogs.text(lang, key, None)
}

fn category_label(state: &ConsoleState, lang: Lang, chosen: &Chosen) -> Option<String> {
    chosen
        .scope
        .category
        .map(|category| text(state, lang, &format!("category-{}", category.as_str())))
}

fn figures_view(state: &ConsoleState, lang: Lang, chosen: &Chosen, stats: &Stats) -> Figures {
    let rows = figure_rows(stats, &state.catalogs, lang);
    Figures {
        period_label: period_label(state, lang, chosen),
        region: chosen.scope.region.clone(),
        category: category_label(state, lang, chosen),
        sections: by_section(&rows),
        charts: chart_views(state, lang, stats, &rows),
        download_query: serde_html_form::to_string(DashboardQuery::of(chosen)).unwrap_or_default(),
    }
}

/// The figure of `field` among `rows`.
fn row_of<'a>(rows: &'a [FigureRow], field: &str) -> Option<&'a FigureRow> {
    rows.iter().find(|row| row.field == field)
}

/// Bars of the rows whose fields are given, in that order.
fn bars_of(rows: &[FigureRow], fields: &[String]) -> Vec<Bar> {
    fields
        .iter()
        .filter_map(|field| row_of(rows, field))
        .map(|row| Bar {
            label: row.label.clone(),
            value: match row.value {
                crate::figures::FigureValue::Count(count) => Some(count as f64),
                crate::figures::FigureValue::Rate(rate) => rate,
                crate::figures::FigureValue::Days(days) => days,
            },
            shown: row.shown.clone(),
        })
        .collect()
}

fn bar_chart(
    state: &ConsoleState,
    lang: Lang,
    id: &str,
    caption_key: &str,
    rows: &[FigureRow],
    fields: Vec<String>,
    rates: bool,
) -> ChartView {
    let caption = text(state, lang, caption_key);
    let bars = bars_of(rows, &fields);
    ChartView {
        id: id.to_owned(),
        svg: charts::bars(id, &caption, &bars, rates),
        head: vec![
            text(state, lang, "dashboard-column-figure"),
            text(state, lang, "dashboard-column-value"),
        ],
        rows: bars
            .into_iter()
            .map(|bar| vec![bar.label, bar.shown])
            .collect(),
        caption,
    }
}

fn chart_views(
    state: &ConsoleState,
    lang: Lang,
    stats: &Stats,
    rows: &[FigureRow],
) -> Vec<ChartView> {
    let months: Vec<String> = stats.opened_by_month.keys().cloned().collect();
    let opened_name = text(state, lang, "dashboard-series-opened");
    let closed_name = text(state, lang, "dashboard-series-closed");
    let series = vec![
        Series {
            name: opened_name.clone(),
            values: stats.opened_by_month.values().copied().collect(),
        },
        Series {
            name: closed_name.clone(),
            values: months
                .iter()
                .map(|month| stats.closed_by_month.get(month).copied().unwrap_or(0))
                .collect(),
        },
    ];
    let caption = text(state, lang, "dashboard-chart-months");
    let mut views = vec![ChartView {
        id: "chart-months".into(),
        svg: charts::columns("chart-months", &caption, &months, &series),
        head: vec![
            text(state, lang, "dashboard-column-month"),
            opened_name,
            closed_name,
        ],
        rows: months
            .iter()
            .enumerate()
            .map(|(index, month)| {
                vec![
                    month.clone(),
                    series[0].values[index].to_string(),
                    series[1].values[index].to_string(),
                ]
            })
            .collect(),
        caption,
    }];
    let strings = |fields: &[&str]| fields.iter().map(|field| (*field).to_owned()).collect();
    views.push(bar_chart(
        state,
        lang,
        "chart-letters",
        "dashboard-chart-letters",
        rows,
        LetterKind::ALL
            .iter()
            .map(|kind| format!("letters_issued.{}", kind.as_str()))
            .collect(),
        false,
    ));
    views.push(bar_chart(
        state,
        lang,
        "chart-rates",
        "dashboard-chart-rates",
        rows,
        strings(&[
            "reply_rate",
            "rectification_rate",
            "confirmed_rectification_rate",
        ]),
        true,
    ));
    views.push(bar_chart(
        state,
        lang,
        "chart-median",
        "dashboard-chart-median",
        rows,
        strings(&["median_days_to_close"]),
        false,
    ));
    views.push(bar_chart(
        state,
        lang,
        "chart-overdue",
        "dashboard-chart-overdue",
        rows,
        strings(&["overdue_letters", "overdue"]),
        false,
    ));
    views.push(bar_chart(
        state,
        lang,
        "chart-categories",
        "dashboard-chart-categories",
        rows,
        Category::ALL
            .iter()
            .map(|category| format!("by_category.{}", category.as_str()))
            .collect(),
        false,
    ));
    if !stats.by_region.is_empty() {
        views.push(bar_chart(
            state,
            lang,
            "chart-regions",
            "dashboard-chart-regions",
            rows,
            stats
                .by_region
                .keys()
                .map(|region| format!("by_region.{region}"))
                .collect(),
            false,
        ));
    }
    views
}

/// The file's name: what it is, the period, and the filters.
fn file_name(state: &ConsoleState, lang: Lang, chosen: &Chosen, extension: &str) -> String {
    let mut parts = vec![
        text(state, lang, "dashboard-file-name"),
        format!("{}_{}", chosen.first_day, chosen.last_day),
    ];
    parts.extend(chosen.scope.region.clone());
    parts.extend(category_label(state, lang, chosen));
    let stem: Vec<String> = parts
        .iter()
        .map(|part| reports::file_name_part(part))
        .collect();
    format!("{}.{extension}", stem.join("_"))
}

/// The downloadable formats.
#[derive(Debug, Clone, Copy)]
enum Format {
    Csv,
    Xlsx,
}

async fn download(
    state: ConsoleState,
    signed_in: SignedIn,
    query: Option<String>,
    format: Format,
) -> Result<Response, ConsoleError> {
    let (query, chosen) = chosen_or_errors(&state, &signed_in, query.as_deref()).await?;
    let chosen = match chosen {
        Ok(chosen) => chosen,
        Err(errors) => return dashboard_page(&state, &signed_in, query, errors, None),
    };
    let stats = read_stats(&state, &signed_in, &chosen).await?;
    let lang = signed_in.visitor.lang;
    let rows = figure_rows(&stats, &state.catalogs, lang);
    let any = text(&state, lang, "dashboard-filter-all");
    let report = Report {
        title: text(&state, lang, "dashboard-title"),
        header_rows: vec![
            (
                text(&state, lang, "dashboard-period"),
                period_label(&state, lang, &chosen),
            ),
            (
                text(&state, lang, "field-region"),
                chosen.scope.region.clone().unwrap_or_else(|| any.clone()),
            ),
            (
                text(&state, lang, "col-category"),
                category_label(&state, lang, &chosen).unwrap_or(any),
            ),
            (
                text(&state, lang, "dashboard-made-at"),
                crate::templates::shown_minute(state.app.now(), state.config.timezone),
            ),
        ],
        columns: [
            text(&state, lang, "dashboard-column-section"),
            text(&state, lang, "dashboard-column-figure"),
            text(&state, lang, "dashboard-column-value"),
            text(&state, lang, "dashboard-column-field"),
        ],
        rows: &rows,
        sheet: text(&state, lang, "dashboard-sheet"),
    };
    let failed = |what: String| {
        ConsoleError::App(caseledger_app::AppError::Internal(anyhow::anyhow!(
            "the dashboard's download failed: {what}"
        )))
    };
    let (bytes, content_type, extension) = match format {
        Format::Csv => (
            reports::csv_bytes(&report).map_err(|error| failed(error.to_string()))?,
            reports::CSV_TYPE,
            "csv",
        ),
        Format::Xlsx => (
            reports::xlsx_bytes(&report).map_err(|error| failed(error.to_string()))?,
            reports::XLSX_TYPE,
            "xlsx",
        ),
    };
    let name = file_name(&state, lang, &chosen, extension);
    Ok(reports::download(bytes, content_type, &name))
}

/// `GET /console/dashboard.csv`: the page's figures as CSV.
pub async fn download_csv(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    download(state, signed_in, query, Format::Csv).await
}

/// `GET /console/dashboard.xlsx`: the page's figures as an XLSX workbook.
pub async fn download_xlsx(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    download(state, signed_in, query, Format::Xlsx).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn query(period: &str, from: &str, to: &str) -> DashboardQuery {
        DashboardQuery {
            period: period.into(),
            from: from.into(),
            to: to.into(),
            ..DashboardQuery::default()
        }
    }

    const SHANGHAI: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    #[test]
    fn presets_are_the_office_s_month_quarter_and_year() {
        let today = day("2026-08-17");
        let read = |period: &str| {
            let chosen = query(period, "", "").read(today, SHANGHAI).unwrap();
            (chosen.first_day.to_string(), chosen.last_day.to_string())
        };
        assert_eq!(read("month"), ("2026-08-01".into(), "2026-08-31".into()));
        assert_eq!(read("quarter"), ("2026-07-01".into(), "2026-09-30".into()));
        assert_eq!(read("year"), ("2026-01-01".into(), "2026-12-31".into()));
        assert_eq!(read(""), read("year"));
        let december = query("quarter", "", "")
            .read(day("2026-12-31"), SHANGHAI)
            .unwrap();
        assert_eq!(december.last_day, day("2026-12-31"));
        // The year's first instant in Shanghai is 16:00 UTC the day before.
        let year = query("year", "", "").read(today, SHANGHAI).unwrap();
        assert_eq!(
            year.period,
            Period {
                from: Some("2025-12-31T16:00:00Z".parse().unwrap()),
                to: Some("2026-12-31T16:00:00Z".parse().unwrap()),
            }
        );
    }

    #[test]
    fn a_range_includes_its_last_day() {
        let chosen = query("range", "2026-02-03", "2026-02-03")
            .read(day("2026-08-17"), SHANGHAI)
            .unwrap();
        assert_eq!(
            chosen.period.to.unwrap() - chosen.period.from.unwrap(),
            chrono::Duration::days(1)
        );
        let again = DashboardQuery::of(&chosen)
            .read(day("2030-01-01"), SHANGHAI)
            .unwrap();
        assert_eq!(again, chosen);
    }

    #[test]
    fn bad_periods_and_filters_name_their_fields() {
        let today = day("2026-08-17");
        let fields = |query: DashboardQuery| {
            let errors = query.read(today, SHANGHAI).unwrap_err();
            errors
                .into_iter()
                .map(|error| (error.field, error.key.unwrap_or_default()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(query("range", "2026-03-01", "2026-02-01")),
            [("to".to_owned(), "dashboard-error-to-before-from")]
        );
        assert_eq!(
            fields(query("range", "yesterday", "2026-02-30")),
            [
                ("from".to_owned(), "error-date"),
                ("to".to_owned(), "error-date")
            ]
        );
        assert_eq!(
            fields(query("range", "", "2026-02-01")),
            [("from".to_owned(), "error-empty")]
        );
        assert_eq!(
            fields(query("decade", "", "")),
            [("period".to_owned(), "error-choose")]
        );
        let unknown_category = DashboardQuery {
            category: "weather".into(),
            ..DashboardQuery::default()
        };
        assert_eq!(
            fields(unknown_category),
            [("category".to_owned(), "error-choose")]
        );
        let long_region = DashboardQuery {
            region: "区".repeat(101),
            ..DashboardQuery::default()
        };
        assert_eq!(
            fields(long_region),
            [("region".to_owned(), "error-too-long")]
        );
    }
}
