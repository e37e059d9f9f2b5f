//! Letters as documents (contract §9): what an issued opinion or recommendation letter prints —
//! built from its `SupervisionLetterIssued` (or, with sign-off, `LetterApproved` and its draft)
//! event, the case and the office's letterhead —,
//! typeset to PDF by `caseledger-documents`, kept by its SHA-256 among the store's files,
//! and read back byte for byte. The write path (`commands`) prints a letter when it is issued;
//! the read path (`reads`) answers it with the case's visibility.
//!
//! The PDF is kept before its event is appended, so a recorded `document_sha256` always names
//! a kept document; a document whose letter was then not recorded (a stale version, a store
//! refusal) stays, unnamed and harmless, as a content-addressed file does. Reminders have no
//! document. Typesetting takes milliseconds of CPU, so it runs on the blocking pool.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use caseledger_documents::{Deadline, LetterDocument, Typesetter};
use caseledger_domain::{Case, CaseEvent, DeadlineRule, LetterKind, PeriodStart, PeriodUnit};
use caseledger_store::{Blobs, Keyspace};
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// What every letter of the office prints the same: who issues it, how it is signed, whom to
/// call. From `[letters]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letterhead {
    /// The issuing office (发文机关), e.g. `绵阳市总工会`.
    pub office: String,
    /// The signature block, one line each (empty: the office signs).
    pub signature: Vec<String>,
    /// The contact line among the notes (empty: none).
    pub contact: String,
    /// Who receives a copy (抄送) of each kind of letter (a kind left out: nobody).
    pub copies_to: BTreeMap<LetterKind, Vec<String>>,
}

impl Default for Letterhead {
    fn default() -> Self {
        Letterhead {
            office: "绵阳市总工会".to_owned(),
            signature: vec![
                "绵阳市总工会劳动法律监督委员会".to_owned(),
                "（盖章）".to_owned(),
            ],
            contact: String::new(),
            copies_to: BTreeMap::new(),
        }
    }
}

/// The typesetter and the letterhead letters are printed with.
#[derive(Clone)]
pub struct LetterPrinting {
    typesetter: Arc<Typesetter>,
    letterhead: Letterhead,
}

impl std::fmt::Debug for LetterPrinting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LetterPrinting")
            .field("letterhead", &self.letterhead)
            .finish_non_exhaustive()
    }
}

impl LetterPrinting {
    /// Letters typeset by `typesetter` under `letterhead`.
    pub fn new(typesetter: Typesetter, letterhead: Letterhead) -> LetterPrinting {
        LetterPrinting {
            typesetter: Arc::new(typesetter),
            letterhead,
        }
    }

    /// The templates and fonts built in, and the default letterhead.
    pub fn embedded() -> Result<LetterPrinting, caseledger_documents::DocumentError> {
        Ok(LetterPrinting::new(
            Typesetter::new(None, None)?,
            Letterhead::default(),
        ))
    }
}

/// A kept letter document, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterPdf {
    /// The PDF's bytes, exactly as rendered when the letter was issued.
    pub bytes: Vec<u8>,
    /// Their SHA-256, lowercase hex: the letter's `document_sha256`.
    pub sha256: String,
    /// The letter's number.
    pub number: String,
}

/// A document as the `documents` keyspace kept it, under its SHA-256, before documents were
/// kept among the store's files (read only).
#[derive(Debug, Serialize, Deserialize)]
struct KeptDocument {
    /// The media type (`application/pdf`).
    media_type: String,
    /// The bytes, base64.
    base64: String,
}

/// The SHA-256 of `bytes`, lowercase hex.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The document kind of a letter kind; reminders have none.
fn document_kind(kind: LetterKind) -> Option<caseledger_documents::LetterKind> {
    match kind {
        LetterKind::Reminder => None,
        LetterKind::Opinion => Some(caseledger_documents::LetterKind::Opinion),
        LetterKind::Recommendation => Some(caseledger_documents::LetterKind::Recommendation),
    }
}

/// Text as the paragraphs of a document: one per non-empty line.
fn paragraphs(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(ToOwned::to_owned)
        .collect()
}

/// `line` without a leading item number an officer typed — `一、`, `（二）`, `3.`, `4、` — since
/// the templates number the corrections themselves.
fn without_item_number(line: &str) -> &str {
    const CHINESE_NUMERALS: &str = "一二三四五六七八九十";
    let is_numeral = |c: char| c.is_ascii_digit() || CHINESE_NUMERALS.contains(c);
    let bracketed = line.strip_prefix(['（', '(']).and_then(|rest| {
        let end = rest.find(|c: char| !is_numeral(c))?;
        (end > 0).then(|| rest[end..].strip_prefix(['）', ')']))?
    });
    let rest = bracketed.or_else(|| {
        let end = line.find(|c: char| !is_numeral(c))?;
        (end > 0).then(|| line[end..].strip_prefix(['、', '.', '．']))?
    });
    match rest.map(str::trim_start) {
        Some(rest) if !rest.is_empty() => rest,
        _ => line,
    }
}

