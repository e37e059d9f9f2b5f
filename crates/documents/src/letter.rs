//! The letter as data: [`LetterDocument`] (what the app hands over), its [`LetterKind`] and
//! [`Deadline`], and the value the templates read as `/letter.json` (`TemplateData`). It owns
//! the Chinese forms of dates and periods (`2026年12月25日`, `自收到本意见书之日起15个工作日内`)
//! and the splitting of text into paragraphs; it does no typesetting and knows no template.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Which of the two supervision letters (一函两书 less the reminder) a document is; it chooses
/// the template, the title and how the letter names itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterKind {
    /// 工会劳动法律监督意见书, to the employer: what it must correct, and by when.
    Opinion,
    /// 工会劳动法律监督建议书, to a government department (usually 人社): what the union asks it
    /// to do about an employer that did not heed an opinion letter.
    Recommendation,
}

impl LetterKind {
    /// Both kinds, for tests and tools that go through each.
    pub const ALL: [LetterKind; 2] = [LetterKind::Opinion, LetterKind::Recommendation];

    /// The kind's name in `/letter.json` and in the template's file name: `opinion`,
    /// `recommendation`.
    pub fn as_str(self) -> &'static str {
        match self {
            LetterKind::Opinion => "opinion",
            LetterKind::Recommendation => "recommendation",
        }
    }

    /// The template file that typesets this kind: `opinion.typ`, `recommendation.typ`.
    pub fn template_name(self) -> &'static str {
        match self {
            LetterKind::Opinion => "opinion.typ",
            LetterKind::Recommendation => "recommendation.typ",
        }
    }

    /// What the letter calls itself in running text, after `本`: `意见书`, `建议书`.
    fn document_name(self) -> &'static str {
        match self {
            LetterKind::Opinion => "意见书",
            LetterKind::Recommendation => "建议书",
        }
    }
}

/// Everything printed on one supervision letter, in the parts of an official document after
/// GB/T 9704-2012: the title (from [`kind`](Self::kind)), the number line, the addressee
/// (主送), the body — findings, legal basis, what must be corrected, the deadline —, the
/// signature and date (落款), the notes (附注: case reference and contact) and the copies
/// (抄送).
///
/// Plain data: every text is printed as written, never read as markup, so `#`, `$`, `*`, `]`
/// or `\` in a worker's words come out as themselves. Each string of a list is a paragraph (or
/// item); a line break inside one starts a new paragraph, and blank lines and the spaces around
/// each line are dropped (the layout indents paragraphs itself). Empty text prints nothing, or
/// leaves its part out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LetterDocument {
    /// Opinion or recommendation letter: chooses the template.
    pub kind: LetterKind,
    /// The letter number (发文字号), e.g. `X工劳监意〔2026〕3号`.
    pub number: String,
    /// The issuing office (发文机关), e.g. `X市总工会`: the document's author in the PDF's
    /// metadata, and the signature when [`signature`](Self::signature) is empty.
    pub office: String,
    /// To whom the letter goes (主送机关): the employer for an opinion letter, the government
    /// department for a recommendation letter. Printed with a full-width colon after it.
    pub addressee: String,
    /// The date of issue (成文日期), printed as `2026年12月4日`. Also the PDF's creation date and
    /// the only "today" a template sees, so the same letter always makes the same bytes.
    pub issued_on: NaiveDate,
    /// The case the letter belongs to, printed among the notes (`案件编号：…`); empty leaves
    /// the line out.
    pub case_reference: String,
    /// The facts found (经查明的事实), one paragraph each.
    pub findings: Vec<String>,
    /// The laws and articles the facts break (法律依据), one paragraph each; empty leaves the
    /// part out.
    pub legal_basis: Vec<String>,
    /// What must be corrected (整改意见), or for a recommendation letter what the union asks
    /// the department to do; numbered 一、二、三、 by the template, so not by the writer.
    pub corrections: Vec<String>,
    /// By when the addressee must act and answer; `None` prints no time limit.
    pub deadline: Option<Deadline>,
    /// The signature block (署名), one line each, set at the right above the date, where the
    /// office's seal goes: e.g. `X市总工会劳动法律监督委员会` and `（盖章）`. Empty signs with
    /// [`office`](Self::office).
    pub signature: Vec<String>,
    /// The contact line, printed in parentheses among the notes, e.g. `联系人：王明，电话：
    /// 0816-1234567`; empty leaves it out.
    pub contact: String,
    /// Who receives a copy (抄送), in order; empty prints no copy line.
    pub copies_to: Vec<String>,
}

