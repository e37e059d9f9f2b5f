//! The dashboard's figures as rows: each a section, a label in the reader's language, the
//! `GET /v1/stats` field it is (`letters_issued.opinion`, `opened_by_month.2026-03`) and its
//! value. The page's tables, the CSV and the XLSX are all written from these rows, so the
//! three hold the same figures, and each names the field of the API's answer it equals. Pure:
//! no request, no store; what the charts draw is in `charts.rs`, the files in `reports.rs`.

use caseledger_app::Stats;
use caseledger_domain::{CaseStatus, Category, LetterKind, Outcome, Tier};
use serde::Serialize;

use crate::i18n::{Catalogs, Lang};

/// What a figure is: a count, a share of opinion letters, or a number of days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum FigureValue {
    /// A number of cases or letters.
    Count(u64),
    /// A share between 0 and 1; `None` when nothing was there to divide by.
    Rate(Option<f64>),
    /// Days; `None` when no case was closed.
    Days(Option<f64>),
}

impl FigureValue {
    /// The value exactly, as the API writes it (`""` for none): what `data-value`, the CSV and
    /// tests compare.
    pub fn exact(&self) -> String {
        match self {
            FigureValue::Count(count) => count.to_string(),
            FigureValue::Rate(Some(value)) | FigureValue::Days(Some(value)) => value.to_string(),
            FigureValue::Rate(None) | FigureValue::Days(None) => String::new(),
        }
    }

    /// The value as a person reads it: a rate as a percentage with one decimal, days with one
    /// decimal, none as a dash.
    pub fn shown(&self) -> String {
        match self {
            FigureValue::Count(count) => count.to_string(),
            FigureValue::Rate(Some(value)) => format!("{:.1}%", value * 100.0),
            FigureValue::Days(Some(value)) => format!("{value:.1}"),
            FigureValue::Rate(None) | FigureValue::Days(None) => "—".to_owned(),
        }
    }
}

/// One figure.
#[derive(Debug, Clone, Serialize)]
pub struct FigureRow {
    /// The catalog key of its section (`dashboard-section-letters`, …).
    pub section: &'static str,
    /// Its section, worded.
    pub section_label: String,
    /// What it counts, worded.
    pub label: String,
    /// The field of `GET /v1/stats` it equals, as a dotted path.
    pub field: String,
    /// The figure.
    pub value: FigureValue,
    /// [`FigureValue::exact`].
    pub exact: String,
    /// [`FigureValue::shown`].
    pub shown: String,
}

/// The sections, in the order the page, the CSV and the XLSX list them.
pub const SECTIONS: &[&str] = &[
    "dashboard-section-overview",
    "dashboard-section-rates",
    "dashboard-section-letters",
    "dashboard-section-status",
    "dashboard-section-category",
    "dashboard-section-region",
    "dashboard-section-tier",
    "dashboard-section-outcome",
    "dashboard-section-opened-by-month",
    "dashboard-section-closed-by-month",
];

/// Builds rows worded in one language.
struct RowWriter<'a> {
    catalogs: &'a Catalogs,
    lang: Lang,
    rows: Vec<FigureRow>,
}

impl RowWriter<'_> {
    fn text(&self, key: &str) -> String {
        self.catalogs.text(self.lang, key, None)
    }

    fn push(&mut self, section: &'static str, label: String, field: String, value: FigureValue) {
        let section_label = self.text(section);
        self.rows.push(FigureRow {
            section,
            section_label,
            label,
            field,
            exact: value.exact(),
            shown: value.shown(),
            value,
        });
    }

    fn keyed(&mut self, section: &'static str, label_key: &str, field: &str, value: FigureValue) {
        let label = self.text(label_key);
        self.push(section, label, field.to_owned(), value);
    }

    /// A count of every name of a vocabulary, zero where `counts` has none.
    fn counts(
        &mut self,
        section: &'static str,
        field: &str,
        label_prefix: &str,
        names: impl IntoIterator<Item = &'static str>,
        counts: &std::collections::BTreeMap<String, u64>,
    ) {
        for name in names {
            let label = self.text(&format!("{label_prefix}{name}"));
            let count = counts.get(name).copied().unwrap_or(0);
            self.push(
                section,
                label,
                format!("{field}.{name}"),
                FigureValue::Count(count),
            );
        }
    }
}

