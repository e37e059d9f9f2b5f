//! Recognising envelope lines that are already RFC 8785 canonical JSON, without parsing them.
//!
//! This module owns one question: are these bytes exactly what `serde_jcs` would write for the
//! JSON value they encode? If they are, the canonical form of the envelope without its `hash`
//! member is the same bytes with that member (and one comma) cut out, so the chain verifier can
//! hash slices of the line itself instead of parsing it into a tree and writing it out again.
//! [`scan_envelope`] answers in one pass, without allocating, and locates `position`,
//! `prev_hash` and `hash` on the way.
//!
//! The scanner knows a deliberately small subset of JSON: objects, arrays, strings, integers no
//! larger in magnitude than 2^53, `true`, `false` and `null`, with no whitespace, members in
//! RFC 8785 order (by UTF-16 code units), and strings escaped exactly as `serde_jcs` 0.2 escapes
//! them. Whatever falls outside that subset — a fraction or an exponent, a larger integer, `-0`,
//! an escape `serde_jcs` would not write, a space, an unsorted or repeated key, invalid UTF-8,
//! deep nesting — makes it answer `None`, and the verifier takes the slow path, which decides.
//! The scanner never judges an envelope; it only vouches that bytes are canonical.
//!
//! It does not hash, and knows nothing of envelopes beyond where their three chain members are.

use std::cmp::Ordering;
use std::ops::Range;

/// What [`scan_envelope`] found in a canonical envelope line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvelopeScan<'a> {
    /// The value of the top-level `position` member.
    pub position: u64,
    /// The body (between the quotes) of the top-level `prev_hash` string.
    pub prev_hash: &'a str,
    /// The body (between the quotes) of the top-level `hash` string.
    pub hash: &'a str,
    /// The bytes to cut out to get the canonical envelope without `hash`: the `"hash":"…"`
    /// member and the one comma that joined it to a neighbour, if it had one.
    pub hash_member: Range<usize>,
}

/// How deeply arrays and objects may nest before the scanner gives up. `serde_json` refuses
/// more than 128 levels, so staying well below keeps every line the scanner accepts one that
/// the slow path would have parsed.
const MAX_DEPTH: usize = 100;

/// The largest integer magnitude the scanner accepts. `serde_jcs` writes every number through
/// an `f64` in ECMAScript form, so an integer comes back as the same digits only while an `f64`
/// holds it exactly; up to 2^53 every integer is exact (and 2^53 has 16 digits).
const MAX_EXACT_INTEGER: u64 = 1 << 53;
const MAX_INTEGER_DIGITS: usize = 16;

/// Scans `line` and returns where its chain members are, if `line` is an object in exactly the
/// canonical form `serde_jcs` would write for it, with a whole-number `position` and string
/// `prev_hash` and `hash` at the top level. Any other line gives `None`, which says nothing
/// about whether it is valid, only that the scanner cannot vouch for it.
pub(crate) fn scan_envelope(line: &[u8]) -> Option<EnvelopeScan<'_>> {
    // Outside strings the scanner accepts ASCII alone, so a line that is valid UTF-8 as a whole
    // has valid UTF-8 in every string, and a line that is not is refused here, once.
    let text = std::str::from_utf8(line).ok()?;
    if line.first() != Some(&b'{') {
        return None;
    }
    let mut scanner = Scanner { bytes: line, at: 0 };
    let mut position = None;
    let mut prev_hash = None;
    let mut hash = None;
    scanner.object(1, |member| match member.key {
        b"position" => position = Some(member.value),
        b"prev_hash" => prev_hash = Some(member.value),
        b"hash" => hash = Some((member.start, member.value)),
        _ => {}
    })?;
    if scanner.at != line.len() {
        return None;
    }
    let position = non_negative_integer(&line[position?])?;
    let prev_hash = string_body(text, prev_hash?)?;
    let (hash_start, hash_value) = hash?;
    let hash_body = string_body(text, hash_value.clone())?;
    // The first member's key starts right after the `{`; any later member has a comma before
    // it, which goes with it. The first member takes the comma after it, if another follows.
    let hash_member = if hash_start > 1 {
        hash_start - 1..hash_value.end
    } else if line.get(hash_value.end) == Some(&b',') {
        hash_start..hash_value.end + 1
    } else {
        hash_start..hash_value.end
    };
    Some(EnvelopeScan {
        position,
        prev_hash,
        hash: hash_body,
        hash_member,
    })
}

