//! [`Typesetter`]: loads the templates and fonts once — the embedded defaults, with optional
//! directories over them — and renders a [`LetterDocument`] to PDF bytes: the letter goes in as
//! data (`/letter.json`), typst lays it out, glyphs no font has are refused, and typst-pdf
//! writes the file with the letter's date as its only date. It owns the fixed PDF options and
//! the mapping of typst's diagnostics to [`DocumentError`]; the layout itself is the
//! templates'.

use std::collections::HashMap;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use chrono::Datelike;
use typst::diag::{SourceDiagnostic, Warned};
use typst::foundations::{Bytes, Datetime, Smart};
use typst::layout::{Frame, FrameItem};
use typst::syntax::{DiagSpanKind, Source};
use typst::text::Font;
use typst::WorldExt;
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, Timestamp};

use crate::error::DocumentError;
use crate::letter::{LetterDocument, SingleLines, TemplateData};
use crate::world::{file_id, LetterWorld, Resources};

/// The templates compiled into the crate: the shared layout and one file per kind.
const EMBEDDED_TEMPLATES: [(&str, &str); 3] = [
    ("letter.typ", include_str!("../templates/letter.typ")),
    ("opinion.typ", include_str!("../templates/opinion.typ")),
    (
        "recommendation.typ",
        include_str!("../templates/recommendation.typ"),
    ),
];

/// The fonts compiled into the crate (see `fonts/README.md`).
const EMBEDDED_FONTS: [(&str, &[u8]); 2] = [
    (
        "NotoSerifCJKsc-Regular.subset.otf",
        include_bytes!("../fonts/NotoSerifCJKsc-Regular.subset.otf"),
    ),
    (
        "NotoSerifCJKsc-Bold.subset.otf",
        include_bytes!("../fonts/NotoSerifCJKsc-Bold.subset.otf"),
    ),
];

/// The font files a font directory may hold.
const FONT_EXTENSIONS: [&str; 4] = ["otf", "ttf", "otc", "ttc"];

/// Typesets supervision letters as PDF. Build one at start (loading and checking every
/// template and font costs tens of milliseconds) and share it: [`render`](Self::render) takes
/// `&self` and may run on several threads at once.
///
/// ```no_run
/// # fn letter() -> caseledger_documents::LetterDocument { unimplemented!() }
/// use caseledger_documents::Typesetter;
///
/// let typesetter = Typesetter::new(None, None)?;
/// let pdf: Vec<u8> = typesetter.render(&letter())?;
/// # Ok::<(), caseledger_documents::DocumentError>(())
/// ```
#[derive(Debug)]
pub struct Typesetter {
    resources: Resources,
}

impl Typesetter {
    /// The embedded templates and fonts, with files from `template_dir` and `font_dir` over
    /// them.
    ///
    /// - `template_dir`: its `*.typ` files (not its subdirectories) replace the embedded ones
    ///   of the same name — `letter.typ` (the layout), `opinion.typ`, `recommendation.typ` —
    ///   and others may be added for them to import. It must exist and hold at least one
    ///   `*.typ` file, and every one must parse: a mistake shows here, not at the first letter.
    /// - `font_dir`: its font files (`*.otf`, `*.ttf`, `*.otc`, `*.ttc`, not in
    ///   subdirectories) come before the embedded fonts: a face with an embedded one's family
    ///   and style replaces it, and any face serves as a fallback for characters the others
    ///   lack.
    pub fn new(
        template_dir: Option<&Path>,
        font_dir: Option<&Path>,
    ) -> Result<Typesetter, DocumentError> {
        let mut templates = HashMap::new();
        for (name, text) in EMBEDDED_TEMPLATES {
            let source = checked_source(name, text.to_owned())?;
            templates.insert(source.id(), source);
        }
        if let Some(dir) = template_dir {
            for source in load_templates(dir)? {
                templates.insert(source.id(), source);
            }
        }
        let mut fonts = match font_dir {
            Some(dir) => load_fonts(dir)?,
            None => Vec::new(),
        };
        for (name, data) in EMBEDDED_FONTS {
            let font = Font::new(Bytes::new(data), 0).ok_or_else(|| DocumentError::Internal {
                message: format!("the embedded font {name} does not load"),
            })?;
            fonts.push(font);
        }
        let resources =
            Resources::new(templates, fonts).ok_or_else(|| DocumentError::Internal {
                message: "typst refused the path of the letter's data".to_owned(),
            })?;
        Ok(Typesetter { resources })
    }

