//! Golden JSON of every stored event type: the log's format is forever, so a change to an event's
//! JSON must show up here as a failing test, not in production.
//!
//! Each `tests/golden/<EventType>.json` holds the pretty JSON of a fixed example. A missing file
//! fails the test; `UPDATE_GOLDEN=1 cargo test -p caseledger-domain --test golden` writes the
//! files (review the diff before committing). Owns the examples only.

mod common;

use std::path::PathBuf;

use caseledger_domain::{
    CaseEvent, Category, DeadlineRule, Employer, FileName, LastDay, LetterKind, Outcome,
    PeriodStart, PeriodUnit, SealedPersonalData, ServiceMethod, Source, Tier, ADDED_FIELDS,
    EVENT_TYPES,
};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use common::{attachment_id, dept, letter_id};

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0)
        .single()
        .expect("a valid fixed time")
}

/// One representative example of every event type, in the order of `EVENT_TYPES`.
fn examples() -> Vec<CaseEvent> {
    vec![
        CaseEvent::CaseOpened {
            title: "Missing dust masks at the Fucheng cement plant".to_owned(),
            category: Category::PpeShortfall,
            description: "Forty workers grind clinker without respirators.".to_owned(),
            source: Source::Inspection,
            employer: Employer {
                name: "Fucheng Cement Co., Ltd.".to_owned(),
                credit_code: Some("91350211M0000XUF46".to_owned()),
                credit_code_unverified: true,
            },
            region: Some("Fucheng District".to_owned()),
            industry: None,
            workers_affected: Some(40),
            complainant: Some(SealedPersonalData {
                sealed: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX".to_owned(),
            }),
        },
        CaseEvent::OfficerAssigned {
            officer: "Wang Fang".to_owned(),
            previous: None,
        },
        CaseEvent::FindingRecorded {
            summary: "No respirators in the grinding hall.".to_owned(),
            hazard: Some("silica dust".to_owned()),
        },
        CaseEvent::SupervisionLetterIssued {
            letter_id: letter_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8193),
            number: "MY-2026-0042".to_owned(),
            kind: LetterKind::Opinion,
            recipient: "Fucheng Cement Co., Ltd.".to_owned(),
            content: "Provide respirators within 15 working days.".to_owned(),
            deadline: Some(at(29, 8)),
            department: None,
            deadline_rule: None,
            last_day: None,
            document_sha256: None,
        },
        CaseEvent::LetterAnswered {
            letter_id: letter_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8193),
            rectified: false,
            content: "We disagree with the findings.".to_owned(),
        },
        CaseEvent::LetterDeadlineMissed {
            letter_id: letter_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8193),
            deadline: at(29, 8),
        },
        CaseEvent::EscalatedToJointMechanism {
            tier: Tier::FiveWay,
            departments: vec![
                dept("hrss"),
                dept("justice"),
                dept("court"),
                dept("procuratorate"),
            ],
            reason: "The employer ignores the recommendation letter.".to_owned(),
            previous_tier: Some(Tier::FourWay),
        },
        CaseEvent::ReferredToDepartment {
            department: dept("labour_inspection"),
            reason: "Labour inspection has the power to order payment.".to_owned(),
        },
        CaseEvent::DepartmentFeedbackRecorded {
            department: dept("labour_inspection"),
            content: "Case opened under inspection order 2026-117.".to_owned(),
            outcome: None,
        },
        CaseEvent::NoteAdded {
            text: "Called the site manager.\nNo answer.".to_owned(),
        },
        CaseEvent::CaseClosed {
            outcome: Outcome::Rectified,
            summary: "Respirators issued; verified on site.".to_owned(),
        },
        CaseEvent::CaseReopened {
            reason: "Workers report the respirators were taken back.".to_owned(),
        },
        CaseEvent::PersonalDataErased {},
        CaseEvent::LetterServed {
            letter_id: letter_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8193),
            method: ServiceMethod::Post,
            served_at: at(27, 2),
            received_by: Some("Li Wei, site manager".to_owned()),
            refused: false,
            tracking_number: Some("EMS 1178 9032 4411".to_owned()),
            deadline: Some(
                Utc.with_ymd_and_hms(2026, 12, 18, 16, 0, 0)
                    .single()
                    .expect("a valid time"),
            ),
            last_day: Some(LastDay {
                date: NaiveDate::from_ymd_opt(2026, 12, 18).expect("a valid date"),
                provisional: false,
                calendar_version: "holiday-cn@d4e53bf".to_owned(),
            }),
            receipt_attachment_id: None,
        },
        CaseEvent::FollowUpRecorded {
            letter_id: letter_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8193),
            visited_at: at(30, 3),
            findings: "Respirators issued to all forty grinders; fit-tested.".to_owned(),
            rectified: true,
        },
        CaseEvent::LetterDrafted {
            letter_id: letter_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8195),
            kind: LetterKind::Recommendation,
            recipient: "绵阳市人力资源和社会保障局".to_owned(),
            content: "请依法督促该公司为研磨车间员工配发防尘口罩。".to_owned(),
            deadline: None,
            department: Some(dept("hrss")),
        },
        CaseEvent::LetterApproved {
            letter_id: letter_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8195),
            number: "绵工监建〔2026〕1号".to_owned(),
            kind: LetterKind::Recommendation,
            department: Some(dept("hrss")),
            deadline: None,
            deadline_rule: Some(DeadlineRule {
                amount: 15,
                unit: PeriodUnit::WorkingDays,
                from: PeriodStart::Served,
            }),
            last_day: None,
            document_sha256: Some(
                "0b8e2a4c6d1f3e5a7c9b2d4f6e8a0c2b4d6f8e0a2c4b6d8f0e2a4c6b8d0f2e4a".to_owned(),
            ),
        },
        CaseEvent::LetterReturned {
            letter_id: letter_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8196),
            reason: "整改期限请写明具体日期。".to_owned(),
        },
        CaseEvent::AttachmentAdded {
            attachment_id: attachment_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8197),
            filename: FileName::Plain("研磨车间现场照片.jpg".to_owned()),
            content_type: "image/jpeg".to_owned(),
            size: 2_457_601,
            sha256: "5d41402abc4b2a76b9719d911017c592a8c0e2f4b6d8f0a2c4e6f8b0d2f4a6c8".to_owned(),
            personal: false,
            shared: true,
        },
        CaseEvent::AttachmentWithdrawn {
            attachment_id: attachment_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8197),
            reason: "照片拍的是另一车间，与本案无关。".to_owned(),
            personal: false,
            shared: true,
        },
    ]
}

