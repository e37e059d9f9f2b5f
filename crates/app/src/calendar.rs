//! The official working-day calendar as the service loads it: holiday-cn's year files, embedded
//! in the binary ([`embedded`]), and optionally a directory of files in the same format
//! (`--calendar-dir`) that adds years and regional holidays or replaces a year without a
//! rebuild ([`load`]); and the readiness warning for a year the calendar lacks
//! ([`missing_years_warning`]).
//!
//! It owns reading and merging those files into the domain's [`Calendar`] and the version that
//! names the data. What a working day is, and where a period ends, is the domain's
//! (`caseledger_domain::calendar`).
//!
//! # The files
//!
//! Each is holiday-cn's format: `{"year": 2027, "papers": [...], "days": [{"name": "元旦",
//! "date": "2027-01-01", "isOffDay": true}, ...]}`, where `isOffDay: true` is a holiday and
//! `false` a weekend day made a working day (调休); a notice may list days in the December
//! before its year. Two optional keys: `"region": "<name>"` marks a file of regional holidays,
//! and `"replace": true` makes a file the whole notice for its year. Unknown keys are refused
//! (a misspelt `replace` must not quietly merge).
//!
//! # How directory files combine with the embedded years
//!
//! Only `*.json` files directly in the directory are read, in name order.
//!
//! 1. A file with `"replace": true` is its year's notice, in place of the embedded one (a
//!    corrected notice). Two such files for one year are refused.
//! 2. Every other file is merged into its year, day by day: a day it lists takes its value, so
//!    it may add regional holidays, move a day, or bring a year the binary does not have.
//! 3. A year is covered once a national file (one without `region`) lists at least one day;
//!    a file that lists none — upstream's placeholder for a year before its notice — adds
//!    nothing. A regional file alone never covers a year: regional days for a year without a
//!    national notice are refused, since its national holidays would be missing unnoticed.
//! 4. Two directory files that list one day differently are refused, whatever their order.
//!
//! Every error names the file and, for a day, its entry. The version is
//! `holiday-cn@<commit>`, followed, when the directory holds files, by `+dir:` and the first
//! 12 hex digits of a SHA-256 over their names and contents in name order, so a deadline
//! records exactly which data it was counted on.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use caseledger_domain::{Calendar, CalendarError, CalendarYear};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// The commit of <https://github.com/NateScarlet/holiday-cn> the embedded year files were
/// taken from (MIT; `crates/app/calendar/holiday-cn/SOURCE.md`).
pub const HOLIDAY_CN_COMMIT: &str = "d4e53bf2143de9a85bbd0a916c6c4adac32b075f";

/// holiday-cn's year files, as vendored in `crates/app/calendar/holiday-cn/`.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "2020.json",
        include_str!("../calendar/holiday-cn/2020.json"),
    ),
    (
        "2021.json",
        include_str!("../calendar/holiday-cn/2021.json"),
    ),
    (
        "2022.json",
        include_str!("../calendar/holiday-cn/2022.json"),
    ),
    (
        "2023.json",
        include_str!("../calendar/holiday-cn/2023.json"),
    ),
    (
        "2024.json",
        include_str!("../calendar/holiday-cn/2024.json"),
    ),
    (
        "2025.json",
        include_str!("../calendar/holiday-cn/2025.json"),
    ),
    (
        "2026.json",
        include_str!("../calendar/holiday-cn/2026.json"),
    ),
    (
        "2027.json",
        include_str!("../calendar/holiday-cn/2027.json"),
    ),
];

/// How many hex digits of the directory's SHA-256 the version carries.
const DIR_HASH_DIGITS: usize = 12;