/// A letter's time limit as it is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deadline {
    /// The last day to act, included: `于2026年12月25日（含当日）前`.
    LastDay {
        /// The last day.
        date: NaiveDate,
        /// The day was counted in working days over a year whose official calendar of
        /// holidays and adjusted working days (调休) was not yet published (contract §9): the
        /// letter then says that the period counts on the calendar as it will be published.
        provisional: bool,
    },
    /// A period from an event with no date yet — a deadline counted from service, before the
    /// letter is served (contract §9): `自收到本意见书之日起15个工作日内`.
    Within {
        /// How many days.
        amount: u32,
        /// Calendar or working days.
        unit: PeriodUnit,
        /// What the period counts from.
        from: PeriodStart,
    },
}

/// The days a [`Deadline::Within`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodUnit {
    /// Calendar days (`日`).
    CalendarDays,
    /// Working days (`个工作日`).
    WorkingDays,
}

/// The event a [`Deadline::Within`] counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodStart {
    /// The day the letter was issued (`自本意见书发出之日起`).
    Issued,
    /// The day the addressee received it (`自收到本意见书之日起`).
    Served,
}

/// A date as Chinese official documents write it since GB/T 9704-2012: Arabic numerals, no
/// leading zeros, `2026年12月4日`.
pub fn chinese_date(date: NaiveDate) -> String {
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

impl Deadline {
    /// The phrase a letter of `kind` prints, ready to follow `请你单位`:
    /// `于2026年12月25日（含当日）前`, or `自收到本意见书之日起15个工作日内`.
    pub fn phrase(&self, kind: LetterKind) -> String {
        match *self {
            // "前" alone leaves open whether the day itself counts; the last day does
            // (Civil Code art. 201–203), so the letter says so.
            Deadline::LastDay { date, .. } => format!("于{}（含当日）前", chinese_date(date)),
            Deadline::Within { amount, unit, from } => {
                let name = kind.document_name();
                let start = match from {
                    PeriodStart::Issued => format!("自本{name}发出之日起"),
                    PeriodStart::Served => format!("自收到本{name}之日起"),
                };
                let days = match unit {
                    PeriodUnit::CalendarDays => "日",
                    PeriodUnit::WorkingDays => "个工作日",
                };
                format!("{start}{amount}{days}内")
            }
        }
    }
}

/// The letter as the templates see it, serialised to `/letter.json`. This is the templates'
/// whole interface, described for template authors in `templates/README.md`; a field once
/// added stays.
#[derive(Debug, Serialize)]
pub(crate) struct TemplateData<'a> {
    kind: &'static str,
    number: &'a str,
    office: &'a str,
    addressee: &'a str,
    issued_on: DateData,
    case_reference: &'a str,
    findings: Vec<String>,
    legal_basis: Vec<String>,
    corrections: Vec<String>,
    deadline: Option<DeadlineData>,
    signature: Vec<String>,
    contact: &'a str,
    copies_to: Vec<String>,
}

/// A date both ways: `iso` and its parts for templates that compute with it, `text` to print.
#[derive(Debug, Serialize)]
struct DateData {
    iso: String,
    text: String,
    year: i32,
    month: u32,
    day: u32,
}

/// A deadline: the phrase to print; the last day when there is one; and whether it is
/// provisional, with the year whose calendar it waits for.
#[derive(Debug, Serialize)]
struct DeadlineData {
    phrase: String,
    last_day: Option<DateData>,
    provisional: bool,
    calendar_year: Option<i32>,
}

impl DateData {
    fn new(date: NaiveDate) -> Self {
        DateData {
            iso: date.format("%Y-%m-%d").to_string(),
            text: chinese_date(date),
            year: date.year(),
            month: date.month(),
            day: date.day(),
        }
    }
}

/// The paragraphs of some text: one per non-blank line, trimmed (full-width spaces too).
fn paragraphs<'a>(texts: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    texts
        .into_iter()
        .flat_map(|text| text.lines())
        .map(printable)
        .filter(|line| !line.is_empty())
        .collect()
}

/// A line without its surrounding spaces and without control characters, which no font draws
/// (a tab becomes a space).
fn printable(line: &str) -> String {
    let printable: String = line
        .chars()
        .filter_map(|character| match character {
            '\t' => Some(' '),
            character if character.is_control() => None,
            character => Some(character),
        })
        .collect();
    printable.trim().to_owned()
}