/// How a letter's deadline is printed: its counted last day, the local day of an explicit
/// deadline (the day before, for one at midnight — the end of that day), or the rule it will be
/// counted by once served.
fn printed_deadline(
    deadline: Option<DateTime<Utc>>,
    last_day: Option<&caseledger_domain::LastDay>,
    rule: Option<DeadlineRule>,
    zone: chrono_tz::Tz,
) -> Option<Deadline> {
    if let Some(last_day) = last_day {
        return Some(Deadline::LastDay {
            date: last_day.date,
            provisional: last_day.provisional,
        });
    }
    if let Some(deadline) = deadline {
        let local = deadline.with_timezone(&zone);
        let date = if local.time() == NaiveTime::MIN {
            local.date_naive().pred_opt().unwrap_or(local.date_naive())
        } else {
            local.date_naive()
        };
        return Some(Deadline::LastDay {
            date,
            provisional: false,
        });
    }
    rule.map(|rule| Deadline::Within {
        amount: rule.amount,
        unit: match rule.unit {
            PeriodUnit::CalendarDays => caseledger_documents::PeriodUnit::CalendarDays,
            PeriodUnit::WorkingDays => caseledger_documents::PeriodUnit::WorkingDays,
        },
        from: match rule.from {
            PeriodStart::Issued => caseledger_documents::PeriodStart::Issued,
            PeriodStart::Served => caseledger_documents::PeriodStart::Served,
        },
    })
}

/// The document of a letter issued or approved by `issued` (on `case` as it stood before), or
/// none for a reminder (or any other event): the facts are the case's findings (its
/// description while none is recorded), the corrections the letter's text, one paragraph per
/// line, without the item numbers an officer may have typed.
pub fn letter_document(
    case: &Case,
    issued: &CaseEvent,
    letterhead: &Letterhead,
    issued_at: DateTime<Utc>,
    zone: chrono_tz::Tz,
) -> Option<LetterDocument> {
    let (number, kind, recipient, content, deadline, deadline_rule, last_day) = match issued {
        CaseEvent::SupervisionLetterIssued {
            number,
            kind,
            recipient,
            content,
            deadline,
            deadline_rule,
            last_day,
            ..
        } => (
            number,
            kind,
            recipient,
            content,
            deadline,
            deadline_rule,
            last_day,
        ),
        // An approved draft prints what was drafted, numbered and dated on approval.
        CaseEvent::LetterApproved {
            letter_id,
            number,
            kind,
            deadline,
            deadline_rule,
            last_day,
            ..
        } => {
            let draft = case.draft(*letter_id)?;
            (
                number,
                kind,
                &draft.recipient,
                &draft.content,
                deadline,
                deadline_rule,
                last_day,
            )
        }
        _ => return None,
    };
    let copies_to = letterhead.copies_to.get(kind).cloned().unwrap_or_default();
    let kind = document_kind(*kind)?;
    let findings: Vec<String> = if case.findings.is_empty() {
        paragraphs(&case.description)
    } else {
        case.findings
            .iter()
            .flat_map(|finding| paragraphs(&finding.summary))
            .collect()
    };
    Some(LetterDocument {
        kind,
        number: number.clone(),
        office: letterhead.office.clone(),
        addressee: recipient.clone(),
        issued_on: issued_at.with_timezone(&zone).date_naive(),
        case_reference: case.id.0.to_string(),
        findings,
        legal_basis: Vec::new(),
        corrections: paragraphs(content)
            .iter()
            .map(|line| without_item_number(line).to_owned())
            .collect(),
        deadline: printed_deadline(*deadline, last_day.as_ref(), *deadline_rule, zone),
        signature: letterhead.signature.clone(),
        contact: letterhead.contact.clone(),
        copies_to,
    })
}

impl LetterPrinting {
    /// The PDF of `document`, typeset on the blocking pool, kept among the store's files
    /// (`files`, the same store as attachments') under its SHA-256, which it returns. A
    /// character no font has is refused as a field error of the letter's text.
    pub(crate) async fn print_and_keep(
        &self,
        document: LetterDocument,
        files: &Blobs,
    ) -> Result<String, AppError> {
        let typesetter = Arc::clone(&self.typesetter);
        let rendered = tokio::task::spawn_blocking(move || typesetter.render(&document))
            .await
            .map_err(|error| AppError::Internal(error.into()))?;
        let bytes = rendered.map_err(|error| match error {
            caseledger_documents::DocumentError::MissingGlyphs { .. } => AppError::Invalid {
                field: "content".to_owned(),
                message: error.to_string(),
            },
            other => AppError::Internal(anyhow::anyhow!("typesetting the letter: {other}")),
        })?;
        let sha256 = sha256_hex(&bytes);
        files
            .put_chunk(document_file_id(&sha256)?, 0, bytes, true)
            .await?;
        Ok(sha256)
    }