/// A calendar file that cannot be used, named with its entry where there is one.
#[derive(Debug, thiserror::Error)]
pub enum CalendarLoadError {
    /// The directory cannot be listed.
    #[error("cannot read the calendar directory {dir}: {source}")]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file cannot be read.
    #[error("cannot read the calendar file {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not JSON in holiday-cn's format.
    #[error("{file}: not a holiday-cn year file: {source}")]
    Format {
        /// The file.
        file: String,
        /// What the JSON parser says, with line and column.
        source: serde_json::Error,
    },
    /// One day of a file cannot be used.
    #[error("{file}: days[{index}] ({name} {date:?}): {problem}")]
    Day {
        /// The file.
        file: String,
        /// The entry's index in `days`.
        index: usize,
        /// Its `name`.
        name: String,
        /// Its `date`, as written.
        date: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A regional file with no region name, or one that would replace a year.
    #[error("{file}: {problem}")]
    Region {
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// Two directory files replace one year.
    #[error("{file} and {other} both replace {year}; keep one")]
    ReplacedTwice {
        /// The year.
        year: i32,
        /// The first file.
        other: String,
        /// The second file.
        file: String,
    },
    /// Two directory files list one day differently.
    #[error("{file} says {date} is {says}, but {other} says it is {other_says}")]
    FilesDisagree {
        /// The day.
        date: NaiveDate,
        /// The file read first.
        other: String,
        /// What it says (`a rest day` or `a working day`).
        other_says: &'static str,
        /// The file read second.
        file: String,
        /// What it says.
        says: &'static str,
    },
    /// Regional days for a year the calendar holds no national notice for.
    #[error(
        "{file} adds regional days to {year}, but the calendar has no national notice for \
         {year}: add holiday-cn's {year}.json to the directory too"
    )]
    RegionalWithoutNotice {
        /// The year.
        year: i32,
        /// The regional file.
        file: String,
    },
    /// The merged notices contradict each other (two years list one day differently).
    #[error("the calendar cannot be built: {0}")]
    Calendar(#[from] CalendarError),
}

/// The calendar of holiday-cn's year files embedded in the binary: 2020 to the latest notice
/// published at [`HOLIDAY_CN_COMMIT`].
pub fn embedded() -> Result<Calendar, CalendarLoadError> {
    load(None)
}

/// The embedded calendar with the files of `dir` (`--calendar-dir`) combined as the module
/// documentation says; [`embedded`] when `dir` is `None`. Reads the directory with blocking
/// calls: a few small files, once at start.
pub fn load(dir: Option<&Path>) -> Result<Calendar, CalendarLoadError> {
    let mut years = Years::default();
    for (name, text) in EMBEDDED {
        let file = YearFile::parse(&format!("holiday-cn/{name}"), text)?;
        if !file.days.is_empty() {
            years.insert_embedded(file);
        }
    }
    let mut version = format!("holiday-cn@{}", &HOLIDAY_CN_COMMIT[..7]);
    if let Some(dir) = dir {
        let files = read_dir(dir)?;
        if !files.is_empty() {
            let mut hasher = Sha256::new();
            for (name, bytes) in &files {
                let name = name.as_encoded_bytes();
                hasher.update((name.len() as u64).to_le_bytes());
                hasher.update(name);
                hasher.update((bytes.len() as u64).to_le_bytes());
                hasher.update(bytes);
            }
            let digest = hex::encode(hasher.finalize());
            version = format!("{version}+dir:{}", &digest[..DIR_HASH_DIGITS]);
        }
        let mut parsed = Vec::with_capacity(files.len());
        for (name, bytes) in &files {
            let file_name = dir.join(name).display().to_string();
            let text = std::str::from_utf8(bytes).map_err(|error| CalendarLoadError::Read {
                file: file_name.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, error),
            })?;
            parsed.push(YearFile::parse(&file_name, text)?);
        }
        // Replacements first, so that merged days land on the notice they amend whatever the
        // files' names.
        let (replacing, merging): (Vec<_>, Vec<_>) =
            parsed.into_iter().partition(|file| file.replace);
        for file in replacing {
            years.replace(file)?;
        }
        for file in merging {
            years.merge(file)?;
        }
    }
    let notices = years.into_notices()?;
    Ok(Calendar::new(version, notices)?)
}

