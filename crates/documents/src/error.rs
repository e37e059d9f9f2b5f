//! [`DocumentError`]: every way loading the templates and fonts or rendering a letter can
//! fail, each saying what to fix and where. Typesetting never panics on a letter's text; what
//! typst or the PDF writer refuse ends up here.

use std::io;
use std::path::PathBuf;

/// Why a [`Typesetter`](crate::Typesetter) could not be built or a letter not rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The template directory could not be read, or holds no template (`*.typ`).
    #[error("template directory {}: {reason}", path.display())]
    TemplateDir {
        /// The directory as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// The I/O error behind it, if any.
        #[source]
        source: Option<io::Error>,
    },
    /// The font directory could not be read, or a font file in it could not be read or holds
    /// no font.
    #[error("font directory {}: {reason}", path.display())]
    FontDir {
        /// The directory or the font file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// The I/O error behind it, if any.
        #[source]
        source: Option<io::Error>,
    },
    /// A template does not parse, or typst stopped while typesetting with it. `location` is
    /// `file:line:column` when typst points into a file (1-based), else the template's name.
    #[error("template {location}: {message}")]
    Template {
        /// Where: `opinion.typ:12:5`, or a template name.
        location: String,
        /// typst's message, with its hints.
        message: String,
    },
    /// Some characters of the letter are in none of the fonts and would print as boxes (tofu);
    /// a font that has them can be added with the font directory.
    #[error(
        "no font has a glyph for {characters:?}; add a font that has them to the font directory"
    )]
    MissingGlyphs {
        /// The characters, each once, in the order they first appear.
        characters: String,
    },
    /// The laid-out letter could not be written as PDF.
    #[error("PDF export: {message}")]
    Pdf {
        /// typst-pdf's message.
        message: String,
    },
    /// typst failed in a way no input should cause (it panicked); the message is its panic's.
    #[error("typesetting failed unexpectedly: {message}")]
    Internal {
        /// What went wrong.
        message: String,
    },
}
