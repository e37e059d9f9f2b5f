//! The typesetter at its boundary: letters in, PDF bytes out, read back with poppler's
//! `pdftotext -layout` the way a person would read them. Covers both kinds, text that looks
//! like typst markup, characters no font has, page breaks and page numbers, reproducible
//! bytes, and template and font directories good and bad.
//!
//! Where `pdftotext` is missing the tests that read text skip, loudly; with `CI` set they fail
//! instead (CI installs poppler-utils).

use std::path::Path;
use std::process::Command;

use caseledger_documents::{
    Deadline, DocumentError, LetterDocument, LetterKind, PeriodStart, PeriodUnit, Typesetter,
};
use chrono::NaiveDate;

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
}

fn typesetter() -> Typesetter {
    Typesetter::new(None, None).expect("the embedded templates and fonts load")
}

fn opinion() -> LetterDocument {
    LetterDocument {
        kind: LetterKind::Opinion,
        number: "X工劳监意〔2026〕3号".to_owned(),
        office: "X市总工会".to_owned(),
        addressee: "X市恒达精密制造有限公司".to_owned(),
        issued_on: date(2026, 12, 4),
        case_reference: "X-2026-0042".to_owned(),
        findings: vec![
            "你单位2026年7月至10月未支付职工加班工资。".to_owned(),
            "你单位有12名职工未订立书面劳动合同。".to_owned(),
        ],
        legal_basis: vec!["《中华人民共和国劳动法》第四十四条。".to_owned()],
        corrections: vec![
            "足额支付拖欠的加班工资。".to_owned(),
            "依法订立书面劳动合同。".to_owned(),
        ],
        deadline: Some(Deadline::LastDay {
            date: date(2026, 12, 25),
            provisional: false,
        }),
        signature: vec![
            "X市总工会劳动法律监督委员会".to_owned(),
            "（盖章）".to_owned(),
        ],
        contact: "联系人：王明，电话：0816-2345678".to_owned(),
        copies_to: vec!["X市人力资源和社会保障局".to_owned()],
    }
}

fn recommendation() -> LetterDocument {
    LetterDocument {
        kind: LetterKind::Recommendation,
        number: "X工劳监建〔2027〕1号".to_owned(),
        addressee: "X市人力资源和社会保障局".to_owned(),
        issued_on: date(2027, 1, 8),
        findings: vec!["X市恒达精密制造有限公司收到意见书后逾期未整改。".to_owned()],
        corrections: vec!["依法对该单位拖欠加班工资的行为立案调查。".to_owned()],
        deadline: Some(Deadline::Within {
            amount: 15,
            unit: PeriodUnit::WorkingDays,
            from: PeriodStart::Served,
        }),
        signature: vec![],
        copies_to: vec![],
        ..opinion()
    }
}

/// The PDF's text as `pdftotext -layout` reads it, or `None` where pdftotext is missing
/// outside CI (said on stderr).
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("letter.pdf");
    std::fs::write(&path, pdf).expect("the PDF is written");
    let output = match Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var_os("CI").is_some() {
                panic!("pdftotext is missing and CI is set: install poppler-utils");
            }
            eprintln!("SKIPPED: pdftotext is missing (apt-get install poppler-utils); the PDF's text is not checked");
            return None;
        }
        Err(error) => panic!("pdftotext did not run: {error}"),
    };
    assert!(
        output.status.success(),
        "pdftotext failed on the PDF: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).expect("pdftotext writes UTF-8"))
}

/// Text without any whitespace: pdftotext breaks lines where the layout does and may put
/// spaces between runs, so phrases are compared without them.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn assert_prints(text: &str, expected: &[&str]) {
    let squeezed_text = squeezed(text);
    for phrase in expected {
        assert!(
            squeezed_text.contains(&squeezed(phrase)),
            "the letter does not print {phrase:?}; pdftotext read:\n{text}"
        );
    }
}

/// pdftotext ends every page with a form feed.
fn pages(text: &str) -> usize {
    text.matches('\u{c}').count()
}