    /// The letter as a PDF: A4 after GB/T 9704-2012, the same bytes for the same letter.
    ///
    /// Fails with [`DocumentError::MissingGlyphs`] when the letter has characters no font has
    /// (rather than printing boxes), and with [`DocumentError::Template`] when a template
    /// stops on an error.
    pub fn render(&self, letter: &LetterDocument) -> Result<Vec<u8>, DocumentError> {
        let lines = SingleLines::new(letter);
        let data = serde_json::to_vec(&TemplateData::new(letter, &lines)).map_err(|error| {
            DocumentError::Internal {
                message: format!("the letter's data did not serialise: {error}"),
            }
        })?;
        let today = letter_date(letter)?;
        let main = file_id(letter.kind.template_name()).ok_or_else(|| DocumentError::Internal {
            message: format!("typst refused the path {}", letter.kind.template_name()),
        })?;
        let world = LetterWorld {
            resources: &self.resources,
            main,
            letter_json: Bytes::new(data),
            today,
        };
        let options = PdfOptions {
            // The PDF's document id is a hash of this: stable for a letter, distinct between
            // letters (without it typst hashes title and author, the same for every letter of
            // an office).
            ident: Smart::Custom(format!(
                "caseledger-letter {} {}",
                letter.kind.as_str(),
                letter.number
            )),
            // The letter's date, at midnight in China, is the PDF's creation date: no clock.
            timestamp: Timestamp::new_local(today, 8 * 60),
            ..PdfOptions::default()
        };

        // typst is not expected to panic on any input, but a letter is worth an error rather
        // than a crashed request if it ever does.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            let document = compile(&world).map(|(document, _warnings)| document)?;
            refuse_missing_glyphs(&document)?;
            typst_pdf::pdf(&document, &options).map_err(|diagnostics| DocumentError::Pdf {
                message: messages(&diagnostics),
            })
        }));
        // typst memoises across compilations, process-wide; without eviction the caches grow
        // with every letter. Ten generations keep the templates' and fonts' work warm.
        typst::comemo::evict(10);
        outcome.unwrap_or_else(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            Err(DocumentError::Internal { message })
        })
    }
}

/// The letter's date as typst's: "today" in the templates and the PDF's date.
fn letter_date(letter: &LetterDocument) -> Result<Datetime, DocumentError> {
    let date = letter.issued_on;
    u8::try_from(date.month())
        .ok()
        .zip(u8::try_from(date.day()).ok())
        .and_then(|(month, day)| Datetime::from_ymd(date.year(), month, day))
        .ok_or_else(|| DocumentError::Internal {
            message: format!("typst cannot represent the date {date}"),
        })
}

/// Compiles the world's main template; the laid-out document and typst's warnings.
pub(crate) fn compile(
    world: &LetterWorld<'_>,
) -> Result<(PagedDocument, Vec<String>), DocumentError> {
    let Warned { output, warnings } = typst::compile::<PagedDocument>(world);
    let warnings = warnings
        .iter()
        .map(|warning| describe(world, warning))
        .collect();
    match output {
        Ok(document) => Ok((document, warnings)),
        Err(errors) => Err(match errors.first() {
            Some(first) => {
                let (location, message) = locate(world, first);
                let more = errors.len() - 1;
                DocumentError::Template {
                    location,
                    message: if more == 0 {
                        message
                    } else {
                        format!("{message} (and {more} more errors)")
                    },
                }
            }
            None => DocumentError::Template {
                location: world.main.vpath().get_without_slash().to_owned(),
                message: "typst failed without saying why".to_owned(),
            },
        }),
    }
}

/// A diagnostic as `location: message`.
fn describe(world: &LetterWorld<'_>, diagnostic: &SourceDiagnostic) -> String {
    let (location, message) = locate(world, diagnostic);
    format!("{location}: {message}")
}