/// Events of a type whose fields were added later ([`ADDED_FIELDS`]), with those fields, and
/// other forms of a type (a personal file's sealed name): pinned in
/// `tests/golden/<EventType>.<variant>.json` beside the first form.
fn later_forms() -> Vec<(&'static str, CaseEvent)> {
    vec![
        (
            "receipt",
            CaseEvent::LetterServed {
                letter_id: letter_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8193),
                method: ServiceMethod::Post,
                served_at: at(27, 2),
                received_by: Some("Li Wei, site manager".to_owned()),
                refused: false,
                tracking_number: Some("EMS 1178 9032 4411".to_owned()),
                deadline: Some(
                    Utc.with_ymd_and_hms(2026, 12, 18, 16, 0, 0)
                        .single()
                        .expect("a valid time"),
                ),
                last_day: Some(LastDay {
                    date: NaiveDate::from_ymd_opt(2026, 12, 18).expect("a valid date"),
                    provisional: false,
                    calendar_version: "holiday-cn@d4e53bf".to_owned(),
                }),
                receipt_attachment_id: Some(attachment_id(
                    0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8199,
                )),
            },
        ),
        (
            "personal",
            CaseEvent::AttachmentAdded {
                attachment_id: attachment_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8198),
                filename: FileName::Sealed(SealedPersonalData {
                    sealed: "q83vEjRWeJq83vEjRWeJq83vEjRWeJq8bm9uY2UgYW5kIGNpcGhlcnRleHQ="
                        .to_owned(),
                }),
                content_type: "application/pdf".to_owned(),
                size: 183_204,
                sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                    .to_owned(),
                personal: true,
                shared: false,
            },
        ),
        (
            "document",
            CaseEvent::SupervisionLetterIssued {
                letter_id: letter_id(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8194),
                number: "绵工监意〔2026〕3号".to_owned(),
                kind: LetterKind::Opinion,
                recipient: "涪城水泥有限公司".to_owned(),
                content: "为研磨车间全部员工配发防尘口罩。".to_owned(),
                deadline: None,
                department: None,
                deadline_rule: Some(DeadlineRule {
                    amount: 15,
                    unit: PeriodUnit::WorkingDays,
                    from: PeriodStart::Served,
                }),
                last_day: None,
                document_sha256: Some(
                    "9f2c4e0a1b3d5f7182a4c6e8f0b2d4f6a8c0e2f4b6d8f0a2c4e6f8b0d2f4a6c8".to_owned(),
                ),
            },
        ),
    ]
}

