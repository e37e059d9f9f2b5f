//! caseledger-documents: supervision letters (工会劳动法律监督意见书 and 建议书) typeset as PDF
//! with embedded typst, laid out after GB/T 9704-2012.
//!
//! Central types: [`LetterDocument`] (the letter as plain data), [`Typesetter`] (templates and
//! fonts loaded once; [`Typesetter::render`] makes the PDF) and [`DocumentError`].
//!
//! - The letter reaches typst only as data — the file `/letter.json`, read by the templates with
//!   `json()` — never spliced into markup, so no text of a letter can act as typst code.
//! - The same letter always makes the same bytes: no clock, no file system and no random id
//!   while rendering; the letter's date is the PDF's date.
//! - Templates (`templates/`) and fonts (`fonts/`, Noto Serif CJK SC subsets under the SIL OFL)
//!   are compiled in; directories given to [`Typesetter::new`] add to or replace them.
//!
//! It knows nothing of cases, numbering, deadlines' computation, storage or HTTP: the app
//! decides what a letter says and keeps the bytes.

mod error;
mod letter;
mod typesetter;
mod world;

pub use error::DocumentError;
pub use letter::{chinese_date, Deadline, LetterDocument, LetterKind, PeriodStart, PeriodUnit};
pub use typesetter::Typesetter;