/// Where a diagnostic points (`file:line:column`, 1-based, or the main template's name) and
/// its message with its hints.
fn locate(world: &LetterWorld<'_>, diagnostic: &SourceDiagnostic) -> (String, String) {
    let mut message = diagnostic.message.to_string();
    for hint in &diagnostic.hints {
        message.push_str("; hint: ");
        message.push_str(&hint.v);
    }
    let main = world.main.vpath().get_without_slash().to_owned();
    let location = diagnostic
        .span
        .id()
        .and_then(|id| {
            let name = id.vpath().get_without_slash().to_owned();
            let source = world.resources.templates.get(&id)?;
            let range = world.range(diagnostic.span)?;
            let (line, column) = source.lines().byte_to_line_column(range.start)?;
            Some(format!("{name}:{}:{}", line + 1, column + 1))
        })
        .unwrap_or(main);
    (location, message)
}

/// The messages of diagnostics that point nowhere in particular, joined.
fn messages(diagnostics: &[SourceDiagnostic]) -> String {
    let messages: Vec<&str> = diagnostics
        .iter()
        .map(|diagnostic| diagnostic.message.as_str())
        .collect();
    messages.join("; ")
}

/// Refuses a document with a glyph no font has: typst's last resort prints glyph 0, the
/// `.notdef` box (tofu), and a letter must not go out with boxes in a name or a sum.
fn refuse_missing_glyphs(document: &PagedDocument) -> Result<(), DocumentError> {
    let mut missing = String::new();
    for page in document.pages() {
        collect_missing_glyphs(&page.frame, &mut missing);
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DocumentError::MissingGlyphs {
            characters: missing,
        })
    }
}