/// Fails to compile when an event type is added without an example here.
fn example_exists(event: &CaseEvent) {
    match event {
        CaseEvent::CaseOpened { .. }
        | CaseEvent::OfficerAssigned { .. }
        | CaseEvent::FindingRecorded { .. }
        | CaseEvent::SupervisionLetterIssued { .. }
        | CaseEvent::LetterAnswered { .. }
        | CaseEvent::LetterDeadlineMissed { .. }
        | CaseEvent::EscalatedToJointMechanism { .. }
        | CaseEvent::ReferredToDepartment { .. }
        | CaseEvent::DepartmentFeedbackRecorded { .. }
        | CaseEvent::NoteAdded { .. }
        | CaseEvent::CaseClosed { .. }
        | CaseEvent::CaseReopened { .. }
        | CaseEvent::PersonalDataErased {}
        | CaseEvent::LetterServed { .. }
        | CaseEvent::FollowUpRecorded { .. }
        | CaseEvent::LetterDrafted { .. }
        | CaseEvent::LetterApproved { .. }
        | CaseEvent::LetterReturned { .. }
        | CaseEvent::AttachmentAdded { .. }
        | CaseEvent::AttachmentWithdrawn { .. } => {}
    }
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

#[test]
fn there_is_one_example_per_event_type() {
    let types: Vec<&str> = examples()
        .iter()
        .inspect(|event| example_exists(event))
        .map(CaseEvent::event_type)
        .collect();
    assert_eq!(types, EVENT_TYPES);
}

#[test]
fn events_match_their_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|value| value == "1");
    let mut failures = Vec::new();
    let first_forms = examples()
        .into_iter()
        .map(|event| (event.event_type().to_owned(), event));
    let later = later_forms()
        .into_iter()
        .map(|(variant, event)| (format!("{}.{variant}", event.event_type()), event));
    for (name, event) in first_forms.chain(later) {
        let path = golden_dir().join(format!("{name}.json"));
        let json = serde_json::to_string_pretty(&event).expect("an event serialises") + "\n";
        if update {
            std::fs::create_dir_all(golden_dir()).expect("create tests/golden");
            // Golden files are added, never changed: only a missing one is written.
            if !path.exists() {
                std::fs::write(&path, &json).expect("write a golden file");
            }
            continue;
        }
        let Ok(golden) = std::fs::read_to_string(&path) else {
            failures.push(format!(
                "{} is missing; run `UPDATE_GOLDEN=1 cargo test -p caseledger-domain --test \
                 golden` and review the new file",
                path.display()
            ));
            continue;
        };
        if golden != json {
            failures.push(format!(
                "{name} no longer serialises as {}. The stored format is forever: add a new \
                 event type instead of changing this one.\n--- golden\n{golden}--- now\n{json}",
                path.display()
            ));
        }
        match serde_json::from_str::<CaseEvent>(&golden) {
            Ok(parsed) if parsed == event => {}
            Ok(parsed) => failures.push(format!(
                "{} parses to a different event: {parsed:?}",
                path.display()
            )),
            Err(error) => failures.push(format!("{} does not parse: {error}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn fields_added_later_are_left_out_when_absent_and_written_when_present() {
    for (event_type, added) in ADDED_FIELDS {
        let first = examples()
            .into_iter()
            .find(|event| event.event_type() == *event_type)
            .expect("an example of the type");
        let first = serde_json::to_value(&first).expect("serialises");
        let later = later_forms()
            .into_iter()
            .find(|(_, event)| event.event_type() == *event_type)
            .expect("a later form of the type");
        let later = serde_json::to_value(&later.1).expect("serialises");
        let mut written = 0;
        for field in *added {
            assert!(
                first["data"].get(field).is_none(),
                "{event_type}.{field}: absent, so older events keep their bytes"
            );
            written += usize::from(!later["data"][field].is_null());
        }
        assert!(
            written > 0,
            "{event_type}: the later form shows an added field"
        );
    }
}

#[test]
fn there_are_no_stale_golden_files() {
    let Ok(entries) = std::fs::read_dir(golden_dir()) else {
        // Missing files are reported, with how to write them, by the test above.
        return;
    };
    for entry in entries {
        let name = entry.expect("a readable directory entry").file_name();
        let name = name.to_string_lossy();
        let stem = name.strip_suffix(".json").unwrap_or(&name);
        // `<EventType>.json` or `<EventType>.<variant>.json` (a later form, see `later_forms`).
        let event_type = stem.split('.').next().unwrap_or(stem);
        assert!(
            EVENT_TYPES.contains(&event_type),
            "tests/golden/{name} matches no event type"
        );
    }
}

#[test]
fn optional_fields_are_null_not_missing_and_there_are_no_floats() {
    fn walk(value: &serde_json::Value, path: &str) {
        match value {
            serde_json::Value::Number(number) => {
                assert!(!number.is_f64(), "{path} is a float; the log has none");
            }
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{index}]"));
                }
            }
            serde_json::Value::Object(fields) => {
                for (key, item) in fields {
                    walk(item, &format!("{path}.{key}"));
                }
            }
            _ => {}
        }
    }
    for event in examples() {
        let value = serde_json::to_value(&event).expect("an event serialises");
        walk(&value, event.event_type());
        assert_eq!(value["type"], event.event_type());
    }
    let opened = serde_json::to_value(&examples()[0]).expect("serialises");
    assert_eq!(opened["data"]["industry"], serde_json::Value::Null);
    assert!(opened["data"]
        .as_object()
        .expect("data is an object")
        .contains_key("industry"));
    let erased = serde_json::to_string(&CaseEvent::PersonalDataErased {}).expect("serialises");
    assert_eq!(erased, r#"{"type":"PersonalDataErased","data":{}}"#);
}