/// One line of text: a single-line field keeps its words but not its line breaks, which
/// would otherwise break the layout of a number or an addressee.
fn one_line(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(printable)
        .filter(|line| !line.is_empty())
        .collect();
    lines.join(" ")
}

impl<'a> TemplateData<'a> {
    /// The data of `letter`; `lines` keeps the single-line fields' joined forms alive.
    pub(crate) fn new(letter: &'a LetterDocument, lines: &'a SingleLines) -> Self {
        TemplateData {
            kind: letter.kind.as_str(),
            number: &lines.number,
            office: &lines.office,
            addressee: &lines.addressee,
            issued_on: DateData::new(letter.issued_on),
            case_reference: &lines.case_reference,
            findings: paragraphs(&letter.findings),
            legal_basis: paragraphs(&letter.legal_basis),
            corrections: paragraphs(&letter.corrections),
            deadline: letter.deadline.map(|deadline| match deadline {
                Deadline::LastDay { date, provisional } => DeadlineData {
                    phrase: deadline.phrase(letter.kind),
                    last_day: Some(DateData::new(date)),
                    provisional,
                    calendar_year: provisional.then(|| date.year()),
                },
                Deadline::Within { .. } => DeadlineData {
                    phrase: deadline.phrase(letter.kind),
                    last_day: None,
                    provisional: false,
                    calendar_year: None,
                },
            }),
            signature: paragraphs(&letter.signature),
            contact: &lines.contact,
            copies_to: paragraphs(&letter.copies_to),
        }
    }
}

/// The single-line fields of a letter with line breaks folded into spaces.
#[derive(Debug)]
pub(crate) struct SingleLines {
    number: String,
    office: String,
    addressee: String,
    case_reference: String,
    contact: String,
}

impl SingleLines {
    pub(crate) fn new(letter: &LetterDocument) -> Self {
        SingleLines {
            number: one_line(&letter.number),
            office: one_line(&letter.office),
            addressee: one_line(&letter.addressee),
            case_reference: one_line(&letter.case_reference),
            contact: one_line(&letter.contact),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
    }

    #[test]
    fn dates_are_written_without_leading_zeros() {
        assert_eq!(chinese_date(date(2026, 12, 4)), "2026年12月4日");
        assert_eq!(chinese_date(date(2027, 1, 15)), "2027年1月15日");
    }

    #[test]
    fn deadlines_read_as_the_letter_of_their_kind_says_them() {
        let last_day = Deadline::LastDay {
            date: date(2026, 12, 25),
            provisional: false,
        };
        assert_eq!(
            last_day.phrase(LetterKind::Opinion),
            "于2026年12月25日（含当日）前"
        );
        let served = Deadline::Within {
            amount: 15,
            unit: PeriodUnit::WorkingDays,
            from: PeriodStart::Served,
        };
        assert_eq!(
            served.phrase(LetterKind::Opinion),
            "自收到本意见书之日起15个工作日内"
        );
        assert_eq!(
            served.phrase(LetterKind::Recommendation),
            "自收到本建议书之日起15个工作日内"
        );
        let issued = Deadline::Within {
            amount: 60,
            unit: PeriodUnit::CalendarDays,
            from: PeriodStart::Issued,
        };
        assert_eq!(
            issued.phrase(LetterKind::Recommendation),
            "自本建议书发出之日起60日内"
        );
    }

    #[test]
    fn text_becomes_paragraphs_one_per_line() {
        let texts = vec![
            "　　一、补发工资。\r\n\n  二、签订合同。 \n".to_owned(),
            " \n\t\n".to_owned(),
            "三、缴纳社保。".to_owned(),
        ];
        assert_eq!(
            paragraphs(&texts),
            vec!["一、补发工资。", "二、签订合同。", "三、缴纳社保。"]
        );
        assert!(paragraphs(&[" \n\t\n".to_owned()]).is_empty());
        assert_eq!(
            paragraphs(&["甲\t乙\u{0}丙\u{7}\u{1b}[0m".to_owned()]),
            vec!["甲 乙丙[0m"]
        );
    }

    #[test]
    fn single_line_fields_fold_their_line_breaks() {
        assert_eq!(one_line("  X市\n  人社局 "), "X市 人社局");
        assert_eq!(one_line(" 甲公司 "), "甲公司");
    }
}