/// What a readiness probe should warn of, on `today` (in the office's time zone): the years
/// whose notice the calendar lacks among this year and, from 1 December, the next one.
/// Deadlines that reach them are provisional.
pub fn missing_years_warning(calendar: &Calendar, today: NaiveDate) -> Option<String> {
    let year = today.year();
    let needed = if today.month() == 12 {
        vec![year, year + 1]
    } else {
        vec![year]
    };
    let missing: Vec<String> = needed
        .into_iter()
        .filter(|year| !calendar.covers(*year))
        .map(|year| year.to_string())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let years = missing.join(" and ");
    Some(format!(
        "the working-day calendar ({}) has no official notice for {years}: deadlines that \
         reach {years} are provisional; add the year's file to --calendar-dir \
         (docs/operations.md, \"The working-day calendar\")",
        calendar.version()
    ))
}

/// The `*.json` files directly in `dir`, in name order, with their contents.
fn read_dir(dir: &Path) -> Result<Vec<(OsString, Vec<u8>)>, CalendarLoadError> {
    let read_dir_error = |source| CalendarLoadError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir_error)? {
        let entry = entry.map_err(read_dir_error)?;
        let path = entry.path();
        let name = entry.file_name();
        let hidden = name.as_encoded_bytes().starts_with(b".");
        if hidden || path.extension().is_none_or(|extension| extension != "json") {
            continue;
        }
        // Follows symbolic links, as deployments mount files that way (ConfigMaps).
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|source| CalendarLoadError::Read {
            file: path.display().to_string(),
            source,
        })?;
        files.push((name, bytes));
    }
    files.sort_by(|left, right| left.0.cmp(&right.0));
    Ok(files)
}

/// A year file exactly as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYearFile {
    /// holiday-cn's files name their JSON schema and themselves; neither is used.
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(rename = "$id", default)]
    _id: Option<String>,
    year: i32,
    /// The notices' addresses: for people, not used.
    #[serde(rename = "papers", default)]
    _papers: Vec<String>,
    days: Vec<RawDay>,
    #[serde(default)]
    replace: bool,
    #[serde(default)]
    region: Option<String>,
}

/// One entry of `days`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDay {
    name: String,
    date: String,
    #[serde(rename = "isOffDay")]
    is_off_day: bool,
}

/// A year file, checked: every day a date in its year or the December before, none listed
/// both ways.
#[derive(Debug)]
struct YearFile {
    /// How errors name it: `holiday-cn/2026.json`, or the path of a directory file.
    name: String,
    year: i32,
    replace: bool,
    regional: bool,
    /// Each day and whether it is a working day.
    days: BTreeMap<NaiveDate, bool>,
}

impl YearFile {
    fn parse(name: &str, text: &str) -> Result<YearFile, CalendarLoadError> {
        let raw: RawYearFile =
            serde_json::from_str(text).map_err(|source| CalendarLoadError::Format {
                file: name.to_owned(),
                source,
            })?;
        let regional = match &raw.region {
            None => false,
            Some(region) if region.trim().is_empty() => {
                return Err(CalendarLoadError::Region {
                    file: name.to_owned(),
                    problem: "\"region\" must name the region".into(),
                })
            }
            Some(_) if raw.replace => {
                return Err(CalendarLoadError::Region {
                    file: name.to_owned(),
                    problem: "a regional file cannot replace a year's national notice; \
                              drop \"replace\" to add its days"
                        .into(),
                })
            }
            Some(_) => true,
        };
        let year = raw.year;
        let mut days: BTreeMap<NaiveDate, (bool, usize)> = BTreeMap::new();
        for (index, entry) in raw.days.into_iter().enumerate() {
            let day_error = |problem: String| CalendarLoadError::Day {
                file: name.to_owned(),
                index,
                name: entry.name.clone(),
                date: entry.date.clone(),
                problem,
            };
            let date = NaiveDate::parse_from_str(&entry.date, "%Y-%m-%d")
                .map_err(|_| day_error("not a date (YYYY-MM-DD)".into()))?;
            // `date.year() + 1` stays within chrono's years; `year - 1` could overflow.
            let in_year = date.year() == year || (date.year() + 1 == year && date.month() == 12);
            if !in_year {
                return Err(day_error(format!(
                    "not in {year} nor in the December before it (the file's \"year\")"
                )));
            }
            let working = !entry.is_off_day;
            match days.insert(date, (working, index)) {
                Some((earlier, earlier_index)) if earlier != working => {
                    return Err(day_error(format!(
                        "days[{earlier_index}] lists the same day as {}",
                        what(earlier)
                    )))
                }
                _ => {}
            }
        }
        Ok(YearFile {
            name: name.to_owned(),
            year,
            replace: raw.replace,
            regional,
            days: days
                .into_iter()
                .map(|(date, (working, _))| (date, working))
                .collect(),
        })
    }
}

