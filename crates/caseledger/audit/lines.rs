//! Reading an export a line at a time, in constant memory whatever its size: one buffer for
//! every line, and a cap ([`MAX_LINE_BYTES`]) on a line, so a file that is not an export at all
//! costs no more than that. Shared by `audit verify`, `audit replay` and the check of downloaded
//! attachments.

use std::io::{self, BufRead, Read as _};

/// The longest line accepted. Envelopes are far smaller (request bodies are limited to about
/// 1 MiB); the cap keeps memory bounded on a file that is not an export at all.
pub const MAX_LINE_BYTES: u64 = 64 * 1024 * 1024;

/// The lines of an export, one buffer for all of them: memory stays at the longest line,
/// whatever the file's size.
#[derive(Debug)]
pub struct ExportLines<R> {
    reader: R,
    line: Vec<u8>,
}

/// One line of an export.
#[derive(Debug, PartialEq, Eq)]
pub enum ExportLine<'a> {
    /// The line, without its newline.
    Line(&'a [u8]),
    /// A line longer than [`MAX_LINE_BYTES`]: not an envelope.
    TooLong,
}

impl<R: BufRead> ExportLines<R> {
    /// Lines of `reader`.
    pub fn new(reader: R) -> Self {
        ExportLines {
            reader,
            line: Vec::new(),
        }
    }

    /// The next line, `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<ExportLine<'_>>> {
        self.line.clear();
        let read = (&mut self.reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut self.line)?;
        if read == 0 {
            return Ok(None);
        }
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
        } else if read as u64 > MAX_LINE_BYTES {
            return Ok(Some(ExportLine::TooLong));
        }
        Ok(Some(ExportLine::Line(&self.line)))
    }
}