fn collect_missing_glyphs(frame: &Frame, missing: &mut String) {
    for (_, item) in frame.items() {
        match item {
            FrameItem::Group(group) => collect_missing_glyphs(&group.frame, missing),
            FrameItem::Text(text) => {
                for glyph in text.glyphs.iter().filter(|glyph| glyph.id == 0) {
                    let characters = text.text.get(glyph.range()).unwrap_or_default();
                    for character in characters.chars() {
                        if !missing.contains(character) {
                            missing.push(character);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// A template source, refused if it does not parse.
fn checked_source(name: &str, text: String) -> Result<Source, DocumentError> {
    let id = file_id(name).ok_or_else(|| DocumentError::Template {
        location: name.to_owned(),
        message: "typst does not accept this file name".to_owned(),
    })?;
    let source = Source::new(id, text);
    let (errors, _warnings) = source.root().errors_and_warnings();
    if let Some(error) = errors.first() {
        let range = match error.span.get() {
            DiagSpanKind::Number { num, sub_range, .. } => source.range(num, sub_range),
            DiagSpanKind::Range { range, .. } => Some(range),
            DiagSpanKind::Detached => None,
        };
        let location = range
            .and_then(|range| source.lines().byte_to_line_column(range.start))
            .map(|(line, column)| format!("{name}:{}:{}", line + 1, column + 1))
            .unwrap_or_else(|| name.to_owned());
        return Err(DocumentError::Template {
            location,
            message: error.message.to_string(),
        });
    }
    Ok(source)
}

/// The `*.typ` files of a template directory, parsed.
fn load_templates(dir: &Path) -> Result<Vec<Source>, DocumentError> {
    let dir_error = |reason: &str, source: Option<std::io::Error>| DocumentError::TemplateDir {
        path: dir.to_path_buf(),
        reason: reason.to_owned(),
        source,
    };
    let mut sources = Vec::new();
    for path in files_in(dir).map_err(|error| dir_error("cannot be read", Some(error)))? {
        if path.extension().and_then(|extension| extension.to_str()) != Some("typ") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| dir_error("holds a template whose name is not UTF-8", None))?;
        let text = fs::read_to_string(&path).map_err(|error| DocumentError::TemplateDir {
            path: path.clone(),
            reason: "cannot be read as UTF-8 text".to_owned(),
            source: Some(error),
        })?;
        sources.push(checked_source(name, text)?);
    }
    if sources.is_empty() {
        return Err(dir_error(
            "holds no template (*.typ): expected letter.typ, opinion.typ or recommendation.typ",
            None,
        ));
    }
    Ok(sources)
}

/// Every face in the font files of a font directory.
fn load_fonts(dir: &Path) -> Result<Vec<Font>, DocumentError> {
    let mut fonts = Vec::new();
    let paths = files_in(dir).map_err(|error| DocumentError::FontDir {
        path: dir.to_path_buf(),
        reason: "cannot be read".to_owned(),
        source: Some(error),
    })?;
    for path in paths {
        let is_font = path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| {
                FONT_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str())
            });
        if !is_font {
            continue;
        }
        let data = fs::read(&path).map_err(|error| DocumentError::FontDir {
            path: path.clone(),
            reason: "cannot be read".to_owned(),
            source: Some(error),
        })?;
        let before = fonts.len();
        fonts.extend(Font::iter(Bytes::new(data)));
        if fonts.len() == before {
            return Err(DocumentError::FontDir {
                path,
                reason: "holds no font typst can read".to_owned(),
                source: None,
            });
        }
    }
    Ok(fonts)
}

/// The regular files directly in `dir`, sorted by name so that loading does not depend on the
/// order the file system lists them in.
fn files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir)? {
        // Follows symbolic links; one that leads nowhere is skipped like a directory.
        let path = entry?.path();
        if path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::letter::{Deadline, LetterKind};
    use chrono::NaiveDate;

    fn letter(kind: LetterKind) -> LetterDocument {
        LetterDocument {
            kind,
            number: "X工劳监意〔2026〕3号".to_owned(),
            office: "X市总工会".to_owned(),
            addressee: "X市甲制造有限公司".to_owned(),
            issued_on: NaiveDate::from_ymd_opt(2026, 12, 4).expect("a valid date"),
            case_reference: "X-2026-0042".to_owned(),
            findings: vec!["经查，你单位拖欠职工工资。".to_owned()],
            legal_basis: vec!["《中华人民共和国劳动法》第五十条。".to_owned()],
            corrections: vec!["足额支付拖欠的工资。".to_owned()],
            deadline: Some(Deadline::LastDay {
                date: NaiveDate::from_ymd_opt(2027, 1, 4).expect("a valid date"),
                provisional: true,
            }),
            signature: vec![],
            contact: "联系人：王明，电话：0816-1234567".to_owned(),
            copies_to: vec!["X市人力资源和社会保障局".to_owned()],
        }
    }

    /// The embedded templates compile without a single warning (an unknown font family, a
    /// deprecated function): a warning there is a silent fallback in every letter.
    #[test]
    fn embedded_templates_compile_without_warnings() {
        let typesetter = Typesetter::new(None, None).expect("the embedded typesetter");
        for kind in LetterKind::ALL {
            let letter = letter(kind);
            let lines = SingleLines::new(&letter);
            let data = serde_json::to_vec(&TemplateData::new(&letter, &lines)).expect("json");
            let world = LetterWorld {
                resources: &typesetter.resources,
                main: file_id(kind.template_name()).expect("an id"),
                letter_json: Bytes::new(data),
                today: letter_date(&letter).expect("a date"),
            };
            let (_, warnings) = compile(&world).expect("the letter compiles");
            assert_eq!(warnings, Vec::<String>::new(), "{kind:?}");
        }
    }

    #[test]
    fn a_template_that_does_not_parse_is_refused_with_its_line() {
        let error = checked_source("opinion.typ", "#let x = (\n#let y = ]".to_owned())
            .expect_err("a syntax error");
        match error {
            DocumentError::Template { location, .. } => {
                assert!(location.starts_with("opinion.typ:"), "{location}")
            }
            other => panic!("unexpected error: {other}"),
        }
    }

    #[test]
    fn file_ids_are_interned_not_made_anew() {
        assert_eq!(file_id("opinion.typ"), file_id("opinion.typ"));
        assert_eq!(file_id("/letter.json"), file_id("/letter.json"));
    }
}