/// Whether `bytes` are a JSON value of the scanner's subset in exactly the form `serde_jcs`
/// writes; for tests of the scanner on values that are not envelopes.
#[cfg(test)]
pub(crate) fn is_canonical(bytes: &[u8]) -> bool {
    if std::str::from_utf8(bytes).is_err() {
        return false;
    }
    let mut scanner = Scanner { bytes, at: 0 };
    scanner.value(0).is_some() && scanner.at == bytes.len()
}

/// The value of a JSON integer in the scanner's subset, if it is not negative.
fn non_negative_integer(value: &[u8]) -> Option<u64> {
    if value.first() == Some(&b'-') {
        return None;
    }
    let mut scanner = Scanner {
        bytes: value,
        at: 0,
    };
    scanner.integer()?;
    let digits = std::str::from_utf8(value).ok()?;
    digits.parse().ok()
}

/// The body of the string `value` (quotes included) of `text`.
fn string_body(text: &str, value: Range<usize>) -> Option<&str> {
    let body = text.get(value.start + 1..value.end.checked_sub(1)?)?;
    (text.as_bytes().get(value.start) == Some(&b'"')).then_some(body)
}

/// One member of an object, as the scanner found it.
struct Member<'a> {
    /// Where the member's key (its opening quote) starts.
    start: usize,
    /// The key's body as written, escapes and all.
    key: &'a [u8],
    /// Where the member's value is.
    value: Range<usize>,
}