#[test]
fn an_opinion_letter_prints_its_parts() {
    let pdf = typesetter().render(&opinion()).expect("the letter renders");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let Some(text) = pdf_text(&pdf) else { return };
    assert_prints(
        &text,
        &[
            "工会劳动法律监督意见书",
            "X工劳监意〔2026〕3号",
            "X市恒达精密制造有限公司：",
            "你单位2026年7月至10月未支付职工加班工资。",
            "《中华人民共和国劳动法》第四十四条。",
            "一、足额支付拖欠的加班工资。",
            "二、依法订立书面劳动合同。",
            "请你单位于2026年12月25日（含当日）前整改完毕",
            "X市总工会劳动法律监督委员会",
            "（盖章）",
            "2026年12月4日",
            "（案件编号：X-2026-0042）",
            "（联系人：王明，电话：0816-2345678）",
            "抄送：X市人力资源和社会保障局。",
            "— 1 —",
        ],
    );
    assert!(!squeezed(&text).contains("尚未公布"), "not provisional");
}

#[test]
fn a_recommendation_letter_prints_its_parts() {
    let pdf = typesetter()
        .render(&recommendation())
        .expect("the letter renders");
    let Some(text) = pdf_text(&pdf) else { return };
    assert_prints(
        &text,
        &[
            "工会劳动法律监督建议书",
            "X工劳监建〔2027〕1号",
            "X市人力资源和社会保障局：",
            "X市恒达精密制造有限公司收到意见书后逾期未整改。",
            "本会建议贵单位：",
            "一、依法对该单位拖欠加班工资的行为立案调查。",
            "请贵单位依法处理，并自收到本建议书之日起15个工作日内将处理结果书面反馈本会。",
            // With no signature lines the office signs.
            "X市总工会",
            "2027年1月8日",
            "— 1 —",
        ],
    );
    assert!(!squeezed(&text).contains("抄送"), "no copies, no copy line");
}

#[test]
fn a_provisional_deadline_says_the_published_calendar_decides() {
    let letter = LetterDocument {
        issued_on: date(2026, 12, 18),
        deadline: Some(Deadline::LastDay {
            date: date(2027, 1, 11),
            provisional: true,
        }),
        ..opinion()
    };
    let pdf = typesetter().render(&letter).expect("the letter renders");
    let Some(text) = pdf_text(&pdf) else { return };
    assert_prints(
        &text,
        &[
            "请你单位于2027年1月11日（含当日）前整改完毕",
            "2027年节假日安排尚未公布，上述期限中的工作日以国务院办公厅公布的安排为准。",
        ],
    );
}

#[test]
fn typst_markup_in_the_letter_comes_out_literally() {
    // Every character that means something in typst markup or code. Had any of it been
    // evaluated, the calls would be gone from the text (and a page 1 cm wide would have
    // broken it into single characters).
    let tricky = r#"#set page(width: 1cm) $x^2$ *bold* _em_ `raw` ] [ \ @ref <label> // no comment /* no block */ = - + ~ "quoted" 'single' #{1+1} {} ()"#;
    let letter = LetterDocument {
        number: "#number〔2026〕$1$号".to_owned(),
        addressee: "*] 甲公司 [\\".to_owned(),
        findings: vec![tricky.to_owned()],
        corrections: vec!["#panic(\"no\")".to_owned()],
        contact: "联系人：#{ 张 }".to_owned(),
        ..opinion()
    };
    let pdf = typesetter().render(&letter).expect("the letter renders");
    let Some(text) = pdf_text(&pdf) else { return };
    assert_prints(
        &text,
        &[
            "#number〔2026〕$1$号",
            "*] 甲公司 [\\：",
            tricky,
            "一、#panic(\"no\")",
            "（联系人：#{ 张 }）",
        ],
    );
}

