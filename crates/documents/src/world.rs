//! The typst side: `Resources` (templates, fonts and the standard library, loaded once) and
//! `LetterWorld`, the [`typst::World`] one render sees — the templates, the letter as the
//! virtual file `/letter.json`, the fonts, and the letter's date as "today". Nothing here
//! reads the disk or the clock while rendering, which is what makes the output reproducible.
//! It does not decide what to load (see `typesetter.rs`) and knows no letter fields.

use std::collections::HashMap;

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

/// The path templates read the letter from: `json("/letter.json")`.
pub(crate) const LETTER_JSON: &str = "/letter.json";

/// The interned id of a path at the root of the template set; `None` for a name typst does
/// not accept as a path. Ids are interned once per distinct path for the life of the process
/// (typst holds at most 65,535), so renders reuse the same few ids, never fresh ones.
pub(crate) fn file_id(path: &str) -> Option<FileId> {
    let path = VirtualPath::new(path).ok()?;
    Some(RootedPath::new(VirtualRoot::Project, path).intern())
}

/// What every render shares, built once by the typesetter.
#[derive(Debug)]
pub(crate) struct Resources {
    /// The template files by id: the embedded defaults, with the template directory's files
    /// over them.
    pub(crate) templates: HashMap<FileId, Source>,
    /// The fonts: those of the font directory first, so one with the same family as an
    /// embedded font wins, then the embedded ones.
    pub(crate) fonts: Vec<Font>,
    pub(crate) book: LazyHash<FontBook>,
    pub(crate) library: LazyHash<Library>,
    pub(crate) letter_json: FileId,
}

impl Resources {
    pub(crate) fn new(templates: HashMap<FileId, Source>, fonts: Vec<Font>) -> Option<Self> {
        let book = FontBook::from_fonts(&fonts);
        Some(Resources {
            templates,
            fonts,
            book: LazyHash::new(book),
            library: LazyHash::new(Library::default()),
            letter_json: file_id(LETTER_JSON)?,
        })
    }
}

/// One render's world: the shared resources, which template is the main file, the letter's
/// data and its date.
#[derive(Debug)]
pub(crate) struct LetterWorld<'a> {
    pub(crate) resources: &'a Resources,
    pub(crate) main: FileId,
    pub(crate) letter_json: Bytes,
    pub(crate) today: Datetime,
}

impl World for LetterWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.resources.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.resources.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        match self.resources.templates.get(&id) {
            Some(source) => Ok(source.clone()),
            None if id == self.resources.letter_json => Err(FileError::NotSource),
            None => Err(not_found(id)),
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.resources.letter_json {
            return Ok(self.letter_json.clone());
        }
        match self.resources.templates.get(&id) {
            Some(source) => Ok(Bytes::from_string(source.text().to_owned())),
            None => Err(not_found(id)),
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.resources.fonts.get(index).cloned()
    }

    /// The letter's date of issue, whatever the offset: a template that prints "today" prints
    /// the date the letter bears, on every render.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        Some(self.today)
    }
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.vpath().get_with_slash().into())
}