/// Every figure of `stats`, worded in `lang`.
pub fn figure_rows(stats: &Stats, catalogs: &Catalogs, lang: Lang) -> Vec<FigureRow> {
    let mut out = RowWriter {
        catalogs,
        lang,
        rows: Vec::new(),
    };
    let overview = "dashboard-section-overview";
    out.keyed(
        overview,
        "dashboard-cases-opened",
        "cases",
        FigureValue::Count(stats.cases),
    );
    out.keyed(
        overview,
        "dashboard-cases-closed",
        "closed",
        FigureValue::Count(stats.closed),
    );
    out.keyed(
        overview,
        "dashboard-median-days",
        "median_days_to_close",
        FigureValue::Days(stats.median_days_to_close),
    );
    out.keyed(
        overview,
        "dashboard-overdue-cases",
        "overdue",
        FigureValue::Count(stats.overdue),
    );
    out.keyed(
        overview,
        "dashboard-overdue-letters",
        "overdue_letters",
        FigureValue::Count(stats.overdue_letters),
    );
    let rates = "dashboard-section-rates";
    for (key, field, value) in [
        (
            "dashboard-opinion-letters",
            "opinion_letters",
            stats.opinion_letters,
        ),
        (
            "dashboard-opinion-answered",
            "opinion_letters_answered",
            stats.opinion_letters_answered,
        ),
        (
            "dashboard-opinion-rectified",
            "opinion_letters_rectified",
            stats.opinion_letters_rectified,
        ),
        (
            "dashboard-opinion-followed-up",
            "opinion_letters_followed_up",
            stats.opinion_letters_followed_up,
        ),
        (
            "dashboard-opinion-confirmed",
            "opinion_letters_rectification_confirmed",
            stats.opinion_letters_rectification_confirmed,
        ),
    ] {
        out.keyed(rates, key, field, FigureValue::Count(value));
    }
    for (key, field, value) in [
        ("dashboard-reply-rate", "reply_rate", stats.reply_rate),
        (
            "dashboard-rectification-rate",
            "rectification_rate",
            stats.rectification_rate,
        ),
        (
            "dashboard-confirmed-rate",
            "confirmed_rectification_rate",
            stats.confirmed_rectification_rate,
        ),
    ] {
        out.keyed(rates, key, field, FigureValue::Rate(value));
    }
    out.counts(
        "dashboard-section-letters",
        "letters_issued",
        "kind-",
        LetterKind::ALL.iter().map(|kind| kind.as_str()),
        &stats.letters_issued,
    );
    out.counts(
        "dashboard-section-status",
        "by_status",
        "status-",
        CaseStatus::ALL.iter().map(|status| status.as_str()),
        &stats.by_status,
    );
    out.counts(
        "dashboard-section-category",
        "by_category",
        "category-",
        Category::ALL.iter().map(|category| category.as_str()),
        &stats.by_category,
    );
    for (region, count) in &stats.by_region {
        out.push(
            "dashboard-section-region",
            region.clone(),
            format!("by_region.{region}"),
            FigureValue::Count(*count),
        );
    }
    out.counts(
        "dashboard-section-tier",
        "by_tier",
        "tier-",
        Tier::ALL.iter().map(|tier| tier.as_str()),
        &stats.by_tier,
    );
    out.counts(
        "dashboard-section-outcome",
        "closed_by_outcome",
        "outcome-",
        Outcome::ALL.iter().map(|outcome| outcome.as_str()),
        &stats.closed_by_outcome,
    );
    for (section, field, months) in [
        (
            "dashboard-section-opened-by-month",
            "opened_by_month",
            &stats.opened_by_month,
        ),
        (
            "dashboard-section-closed-by-month",
            "closed_by_month",
            &stats.closed_by_month,
        ),
    ] {
        for (month, count) in months {
            out.push(
                section,
                month.clone(),
                format!("{field}.{month}"),
                FigureValue::Count(*count),
            );
        }
    }
    out.rows
}

/// The rows grouped by section, in [`SECTIONS`] order, sections without rows left out.
pub fn by_section(rows: &[FigureRow]) -> Vec<(String, Vec<FigureRow>)> {
    SECTIONS
        .iter()
        .filter_map(|section| {
            let in_section: Vec<FigureRow> = rows
                .iter()
                .filter(|row| row.section == *section)
                .cloned()
                .collect();
            let label = in_section.first()?.section_label.clone();
            Some((label, in_section))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use std::collections::BTreeMap;

    fn catalogs() -> Catalogs {
        Catalogs::load().expect("the catalogs load")
    }

    #[test]
    fn every_figure_names_its_field_and_keeps_the_exact_value() {
        let stats = Stats {
            cases: 7,
            closed: 3,
            reply_rate: Some(2.0 / 3.0),
            median_days_to_close: Some(12.5),
            letters_issued: BTreeMap::from([("opinion".to_owned(), 3)]),
            by_region: BTreeMap::from([("涪城区".to_owned(), 4)]),
            opened_by_month: BTreeMap::from([("2026-01".to_owned(), 7)]),
            closed_by_month: BTreeMap::from([("2026-01".to_owned(), 3)]),
            ..Stats::default()
        };
        let rows = figure_rows(&stats, &catalogs(), Lang::ZhCn);
        let find = |field: &str| {
            rows.iter()
                .find(|row| row.field == field)
                .unwrap_or_else(|| panic!("{field} is a row"))
        };
        assert_eq!(find("cases").exact, "7");
        assert_eq!(find("reply_rate").exact, (2.0f64 / 3.0).to_string());
        assert_eq!(find("reply_rate").shown, "66.7%");
        assert_eq!(find("rectification_rate").shown, "—");
        assert_eq!(find("rectification_rate").exact, "");
        assert_eq!(find("median_days_to_close").shown, "12.5");
        assert_eq!(find("letters_issued.opinion").exact, "3");
        assert_eq!(find("letters_issued.reminder").exact, "0");
        assert_eq!(find("by_region.涪城区").label, "涪城区");
        assert_eq!(find("opened_by_month.2026-01").exact, "7");
        assert_eq!(find("closed_by_month.2026-01").exact, "3");
        assert_eq!(find("by_category.wage_arrears").label, "拖欠工资");
        let english = figure_rows(&stats, &catalogs(), Lang::En);
        assert_eq!(english.len(), rows.len());
        assert!(english
            .iter()
            .zip(&rows)
            .all(|(en, zh)| en.field == zh.field && en.exact == zh.exact));
    }

    #[test]
    fn sections_come_in_order_and_empty_ones_are_left_out() {
        let rows = figure_rows(&Stats::default(), &catalogs(), Lang::En);
        let sections = by_section(&rows);
        assert_eq!(sections[0].1[0].field, "cases");
        // No region and no month: those sections are absent, every other is there.
        assert_eq!(sections.len(), SECTIONS.len() - 3);
    }
}