fn what(working: bool) -> &'static str {
    if working {
        "a working day"
    } else {
        "a rest day"
    }
}

/// A day as the files so far list it.
#[derive(Debug)]
struct Listed {
    working: bool,
    /// The directory file that listed it; `None` for the embedded data, which any directory
    /// file overrides.
    from_dir: Option<String>,
}

/// One year's days as the files so far list them.
#[derive(Debug, Default)]
struct YearDays {
    days: BTreeMap<NaiveDate, Listed>,
    /// A national file listed days for it: the year is covered.
    national: bool,
    /// The first regional file that listed days for it.
    regional_file: Option<String>,
    /// The directory file that replaced it.
    replaced_by: Option<String>,
}

/// The years being combined.
#[derive(Debug, Default)]
struct Years(BTreeMap<i32, YearDays>);

impl Years {
    fn insert_embedded(&mut self, file: YearFile) {
        let year = self.0.entry(file.year).or_default();
        year.national = true;
        year.days = file
            .days
            .into_iter()
            .map(|(date, working)| {
                let listed = Listed {
                    working,
                    from_dir: None,
                };
                (date, listed)
            })
            .collect();
    }

    fn replace(&mut self, file: YearFile) -> Result<(), CalendarLoadError> {
        let year = self.0.entry(file.year).or_default();
        if let Some(other) = &year.replaced_by {
            return Err(CalendarLoadError::ReplacedTwice {
                year: file.year,
                other: other.clone(),
                file: file.name,
            });
        }
        year.replaced_by = Some(file.name.clone());
        year.national = !file.days.is_empty();
        year.days = file
            .days
            .into_iter()
            .map(|(date, working)| {
                let listed = Listed {
                    working,
                    from_dir: Some(file.name.clone()),
                };
                (date, listed)
            })
            .collect();
        Ok(())
    }

    fn merge(&mut self, file: YearFile) -> Result<(), CalendarLoadError> {
        if file.days.is_empty() {
            return Ok(());
        }
        let year = self.0.entry(file.year).or_default();
        if file.regional {
            year.regional_file.get_or_insert_with(|| file.name.clone());
        } else {
            year.national = true;
        }
        for (date, working) in file.days {
            if let Some(Listed {
                working: earlier,
                from_dir: Some(other),
            }) = year.days.get(&date)
            {
                if *earlier != working {
                    return Err(CalendarLoadError::FilesDisagree {
                        date,
                        other: other.clone(),
                        other_says: what(*earlier),
                        file: file.name,
                        says: what(working),
                    });
                }
            }
            let listed = Listed {
                working,
                from_dir: Some(file.name.clone()),
            };
            year.days.insert(date, listed);
        }
        Ok(())
    }