#[test]
fn characters_no_font_has_are_refused_not_printed_as_boxes() {
    // An emoji, a hanzi outside the embedded subset (a traditional form) and one outside the
    // full Noto CJK fonts too (U+20000).
    let letter = LetterDocument {
        findings: vec!["职工张三（張三）反映😀问题𠀀。".to_owned()],
        ..opinion()
    };
    match typesetter().render(&letter) {
        Err(DocumentError::MissingGlyphs { characters }) => {
            assert_eq!(characters, "張😀𠀀")
        }
        other => panic!("expected MissingGlyphs, got {other:?}"),
    }
}

#[test]
fn a_font_directory_supplies_the_characters_the_subset_lacks() {
    let full = Path::new("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc");
    if !full.exists() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{} is missing and CI is set: install fonts-noto-cjk",
                full.display()
            );
        }
        eprintln!(
            "SKIPPED: {} is missing (apt-get install fonts-noto-cjk)",
            full.display()
        );
        return;
    }
    let fonts = tempfile::tempdir().expect("a temporary directory");
    std::fs::copy(full, fonts.path().join("NotoSerifCJK-Regular.ttc")).expect("the font copies");
    let typesetter = Typesetter::new(None, Some(fonts.path())).expect("the font directory loads");
    let letter = LetterDocument {
        findings: vec!["职工張三反映龘字。".to_owned()],
        ..opinion()
    };
    let pdf = typesetter
        .render(&letter)
        .expect("the full font has 張 and 龘");
    let Some(text) = pdf_text(&pdf) else { return };
    assert_prints(&text, &["职工張三反映龘字。"]);
}

#[test]
fn the_same_letter_makes_the_same_bytes() {
    let first = typesetter().render(&opinion()).expect("the letter renders");
    // A second typesetter, renders of other letters in between: nothing carries over.
    let typesetter = typesetter();
    typesetter
        .render(&recommendation())
        .expect("the other letter renders");
    let second = typesetter.render(&opinion()).expect("the letter renders");
    assert!(first == second, "two renders of one letter differ");

    let other_number = LetterDocument {
        number: "X工劳监意〔2026〕4号".to_owned(),
        ..opinion()
    };
    let third = typesetter
        .render(&other_number)
        .expect("the letter renders");
    assert!(first != third, "another letter makes other bytes");
}

#[test]
fn the_pdf_bears_the_letters_date_and_no_clock_time() {
    let pdf = typesetter().render(&opinion()).expect("the letter renders");
    let raw = String::from_utf8_lossy(&pdf);
    assert!(
        raw.contains("D:20261204000000+08'00"),
        "the creation date is the date of issue, midnight in China"
    );
}

#[test]
fn a_long_letter_runs_over_pages_each_numbered() {
    let findings: Vec<String> = (1..=60)
        .map(|n| format!("第{n}项：经查，你单位于2026年存在未依法支付职工加班工资、未依法缴纳社会保险费、未依法订立书面劳动合同等问题，涉及职工若干名。"))
        .collect();
    let letter = LetterDocument {
        findings,
        ..opinion()
    };
    let pdf = typesetter().render(&letter).expect("the letter renders");
    let Some(text) = pdf_text(&pdf) else { return };
    let count = pages(&text);
    assert!(
        count >= 5,
        "60 paragraphs of three lines fill five pages, got {count}"
    );
    for page in 1..=count {
        assert_prints(&text, &[&format!("— {page} —")]);
    }
    assert_prints(&text, &["第1项：", "第60项：", "2026年12月4日"]);
}

