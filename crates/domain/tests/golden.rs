//! Golden JSON of every stored event type: the log's format is forever, so a change to an event's
//! JSON must show up here as a failing test, not in production.
//!
//! Each `tests/golden/<EventType>.json` holds the pretty JSON of a fixed example. A missing file
//! fails the test; `UPDATE_GOLDEN=1 cargo test -p caseledger-domain --test golden` writes the
//! files (review the diff before committing). Owns the examples only.

mod common;

use std::path::PathBuf;

use caseledger_domain::{
    CaseEvent, Category, Employer, LetterKind, Outcome, SealedPersonalData, Source, Tier,
    EVENT_TYPES,
};
use chrono::{DateTime, TimeZone, Utc};
use common::{dept, letter_id};

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
        | CaseEvent::PersonalDataErased {} => {}
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
    for event in examples() {
        let event_type = event.event_type();
        let path = golden_dir().join(format!("{event_type}.json"));
        let json = serde_json::to_string_pretty(&event).expect("an event serialises") + "\n";
        if update {
            std::fs::create_dir_all(golden_dir()).expect("create tests/golden");
            std::fs::write(&path, &json).expect("write a golden file");
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
                "{event_type} no longer serialises as {}. The stored format is forever: add a \
                 new event type instead of changing this one.\n--- golden\n{golden}--- now\n{json}",
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
fn there_are_no_stale_golden_files() {
    let Ok(entries) = std::fs::read_dir(golden_dir()) else {
        // Missing files are reported, with how to write them, by the test above.
        return;
    };
    for entry in entries {
        let name = entry.expect("a readable directory entry").file_name();
        let name = name.to_string_lossy();
        let event_type = name.strip_suffix(".json").unwrap_or(&name);
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