    /// The notices of the covered years.
    fn into_notices(self) -> Result<Vec<CalendarYear>, CalendarLoadError> {
        let mut notices = Vec::new();
        for (year, days) in self.0 {
            if !days.national {
                if let Some(file) = days.regional_file {
                    return Err(CalendarLoadError::RegionalWithoutNotice { year, file });
                }
                continue;
            }
            let (working, rest): (Vec<_>, Vec<_>) = days
                .days
                .into_iter()
                .partition(|(_, listed)| listed.working);
            notices.push(CalendarYear::new(
                year,
                rest.into_iter().map(|(date, _)| date).collect(),
                working.into_iter().map(|(date, _)| date).collect(),
            )?);
        }
        Ok(notices)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use caseledger_domain::PeriodUnit;
    use serde_json::json;

    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// Every day from `first` to `last`, both included.
    fn span(first: &str, last: &str) -> Vec<NaiveDate> {
        let (first, last) = (date(first), date(last));
        first.iter_days().take_while(|day| *day <= last).collect()
    }

    fn write(dir: &Path, name: &str, contents: &serde_json::Value) {
        std::fs::write(dir.join(name), serde_json::to_vec_pretty(contents).unwrap()).unwrap();
    }

    fn day(date: &str, off: bool) -> serde_json::Value {
        json!({"name": "test", "date": date, "isOffDay": off})
    }

    fn error_of(dir: &Path) -> String {
        load(Some(dir)).unwrap_err().to_string()
    }

    #[test]
    fn the_embedded_data_is_the_official_calendar() {
        let calendar = embedded().unwrap();
        assert_eq!(calendar.version(), "holiday-cn@d4e53bf");
        assert_eq!(
            calendar.covered_years().collect::<Vec<_>>(),
            (2020..=2026).collect::<Vec<_>>(),
            "2027.json is upstream's empty placeholder until the 2027 notice is published"
        );
        // 2026: a Saturday before the Spring Festival and a Sunday before National Day are
        // adjusted working days.
        assert!(calendar.is_working_day(date("2026-02-14")));
        assert!(calendar.is_working_day(date("2026-09-20")));
        for (first, last) in [
            ("2026-02-15", "2026-02-23"),
            ("2026-09-25", "2026-09-27"),
            ("2026-10-01", "2026-10-07"),
        ] {
            assert!(span(first, last)
                .into_iter()
                .all(|day| !calendar.is_working_day(day)));
        }
        assert!(calendar.is_working_day(date("2026-02-24")));
        assert!(calendar.is_working_day(date("2026-10-08")));
        assert!(calendar.is_working_day(date("2026-10-10")));
        // 2020's second notice extended the Spring Festival to 2 February.
        assert!(!calendar.is_working_day(date("2020-01-31")));
        // The 2023 notice lists 31 December 2022 as part of the New Year holiday.
        assert!(!calendar.is_working_day(date("2022-12-31")));
        // An opinion letter served on Friday 18 September 2026 is due 15 working days later.
        let due = calendar
            .last_day(date("2026-09-18"), 15, PeriodUnit::WorkingDays)
            .unwrap();
        assert_eq!((due.date, due.provisional), (date("2026-10-15"), false));
        assert_eq!(due.calendar_version, "holiday-cn@d4e53bf");
    }

    #[test]
    fn every_vendored_year_file_is_embedded_as_it_is() {
        let vendored = Path::new(env!("CARGO_MANIFEST_DIR")).join("calendar/holiday-cn");
        let mut on_disk: Vec<(String, String)> = std::fs::read_dir(&vendored)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "json")
            })
            .map(|path| {
                let name = path.file_name().unwrap().to_str().unwrap().to_owned();
                (name, std::fs::read_to_string(&path).unwrap())
            })
            .collect();
        on_disk.sort();
        let embedded: Vec<(String, String)> = EMBEDDED
            .iter()
            .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
            .collect();
        assert_eq!(embedded, on_disk);
        let source = std::fs::read_to_string(vendored.join("SOURCE.md")).unwrap();
        assert!(
            source.contains(HOLIDAY_CN_COMMIT),
            "SOURCE.md names the commit"
        );
    }

    #[test]
    fn a_directory_adds_a_year_and_names_its_data_in_the_version() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "2027.json",
            &json!({"year": 2027, "papers": [], "days": [
                day("2027-01-01", true), day("2027-01-02", true), day("2027-01-03", true),
                day("2027-02-06", false),
            ]}),
        );
        std::fs::write(dir.path().join("README.txt"), "not read").unwrap();
        let calendar = load(Some(dir.path())).unwrap();
        assert!(calendar.covers(2027));
        assert!(!calendar.is_working_day(date("2027-01-01")));
        assert!(calendar.is_working_day(date("2027-02-06")));
        let version = calendar.version().to_owned();
        let (base, hash) = version.split_once("+dir:").unwrap();
        assert_eq!(base, "holiday-cn@d4e53bf");
        assert_eq!(hash.len(), 12);
        assert!(hash.chars().all(|digit| digit.is_ascii_hexdigit()));
        // The same files give the same version; another byte, another one. Files that are not
        // `*.json` count for nothing.
        std::fs::write(dir.path().join("README.txt"), "changed, still not read").unwrap();
        assert_eq!(load(Some(dir.path())).unwrap().version(), version);
        write(
            dir.path(),
            "2027.json",
            &json!({"year": 2027, "papers": [], "days": [day("2027-01-01", true)]}),
        );
        let changed = load(Some(dir.path())).unwrap();
        assert_ne!(changed.version(), version);
        assert!(
            !changed.is_working_day(date("2027-02-06")),
            "a Saturday no longer listed is a rest day"
        );
    }

    #[test]
    fn an_empty_directory_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(Some(dir.path())).unwrap(), embedded().unwrap());
    }

    #[test]
    fn a_placeholder_without_days_covers_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("2027.json"),
            include_str!("../calendar/holiday-cn/2027.json"),
        )
        .unwrap();
        let calendar = load(Some(dir.path())).unwrap();
        assert!(!calendar.covers(2027));
        assert_ne!(calendar.version(), embedded().unwrap().version());
    }

    #[test]
    fn regional_holidays_are_merged_into_the_national_notice() {
        let dir = tempfile::tempdir().unwrap();
        // A regional holiday on Monday 20 April 2026.
        write(
            dir.path(),
            "2026-guangxi.json",
            &json!({"year": 2026, "region": "广西壮族自治区", "days": [day("2026-04-20", true)]}),
        );
        let calendar = load(Some(dir.path())).unwrap();
        assert!(!calendar.is_working_day(date("2026-04-20")));
        assert!(calendar.is_working_day(date("2026-04-21")));
        // The national notice is still there.
        assert!(calendar.is_working_day(date("2026-02-14")));
        assert!(!calendar.is_working_day(date("2026-10-01")));
    }

    #[test]
    fn a_national_file_without_replace_amends_the_embedded_notice_day_by_day() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "2026.json",
            &json!({"year": 2026, "papers": [], "days": [day("2026-02-14", true)]}),
        );
        let calendar = load(Some(dir.path())).unwrap();
        assert!(!calendar.is_working_day(date("2026-02-14")));
        assert!(calendar.is_working_day(date("2026-02-28")));
        assert!(!calendar.is_working_day(date("2026-02-16")));
    }

    #[test]
    fn a_file_that_replaces_its_year_drops_the_embedded_notice() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "2026-corrected.json",
            &json!({"year": 2026, "replace": true, "days": [day("2026-10-09", true)]}),
        );
        // A regional file merges into the replacement, whatever the names' order.
        write(
            dir.path(),
            "0-regional.json",
            &json!({"year": 2026, "region": "test", "days": [day("2026-04-20", true)]}),
        );
        let calendar = load(Some(dir.path())).unwrap();
        assert!(!calendar.is_working_day(date("2026-10-09")));
        assert!(!calendar.is_working_day(date("2026-04-20")));
        // Thursday 1 October and Saturday 14 February are the week's again.
        assert!(calendar.is_working_day(date("2026-10-01")));
        assert!(!calendar.is_working_day(date("2026-02-14")));
        assert!(calendar.covers(2026));
    }

    #[test]
    fn bad_files_are_refused_naming_the_file_and_the_entry() {
        let cases: Vec<(&str, String, &str)> =
            vec![
            ("2027.json", "{\"year\": 2027, \"days\": [".into(), "not a holiday-cn year file"),
            (
                "2027.json",
                json!({"year": 2027, "days": [day("2027-01-01", true), day("2027-02-30", true)]})
                    .to_string(),
                "days[1] (test \"2027-02-30\"): not a date",
            ),
            (
                "2027.json",
                json!({"year": 2027, "days": [day("2026-11-30", true)]}).to_string(),
                "days[0] (test \"2026-11-30\"): not in 2027 nor in the December before it",
            ),
            (
                "2027.json",
                json!({"year": i32::MIN, "days": [day("2027-01-01", true)]}).to_string(),
                "days[0] (test \"2027-01-01\"): not in -2147483648",
            ),
            (
                "2027.json",
                json!({"year": 2027, "days": [day("2027-01-01", true), day("2027-01-01", false)]})
                    .to_string(),
                "days[1] (test \"2027-01-01\"): days[0] lists the same day as a rest day",
            ),
            (
                "2027.json",
                json!({"year": 2027, "replaces": true, "days": [day("2027-01-01", true)]})
                    .to_string(),
                "unknown field `replaces`",
            ),
            (
                "2027.json",
                json!({"year": 2027, "days": [{"date": "2027-01-01", "isOffDay": true}]})
                    .to_string(),
                "missing field `name`",
            ),
            (
                "2027-region.json",
                json!({"year": 2027, "region": "test", "days": [day("2027-04-20", true)]})
                    .to_string(),
                "adds regional days to 2027, but the calendar has no national notice for 2027",
            ),
            (
                "2026-region.json",
                json!({"year": 2026, "region": " ", "days": [day("2026-04-20", true)]})
                    .to_string(),
                "\"region\" must name the region",
            ),
            (
                "2026-region.json",
                json!({"year": 2026, "region": "test", "replace": true, "days": []}).to_string(),
                "a regional file cannot replace",
            ),
        ];
        for (name, contents, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(name), &contents).unwrap();
            let error = error_of(dir.path());
            let path = dir.path().join(name).display().to_string();
            assert!(error.starts_with(&path), "{error} names {path}");
            assert!(error.contains(expected), "{error} says {expected}");
        }
    }

    #[test]
    fn files_that_contradict_each_other_are_refused_whatever_their_order() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a.json",
            &json!({"year": 2026, "days": [day("2026-04-20", true)]}),
        );
        write(
            dir.path(),
            "b.json",
            &json!({"year": 2026, "region": "test", "days": [day("2026-04-20", false)]}),
        );
        let error = error_of(dir.path());
        assert!(
            error.contains("2026-04-20 is a working day")
                && error.contains("a.json says it is a rest day"),
            "{error}"
        );

        let dir = tempfile::tempdir().unwrap();
        for name in ["a.json", "b.json"] {
            write(
                dir.path(),
                name,
                &json!({"year": 2026, "replace": true, "days": [day("2026-04-20", true)]}),
            );
        }
        let error = error_of(dir.path());
        assert!(error.contains("both replace 2026"), "{error}");

        // A day in the December before a notice's year that the year's own notice lists
        // otherwise: the 2027 file makes 31 December 2026 a working day, a regional file
        // made it a holiday.
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "2026-region.json",
            &json!({"year": 2026, "region": "test", "days": [day("2026-12-31", true)]}),
        );
        write(
            dir.path(),
            "2027.json",
            &json!({"year": 2027, "days": [day("2026-12-31", false)]}),
        );
        let error = error_of(dir.path());
        assert!(
            error.contains("the 2026 and 2027 calendars disagree on whether 2026-12-31"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nowhere");
        let error = error_of(&missing);
        assert!(
            error.starts_with("cannot read the calendar directory")
                && error.contains(&missing.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn the_warning_names_a_missing_year_from_the_first_of_december() {
        let calendar = embedded().unwrap();
        assert_eq!(missing_years_warning(&calendar, date("2026-11-30")), None);
        let warning = missing_years_warning(&calendar, date("2026-12-01")).unwrap();
        assert!(
            warning.contains("no official notice for 2027") && warning.contains("d4e53bf"),
            "{warning}"
        );
        assert_eq!(missing_years_warning(&calendar, date("2025-12-01")), None);
        // Into a year without notice, the warning stays.
        let warning = missing_years_warning(&calendar, date("2027-03-01")).unwrap();
        assert!(warning.contains("for 2027:"), "{warning}");
        let warning = missing_years_warning(&calendar, date("2027-12-31")).unwrap();
        assert!(warning.contains("for 2027 and 2028"), "{warning}");
    }
}
