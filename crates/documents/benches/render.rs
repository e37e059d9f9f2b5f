//! The cost of typesetting a letter: `Typesetter::new` once, then `render` of a one-page and a
//! five-page opinion letter in plain timed loops — a new letter each round, then the same
//! letter again — each reported as milliseconds per letter (mean, median, slowest) with the
//! PDF's size. As a yardstick it times `pdftotext -layout` on
//! each result, the cheapest thing anyone does with the PDF afterwards (skipped where poppler
//! is missing). `docs/benchmarks.md` ("Letters as PDF") has the figures and the command:
//!
//! ```text
//! cargo bench -p caseledger-documents --bench render [-- ROUNDS]
//! ```

use std::process::Command;
use std::time::{Duration, Instant};

use caseledger_documents::{Deadline, LetterDocument, LetterKind, Typesetter};
use chrono::NaiveDate;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = match std::env::args().skip(1).find(|arg| !arg.starts_with('-')) {
        Some(rounds) => rounds.parse()?,
        None => 50,
    };

    let started = Instant::now();
    let typesetter = Typesetter::new(None, None)?;
    println!(
        "Typesetter::new (embedded templates and fonts): {:.1} ms",
        ms(started.elapsed())
    );

    for (label, findings) in [("one page", 1), ("five pages", 27)] {
        // The first render fills typst's caches (fonts parsed, templates evaluated): what the
        // first letter after start costs.
        let started = Instant::now();
        let pdf = typesetter.render(&letter(findings, 0))?;
        let first = started.elapsed();

        // A new letter each round (its number and every paragraph differ), so typst's
        // memoisation cannot hand back an earlier layout: what each letter issued costs.
        let mut new_letters = Vec::with_capacity(rounds);
        for round in 1..=rounds {
            let letter = letter(findings, round);
            let started = Instant::now();
            typesetter.render(&letter)?;
            new_letters.push(started.elapsed());
        }

        // The same letter again (a document read twice): mostly typst's caches.
        let mut same_letter = Vec::with_capacity(rounds);
        let letter = letter(findings, 0);
        for _ in 0..rounds {
            let started = Instant::now();
            let again = typesetter.render(&letter)?;
            same_letter.push(started.elapsed());
            assert!(again == pdf, "the same letter made other bytes");
        }

        let (pages, pdftotext) = read_back(&pdf);
        println!(
            "{label:>10}: {pages} page(s), {} KiB; first render {:.1} ms; a new letter each time {}; the same letter again {}; pdftotext -layout of the result {pdftotext}",
            pdf.len() / 1024,
            ms(first),
            summary(&mut new_letters)?,
            summary(&mut same_letter)?,
        );
    }
    Ok(())
}

/// `mean m ms, median m ms, slowest m ms over n`.
fn summary(times: &mut [Duration]) -> Result<String, std::num::TryFromIntError> {
    times.sort();
    let count = times.len();
    let mean = times.iter().sum::<Duration>() / u32::try_from(count.max(1))?;
    let median = times.get(count / 2).copied().unwrap_or_default();
    let slowest = times.last().copied().unwrap_or_default();
    Ok(format!(
        "mean {:.1} ms, median {:.1} ms, slowest {:.1} ms over {count}",
        ms(mean),
        ms(median),
        ms(slowest)
    ))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The page count and the time of one `pdftotext -layout` run, read from the PDF by poppler;
/// "?" and "skipped" where it is not installed.
fn read_back(pdf: &[u8]) -> (String, String) {
    let path = std::env::temp_dir().join(format!("caseledger-bench-{}.pdf", std::process::id()));
    if std::fs::write(&path, pdf).is_err() {
        return ("?".to_owned(), "skipped (no temporary file)".to_owned());
    }
    let started = Instant::now();
    let output = Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output();
    let elapsed = started.elapsed();
    let _ = std::fs::remove_file(&path);
    match output {
        Ok(output) if output.status.success() => {
            let pages = output.stdout.iter().filter(|&&byte| byte == 0x0c).count();
            (pages.to_string(), format!("{:.1} ms", ms(elapsed)))
        }
        _ => (
            "?".to_owned(),
            "skipped (pdftotext missing or failed)".to_owned(),
        ),
    }
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
}

/// An opinion letter with `findings` paragraphs of three lines each: 1 fills one page with the
/// rest, 27 five pages. `round` goes into its number and every paragraph, so that each round's
/// letter is new to typst.
fn letter(findings: usize, round: usize) -> LetterDocument {
    let long = findings > 1;
    LetterDocument {
        kind: LetterKind::Opinion,
        number: format!("X工劳监意〔2026〕{round}号"),
        office: "X市总工会".to_owned(),
        addressee: "X市恒达精密制造有限公司".to_owned(),
        issued_on: date(2026, 12, 4),
        case_reference: if long { format!("X-2026-{round}") } else { String::new() },
        findings: (1..=findings)
            .map(|n| format!("第{n}项：2026年7月至10月，你单位冲压车间实行“做六休一”工作制，每日工作10小时，职工月平均加班时间达{}小时，且未支付加班工资。", 60 + round))
            .collect(),
        legal_basis: if long {
            vec!["《中华人民共和国劳动法》第四十一条、第四十四条。".to_owned()]
        } else {
            vec![]
        },
        corrections: vec![format!(
            "按照不低于工资的百分之一百五十支付第{round}批职工的加班工资，补足已拖欠部分。"
        )],
        deadline: Some(Deadline::LastDay {
            date: date(2026, 12, 25),
            provisional: false,
        }),
        signature: vec!["X市总工会".to_owned()],
        contact: if long {
            "联系人：王明，电话：0816-2345678".to_owned()
        } else {
            String::new()
        },
        copies_to: vec![],
    }
}