/// A cursor over one line; every method advances past what it accepted, or returns `None` as
/// soon as the bytes leave the canonical subset (and the cursor is then of no further use).
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// Bytes that end a run of literal string content: the quote, the backslash, and the controls
/// below 0x20 (which JSON forbids raw in a string). Everything else — `/`, DEL, non-ASCII — is
/// written literally by `serde_jcs`.
static ENDS_STRING_RUN: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// How many bytes at the start of `bytes` are literal string content, if a byte that ends the
/// run follows (see [`ENDS_STRING_RUN`]).
///
/// String bodies are most of an envelope, so they are scanned eight bytes at a time: in each
/// little-endian word, a byte's top bit is flagged when the byte is a quote, a backslash or
/// below 0x20 (the usual "has a zero byte" arithmetic on the word XOR the quote, the word XOR
/// the backslash, and the word less 0x20 in every byte). A borrow can flag a byte above a
/// real match, never one below, so the lowest flag is always a real match; and a false flag
/// could only end the scan early, where `Scanner::string` would refuse the line, never let a
/// special byte through.
fn literal_run_length(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const TOPS: u64 = u64::from_le_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_le_bytes([b'\\'; 8]);
    const SPACES: u64 = u64::from_le_bytes([0x20; 8]);
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().ok()?);
        let quote = word ^ QUOTES;
        let backslash = word ^ BACKSLASHES;
        let flags = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(SPACES) & !word);
        let flags = flags & TOPS;
        if flags != 0 {
            return Some(offset + (flags.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let rest = words.remainder();
    Some(
        offset
            + rest
                .iter()
                .position(|&byte| ENDS_STRING_RUN[usize::from(byte)])?,
    )
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(depth + 1, |_| {}),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.integer(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// An object at the cursor (on its `{`), its members in strictly increasing RFC 8785 order.
    fn object(&mut self, depth: usize, mut on_member: impl FnMut(Member<'a>)) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        let mut previous_key: Option<&[u8]> = None;
        loop {
            let start = self.at;
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            if let Some(previous) = previous_key {
                // Strictly: a repeated key is not canonical (the parsed object keeps one).
                if utf16_order(previous, key)? != Ordering::Less {
                    return None;
                }
            }
            previous_key = Some(key);
            if self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            let value_start = self.at;
            self.value(depth)?;
            on_member(Member {
                start,
                key,
                value: value_start..self.at,
            });
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array at the cursor (on its `[`).
    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.value(depth)?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string at the cursor (on its opening quote); returns its body as written.
    fn string(&mut self) -> Option<&'a [u8]> {
        let bytes = self.bytes;
        let start = self.at + 1;
        let mut at = start;
        loop {
            at += literal_run_length(bytes.get(at..)?)?;
            match bytes[at] {
                b'"' => {
                    self.at = at + 1;
                    return Some(&bytes[start..at]);
                }
                b'\\' => at += escape_length(bytes.get(at + 1..)?)?,
                // A raw control character is not JSON at all.
                _ => return None,
            }
        }
    }

    /// An integer at the cursor, in the form `serde_jcs` writes it: no `+`, no leading zero,
    /// no `-0`, and small enough to pass through an `f64` unchanged.
    fn integer(&mut self) -> Option<()> {
        let negative = self.peek()? == b'-';
        if negative {
            self.at += 1;
        }
        let start = self.at;
        let digits = self.bytes.get(start..)?;
        let count = digits
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        let first = *digits.first()?;
        if count == 0 || count > MAX_INTEGER_DIGITS || (first == b'0' && (count > 1 || negative)) {
            return None;
        }
        let magnitude = digits[..count]
            .iter()
            .fold(0u64, |value, digit| value * 10 + u64::from(digit - b'0'));
        if magnitude > MAX_EXACT_INTEGER {
            return None;
        }
        self.at = start + count;
        // A fraction or an exponent makes a float, which `serde_jcs` may write differently.
        match self.peek() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(()),
        }
    }
}

/// The length of the escape whose backslash precedes `rest`, if it is one `serde_jcs` writes:
/// the two-character forms for `"`, `\` and the five named controls, `\u00xx` in lowercase hex
/// for the other controls below 0x20, and nothing else (not `\/`, not `\u0041`).
fn escape_length(rest: &[u8]) -> Option<usize> {
    match *rest.first()? {
        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => Some(2),
        b'u' => {
            let [b'0', b'0', high, low] = *rest.get(1..5)? else {
                return None;
            };
            let high = match high {
                b'0' => 0,
                b'1' => 1,
                _ => return None,
            };
            let low = match low {
                b'0'..=b'9' => low - b'0',
                b'a'..=b'f' => low - b'a' + 10,
                _ => return None,
            };
            // These five have a short form, which is what `serde_jcs` writes for them.
            match high * 16 + low {
                0x08 | 0x09 | 0x0a | 0x0c | 0x0d => None,
                _ => Some(6),
            }
        }
        _ => None,
    }
}

/// How two keys (bodies as written, canonical escapes only) compare in RFC 8785 order: by their
/// UTF-16 code units once unescaped.
fn utf16_order(left: &[u8], right: &[u8]) -> Option<Ordering> {
    // The common case, answered from the bytes: UTF-8 byte order is UTF-16 order except among
    // characters above U+FFFF against U+E000–U+FFFF, both non-ASCII, and escapes change what a
    // byte stands for. A first difference where either side is ASCII is decided by the bytes.
    if !left.contains(&b'\\') && !right.contains(&b'\\') {
        match left.iter().zip(right).position(|(l, r)| l != r) {
            None => return Some(left.len().cmp(&right.len())),
            Some(index) if left[index] < 0x80 || right[index] < 0x80 => {
                return Some(left[index].cmp(&right[index]))
            }
            Some(_) => {}
        }
    }
    Some(utf16_units(left)?.cmp(utf16_units(right)?))
}

/// The UTF-16 code units of a string body as written (canonical escapes only), unescaped.
fn utf16_units(body: &[u8]) -> Option<impl Iterator<Item = u16> + '_> {
    let mut chars = std::str::from_utf8(body).ok()?.chars();
    let unescaped = std::iter::from_fn(move || {
        let char = chars.next()?;
        if char != '\\' {
            return Some(char);
        }
        Some(match chars.next()? {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                // `\u00xx`, checked by `escape_length` when the key was scanned.
                let code = (&mut chars)
                    .take(4)
                    .try_fold(0u32, |code, digit| Some(code * 16 + digit.to_digit(16)?))?;
                char::from_u32(code)?
            }
            other => other,
        })
    });
    Some(unescaped.flat_map(|char| {
        let mut units = [0u16; 2];
        let length = char.encode_utf16(&mut units).len();
        units.into_iter().take(length)
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    /// What the slow path would say: whether `text` is exactly `serde_jcs`'s form of its value.
    fn serde_jcs_agrees(text: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|value| serde_jcs::to_vec(&value).ok())
            .is_some_and(|canonical| canonical == text.as_bytes())
    }

    /// Asserts the scanner's answer, and that accepting never contradicts `serde_jcs`.
    fn check(text: &str, accepted: bool) {
        assert_eq!(
            is_canonical(text.as_bytes()),
            accepted,
            "scanner on {text:?}"
        );
        if accepted {
            assert!(serde_jcs_agrees(text), "serde_jcs disagrees on {text:?}");
        }
    }

    #[test]
    fn plain_canonical_values_are_accepted() {
        for text in [
            "{}",
            "[]",
            "null",
            "true",
            "false",
            "0",
            "-1",
            "42",
            r#""""#,
            r#"{"a":[1,{"b":null}],"c":"d"}"#,
            r#"[[],{},[[]]]"#,
            "\"/ DEL:\u{7f} 粉尘 \u{1f600} \u{e000}\"",
        ] {
            check(text, true);
        }
    }

    #[test]
    fn whitespace_and_syntax_outside_the_form_are_refused() {
        for text in [
            "{ }",
            r#"{"a": 1}"#,
            "[1, 2]",
            " {}",
            "{}\n",
            "{},",
            r#"{"a":1,}"#,
            "[1,]",
            r#"{"a"}"#,
            "tru",
            "nul",
            "",
            "{",
            r#""open"#,
        ] {
            check(text, false);
        }
    }

    #[test]
    fn escapes_must_be_exactly_the_ones_serde_jcs_writes() {
        // What serde_jcs writes, each checked against it.
        for text in [r#""\"\\\b\f\n\r\t""#, r#""\u0000\u0001\u001f\u000b\u001e""#] {
            check(text, true);
        }
        for text in [
            r#""\/""#,              // `/` is written literally
            r#""\u0041""#,          // so is every printable character
            r#""\u007f""#,          // and DEL
            r#""\u00e9""#,          // and non-ASCII
            r#""\u001F""#,          // controls in lowercase hex
            r#""\u000a""#,          // the named controls in their short form
            r#""\u0008""#,          // the named controls in their short form
            r#""\ud83d\ude00""#,    // astral characters literally
            r#""\x""#,              // not an escape at all
            r#""\u00""#,            // cut short
            "\"raw\ncontrol\"",     // a raw control is not JSON
            "\"raw\u{1f}control\"", // nor this one
        ] {
            check(text, false);
            assert!(!serde_jcs_agrees(text), "{text:?}");
        }
    }

    #[test]
    fn integers_are_accepted_only_while_they_survive_an_f64() {
        for text in [
            "9007199254740992",
            "-9007199254740992",
            "9007199254740991",
            "1000000000000000",
            "999999999999999",
        ] {
            check(text, true);
        }
        // 2^53 + 1 comes back from serde_jcs as 2^53; larger exact values are left to it.
        assert!(!serde_jcs_agrees("9007199254740993"));
        for text in [
            "9007199254740993",
            "10000000000000000",
            "18446744073709551615",
            "-0",
            "01",
            "-01",
            "1.0",
            "1.5",
            "1e3",
            "1E3",
            "+1",
            "-",
        ] {
            check(text, false);
        }
    }

    #[test]
    fn keys_are_ordered_by_utf16_code_units_not_bytes() {
        // U+1F600 is a surrogate pair (0xD83D …) and sorts before U+E000 in UTF-16, though
        // after it in UTF-8.
        check("{\"\u{1f600}\":1,\"\u{e000}\":2}", true);
        check("{\"\u{e000}\":1,\"\u{1f600}\":2}", false);
        check("{\"\u{ffff}\":1,\"\u{e000}\":2}", false);
        check("{\"\u{e000}\":1,\"\u{ffff}\":2}", true);
        check(r#"{"a":1,"ab":2,"b":3}"#, true);
        check(r#"{"ab":1,"a":2}"#, false);
        // A repeated key is refused: parsing would keep only one of them.
        check(r#"{"a":1,"a":1}"#, false);
        // Escaped keys compare by what they stand for: "\n" (0x0A) before " " (0x20) before
        // "\\" (0x5C).
        check(r#"{"\n":1," ":2,"\\":3}"#, true);
        check(r#"{"\u0001":1,"\b":2}"#, true);
        check(r#"{"\b":1,"\u0001":2}"#, false);
        check(r#"{"a\"":1,"a\\":2}"#, true);
    }

    #[test]
    fn invalid_utf8_and_deep_nesting_are_refused() {
        assert!(!is_canonical(b"\"\xff\""));
        assert!(!is_canonical(b"\"\xed\xa0\x80\"")); // an encoded surrogate
        assert!(
            scan_envelope(b"{\"a\":\"\xc3\",\"hash\":\"\",\"position\":1,\"prev_hash\":\"\"}")
                .is_none()
        );
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        check(&deep, true);
        let deeper = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        check(&deeper, false);
    }

    #[test]
    fn the_hash_member_is_cut_with_exactly_one_comma() {
        fn cut(line: &str) -> (String, u64, &str, &str) {
            let scan = scan_envelope(line.as_bytes()).unwrap();
            let mut rest = line[..scan.hash_member.start].to_owned();
            rest.push_str(&line[scan.hash_member.end..]);
            (rest, scan.position, scan.prev_hash, scan.hash)
        }
        assert_eq!(
            cut(r#"{"a":1,"hash":"h","position":3,"prev_hash":"p"}"#),
            (
                r#"{"a":1,"position":3,"prev_hash":"p"}"#.into(),
                3,
                "p",
                "h"
            )
        );
        assert_eq!(
            cut(r#"{"hash":"h","position":3,"prev_hash":"p"}"#),
            (r#"{"position":3,"prev_hash":"p"}"#.into(), 3, "p", "h")
        );
        assert_eq!(
            cut(r#"{"a":1,"hash":"h","i":[],"position":0,"prev_hash":"p","z":{}}"#),
            (
                r#"{"a":1,"i":[],"position":0,"prev_hash":"p","z":{}}"#.into(),
                0,
                "p",
                "h"
            )
        );
        // `hash` alone is not an envelope the scanner reports; neither is a nested `hash`, a
        // negative or missing position, or a hash that is not a string.
        for line in [
            r#"{"hash":"h"}"#,
            r#"{"a":{"hash":"h"},"position":1,"prev_hash":"p"}"#,
            r#"{"hash":"h","position":-1,"prev_hash":"p"}"#,
            r#"{"hash":"h","prev_hash":"p"}"#,
            r#"{"hash":1,"position":1,"prev_hash":"p"}"#,
            r#"{"hash":"h","position":1,"prev_hash":null}"#,
            r#"[{"hash":"h","position":1,"prev_hash":"p"}]"#,
        ] {
            assert_eq!(scan_envelope(line.as_bytes()), None, "{line}");
        }
    }
}