#[test]
fn empty_and_huge_texts_render_without_panicking() {
    let typesetter = typesetter();
    let empty = LetterDocument {
        kind: LetterKind::Recommendation,
        number: String::new(),
        office: String::new(),
        addressee: String::new(),
        issued_on: date(2026, 1, 1),
        case_reference: String::new(),
        findings: vec![String::new(), " \n ".to_owned()],
        legal_basis: vec![],
        corrections: vec![],
        deadline: None,
        signature: vec![],
        contact: String::new(),
        copies_to: vec![String::new()],
    };
    let pdf = typesetter.render(&empty).expect("an empty letter renders");
    if let Some(text) = pdf_text(&pdf) {
        assert_prints(&text, &["工会劳动法律监督建议书", "2026年1月1日"]);
    }

    // One word longer than a page of lines, without a break opportunity, and control
    // characters.
    let huge = LetterDocument {
        number: "9".repeat(500),
        addressee: "甲".repeat(2_000),
        findings: vec![
            "a".repeat(20_000),
            "\u{0}\u{7}\u{1b}[31m\u{202e}反向".to_owned(),
        ],
        ..opinion()
    };
    typesetter.render(&huge).expect("a huge letter renders");
}

#[test]
fn a_template_directory_that_does_not_exist_is_a_clear_error() {
    let error = Typesetter::new(Some(Path::new("/nonexistent/templates")), None)
        .expect_err("no such directory");
    assert!(
        matches!(error, DocumentError::TemplateDir { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("/nonexistent/templates"), "{message}");
}

#[test]
fn a_template_directory_without_templates_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("opinion.txt"), "not a template").expect("written");
    let error = Typesetter::new(Some(dir.path()), None).expect_err("no *.typ file");
    assert!(error.to_string().contains("holds no template"), "{error}");
}

#[test]
fn a_template_that_does_not_parse_is_refused_at_start_with_its_line() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("opinion.typ"),
        "#let data = json(\"/letter.json\")\n#let broken = (\n= Title ]\n",
    )
    .expect("written");
    let error = Typesetter::new(Some(dir.path()), None).expect_err("a syntax error");
    match &error {
        DocumentError::Template { location, .. } => {
            assert!(location.starts_with("opinion.typ:"), "{location}")
        }
        other => panic!("expected Template, got {other:?}"),
    }
}

#[test]
fn a_template_that_fails_while_rendering_names_its_line() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("opinion.typ"),
        "#let data = json(\"/letter.json\")\n\n#data.no_such_field\n",
    )
    .expect("written");
    let typesetter = Typesetter::new(Some(dir.path()), None).expect("it parses");
    match typesetter.render(&opinion()) {
        Err(DocumentError::Template { location, message }) => {
            // Line 3, at the field typst could not find.
            assert_eq!(location, "opinion.typ:3:7");
            assert!(message.contains("no_such_field"), "{message}");
        }
        other => panic!("expected Template, got {other:?}"),
    }
}

#[test]
fn a_template_directory_replaces_only_the_files_it_holds() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("opinion.typ"),
        "#import \"letter.typ\": *\n#let data = json(\"/letter.json\")\n#show: letter-page.with(data, title: \"意见\")\n本办公室的意见书：#data.number\n",
    )
    .expect("written");
    let typesetter = Typesetter::new(Some(dir.path()), None).expect("it loads");
    let opinion_pdf = typesetter.render(&opinion()).expect("the opinion renders");
    let recommendation_pdf = typesetter
        .render(&recommendation())
        .expect("the recommendation renders");
    let (Some(opinion_text), Some(recommendation_text)) =
        (pdf_text(&opinion_pdf), pdf_text(&recommendation_pdf))
    else {
        return;
    };
    assert_prints(&opinion_text, &["本办公室的意见书：X工劳监意〔2026〕3号"]);
    assert!(!squeezed(&opinion_text).contains("工会劳动法律监督意见书"));
    assert_prints(&recommendation_text, &["工会劳动法律监督建议书"]);
}

#[test]
fn a_font_directory_that_does_not_exist_or_holds_no_font_is_a_clear_error() {
    let error = Typesetter::new(None, Some(Path::new("/nonexistent/fonts")))
        .expect_err("no such directory");
    assert!(matches!(error, DocumentError::FontDir { .. }), "{error:?}");

    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("broken.otf"), b"not a font").expect("written");
    let error = Typesetter::new(None, Some(dir.path())).expect_err("no font in broken.otf");
    assert!(error.to_string().contains("broken.otf"), "{error}");
}