    /// The letterhead letters are printed with.
    pub(crate) fn letterhead(&self) -> &Letterhead {
        &self.letterhead
    }
}

/// The name of the file holding the document of this SHA-256: the UUID of its first 16 bytes.
fn document_file_id(sha256: &str) -> Result<uuid::Uuid, AppError> {
    let bytes = hex::decode(sha256).map_err(|error| AppError::Internal(error.into()))?;
    uuid::Uuid::from_slice(bytes.get(..16).unwrap_or_default())
        .map_err(|error| AppError::Internal(error.into()))
}

/// The document kept under `sha256` — among the store's `files`, or, for letters issued
/// before documents were kept there, in the `documents` keyspace — checked against it;
/// `number` names the letter in the errors (a document missing or not matching is the store's
/// fault, never the reader's).
pub(crate) async fn kept_document(
    files: &Blobs,
    documents: &Keyspace,
    sha256: &str,
    number: &str,
) -> Result<Vec<u8>, AppError> {
    let bytes = match files.chunk(document_file_id(sha256)?, 0).await? {
        Some(bytes) => bytes,
        None => {
            let kept: KeptDocument = documents.get(sha256.as_bytes()).await?.ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!(
                    "the document {sha256} of letter {number} is not in the store"
                ))
            })?;
            base64::engine::general_purpose::STANDARD
                .decode(kept.base64.as_bytes())
                .map_err(|error| AppError::Internal(error.into()))?
        }
    };
    if sha256_hex(&bytes) != sha256 {
        return Err(AppError::Internal(anyhow::anyhow!(
            "the kept document of letter {number} does not match its recorded SHA-256"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn a_deadline_at_midnight_prints_as_the_day_it_ends() {
        let zone = chrono_tz::Asia::Shanghai;
        let end_of_27_april = "2026-04-27T16:00:00Z".parse().unwrap();
        assert_eq!(
            printed_deadline(Some(end_of_27_april), None, None, zone),
            Some(Deadline::LastDay {
                date: NaiveDate::from_ymd_opt(2026, 4, 27).unwrap(),
                provisional: false
            })
        );
        let rule = DeadlineRule {
            amount: 15,
            unit: PeriodUnit::WorkingDays,
            from: PeriodStart::Served,
        };
        assert_eq!(
            printed_deadline(None, None, Some(rule), zone),
            Some(Deadline::Within {
                amount: 15,
                unit: caseledger_documents::PeriodUnit::WorkingDays,
                from: caseledger_documents::PeriodStart::Served
            })
        );
        assert_eq!(printed_deadline(None, None, None, zone), None);
    }

    #[test]
    fn item_numbers_an_officer_typed_are_left_to_the_template() {
        for (typed, printed) in [
            ("一、配发口罩。", "配发口罩。"),
            ("（二）组织体检。", "组织体检。"),
            ("(3) 设置警示标识。", "设置警示标识。"),
            ("10.补发工资。", "补发工资。"),
            ("4、 签订合同。", "签订合同。"),
            ("2026年起执行。", "2026年起执行。"),
            ("一、", "一、"),
            ("十分重要。", "十分重要。"),
        ] {
            assert_eq!(without_item_number(typed), printed, "{typed}");
        }
    }

    #[test]
    fn a_letter_prints_the_copies_of_its_kind() {
        use caseledger_domain::{CaseId, LetterId};
        let letterhead = Letterhead {
            copies_to: BTreeMap::from([(
                LetterKind::Recommendation,
                vec!["四川省总工会".to_owned()],
            )]),
            ..Letterhead::default()
        };
        let case = Case::new(CaseId(uuid::Uuid::nil()));
        let issued = |kind| CaseEvent::SupervisionLetterIssued {
            letter_id: LetterId(uuid::Uuid::nil()),
            number: "绵工监建〔2026〕1号".to_owned(),
            kind,
            recipient: "绵阳市人力资源和社会保障局".to_owned(),
            content: "一、督促整改。".to_owned(),
            deadline: None,
            department: None,
            deadline_rule: None,
            last_day: None,
            document_sha256: None,
        };
        let now = chrono::Utc::now();
        let zone = chrono_tz::Asia::Shanghai;
        let recommendation = letter_document(
            &case,
            &issued(LetterKind::Recommendation),
            &letterhead,
            now,
            zone,
        )
        .unwrap();
        assert_eq!(recommendation.copies_to, ["四川省总工会"]);
        assert_eq!(recommendation.corrections, ["督促整改。"]);
        let opinion =
            letter_document(&case, &issued(LetterKind::Opinion), &letterhead, now, zone).unwrap();
        assert!(opinion.copies_to.is_empty());
        assert!(
            letter_document(&case, &issued(LetterKind::Reminder), &letterhead, now, zone).is_none()
        );
    }

    #[test]
    fn paragraphs_are_the_non_empty_lines() {
        assert_eq!(
            paragraphs("  一、配发口罩。\n\n二、组织体检。 \n"),
            ["一、配发口罩。", "二、组织体检。"]
        );
    }
}
