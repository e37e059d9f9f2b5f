//! The dashboard's downloads: the same figure rows as the page (`figures.rs`) as CSV (the
//! `csv` crate) and as XLSX (`rust_xlsxwriter`), under header rows naming the period and the
//! filters, in the reader's language (Chinese by default); and the `Content-Disposition` that
//! names the file (RFC 6266: an ASCII `filename` and the full UTF-8 `filename*`). No request
//! and no app here: the handler in `pages/dashboard.rs` gives the rows and the words.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::figures::{FigureRow, FigureValue};

/// The media type of a CSV download.
pub const CSV_TYPE: &str = "text/csv; charset=utf-8";
/// The media type of an XLSX download.
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What a download holds: a title, a few (label, value) header rows (the period, the
/// filters, when it was made), the column names and the figures.
#[derive(Debug)]
pub struct Report<'a> {
    /// The first row.
    pub title: String,
    /// The rows under the title: the period, the region, the category, when it was made.
    pub header_rows: Vec<(String, String)>,
    /// The names of the four columns: section, figure, value, the `/v1/stats` field.
    pub columns: [String; 4],
    /// The figures.
    pub rows: &'a [FigureRow],
    /// The sheet's name.
    pub sheet: String,
}

/// The report as CSV: UTF-8 with a byte-order mark (so spreadsheet programs read Chinese
/// right), the header rows, an empty row, then a row per figure with its exact value.
pub fn csv_bytes(report: &Report<'_>) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record([report.title.as_str()])?;
    for (label, value) in &report.header_rows {
        writer.write_record([label.as_str(), value.as_str()])?;
    }
    writer.write_record([""])?;
    writer.write_record(&report.columns)?;
    for row in report.rows {
        writer.write_record([
            row.section_label.as_str(),
            row.label.as_str(),
            row.exact.as_str(),
            row.field.as_str(),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

/// The report as an XLSX workbook of one sheet: counts and days as numbers, rates as numbers
/// shown as percentages, a figure that does not exist as an empty cell.
pub fn xlsx_bytes(report: &Report<'_>) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.0%");
    let days = Format::new().set_num_format("0.0");
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name(&report.sheet))?;
    sheet.write_string_with_format(0, 0, &report.title, &bold)?;
    let mut row_index: u32 = 1;
    for (label, value) in &report.header_rows {
        sheet.write_string(row_index, 0, label)?;
        sheet.write_string(row_index, 1, value)?;
        row_index += 1;
    }
    row_index += 1;
    for (column, name) in report.columns.iter().enumerate() {
        sheet.write_string_with_format(row_index, column as u16, name, &bold)?;
    }
    for row in report.rows {
        row_index += 1;
        sheet.write_string(row_index, 0, &row.section_label)?;
        sheet.write_string(row_index, 1, &row.label)?;
        match row.value {
            FigureValue::Count(count) => {
                sheet.write_number(row_index, 2, count as f64)?;
            }
            FigureValue::Rate(Some(rate)) => {
                sheet.write_number_with_format(row_index, 2, rate, &percent)?;
            }
            FigureValue::Days(Some(value)) => {
                sheet.write_number_with_format(row_index, 2, value, &days)?;
            }
            FigureValue::Rate(None) | FigureValue::Days(None) => {}
        }
        sheet.write_string(row_index, 3, &row.field)?;
    }
    sheet.set_column_width(0, 24)?;
    sheet.set_column_width(1, 30)?;
    sheet.set_column_width(2, 12)?;
    sheet.set_column_width(3, 40)?;
    workbook.save_to_buffer()
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|character| !"[]:*?/\\'".contains(*character))
        .take(31)
        .collect();
    if cleaned.is_empty() {
        "Sheet1".to_owned()
    } else {
        cleaned
    }
}

/// `name` as a file name: no path separators, quotes or control characters, spaces as `_`.
pub fn file_name_part(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|character| !character.is_control())
        .map(|character| match character {
            '/' | '\\' | '"' | ':' | '*' | '?' | '<' | '>' | '|' | ';' | '%' => '-',
            character if character.is_whitespace() => '_',
            character => character,
        })
        .collect()
}

/// `Content-Disposition: attachment` naming `file_name` (RFC 6266): `filename` holds an
/// ASCII form for old clients (each run of other characters one `_`, none at the ends of
/// the name), `filename*` the name itself, UTF-8 percent-encoded (RFC 8187).
pub fn content_disposition(file_name: &str) -> String {
    let mut ascii = String::with_capacity(file_name.len());
    for character in file_name.chars() {
        if character.is_ascii_graphic() && character != '"' && character != '\\' {
            ascii.push(character);
        } else if !ascii.ends_with('_') {
            ascii.push('_');
        }
    }
    let (stem, extension) = ascii.rsplit_once('.').unwrap_or((ascii.as_str(), ""));
    let stem = stem.trim_matches('_');
    let stem = if stem.is_empty() { "download" } else { stem };
    let ascii = if extension.is_empty() {
        stem.to_owned()
    } else {
        format!("{stem}.{extension}")
    };
    let mut encoded = String::new();
    for byte in file_name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A download's response: its bytes, media type and file name, never cached.
pub fn download(bytes: Vec<u8>, content_type: &'static str, file_name: &str) -> Response {
    let disposition = HeaderValue::from_str(&content_disposition(file_name))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    fn rows() -> Vec<FigureRow> {
        let row = |field: &str, value: FigureValue| FigureRow {
            section: "dashboard-section-overview",
            section_label: "概况".into(),
            label: "新立案件".into(),
            field: field.into(),
            exact: value.exact(),
            shown: value.shown(),
            value,
        };
        vec![
            row("cases", FigureValue::Count(12)),
            row("reply_rate", FigureValue::Rate(Some(0.5))),
            row("median_days_to_close", FigureValue::Days(None)),
        ]
    }

    fn report(rows: &[FigureRow]) -> Report<'_> {
        Report {
            title: "案件统计".into(),
            header_rows: vec![("期间".into(), "2026-01-01 至 2026-03-31".into())],
            columns: ["分组".into(), "项目".into(), "数值".into(), "字段".into()],
            rows,
            sheet: "统计".into(),
        }
    }

    #[test]
    fn the_csv_holds_the_header_rows_then_each_figure_exactly() {
        let rows = rows();
        let bytes = csv_bytes(&report(&rows)).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "案件统计");
        assert_eq!(lines[1], "期间,2026-01-01 至 2026-03-31");
        assert_eq!(lines[2], "\"\"");
        assert_eq!(lines[3], "分组,项目,数值,字段");
        assert_eq!(lines[4], "概况,新立案件,12,cases");
        assert_eq!(lines[5], "概况,新立案件,0.5,reply_rate");
        assert_eq!(lines[6], "概况,新立案件,,median_days_to_close");
    }

    #[test]
    fn the_xlsx_is_a_zip_workbook() {
        let rows = rows();
        let bytes = xlsx_bytes(&report(&rows)).unwrap();
        assert!(bytes.starts_with(b"PK\x03\x04"));
    }

    #[test]
    fn file_names_keep_unicode_in_filename_star_and_ascii_in_filename() {
        let header = content_disposition("案件统计_2026-01-01_涪城区.xlsx");
        assert_eq!(
            header,
            "attachment; filename=\"2026-01-01.xlsx\"; filename*=UTF-8''%E6%A1%88%E4%BB%B6%E7%BB%9F%E8%AE%A1_2026-01-01_%E6%B6%AA%E5%9F%8E%E5%8C%BA.xlsx"
        );
        assert!(HeaderValue::from_str(&header).is_ok());
        let plain = content_disposition("statistics 2026.csv");
        assert!(plain.starts_with("attachment; filename=\"statistics_2026.csv\""));
        let chinese = content_disposition("统计.csv");
        assert!(chinese.starts_with("attachment; filename=\"download.csv\""));
        assert_eq!(file_name_part(" a/b \"c\"\n"), "a-b_-c-");
        assert_eq!(sheet_name("a[b]:c"), "abc");
    }
}
