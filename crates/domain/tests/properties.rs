//! Property tests: `decide` and `evolve` never panic, whatever the commands, actors, inputs and
//! times; the version counts the applied events; folding the accepted history gives the case
//! that was evolved step by step; and `evolve` is total even over histories `decide` would never
//! accept.
//!
//! Owns the generators; the rules are tested case by case in `decide.rs`.

mod common;

use caseledger_domain::{
    decide, Actor, Case, CaseEvent, CaseId, CaseStatus, Category, Command, Context, Employer,
    EmployerInput, LetterKind, Outcome, Policy, Rejection, Role, SealedPersonalData, Source, Tier,
};
use chrono::{DateTime, Duration, Utc};
use common::{
    actor, calendar, dept, letter_id, now as start, office, OFFICER, OTHER_OFFICER, PILOT_ERA_CODE,
    VALID_CODE,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::FileFailurePersistence;
use uuid::Uuid;

const DEPARTMENTS: &[&str] = &[
    "hrss",
    "court",
    "justice",
    "labour_inspection",
    "procuratorate",
    "health",
    "ministry_of_magic",
];

fn actors() -> Vec<Actor> {
    vec![
        actor(OFFICER, Role::Officer, None),
        actor(OTHER_OFFICER, Role::Officer, None),
        actor("Chen Jing", Role::Supervisor, None),
        actor("system", Role::Admin, None),
        actor("hrss", Role::Partner, Some("hrss")),
        actor("court", Role::Partner, Some("court")),
        actor("Audit Office", Role::Auditor, None),
        actor("stray officer", Role::Officer, Some("justice")),
    ]
}

/// Texts that are valid, blank, too long, multi-line or with control characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z ]{1,20}",
        1 => select(vec![
            String::new(),
            "   ".to_owned(),
            "line one\nline two".to_owned(),
            "nul \u{0} byte".to_owned(),
            "欠薪 三个月".to_owned(),
            "t".repeat(201),
        ]),
    ]
}

fn optional_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn department() -> impl Strategy<Value = caseledger_domain::Department> {
    select(DEPARTMENTS).prop_map(dept)
}

fn credit_code() -> impl Strategy<Value = Option<String>> {
    prop::option::of(select(vec![
        VALID_CODE.to_owned(),
        PILOT_ERA_CODE.to_owned(),
        "9111000060003734IL".to_owned(),
        "110000001234567".to_owned(),
        "９1110000600037341L".to_owned(),
        "not a code at all".to_owned(),
        " ".to_owned(),
    ]))
}

/// A command in the making; times are offsets from the moment it runs.
#[derive(Debug, Clone)]
enum Plan {
    Open {
        title: String,
        code: Option<String>,
        unverified: bool,
        complainant: bool,
        workers: Option<u32>,
    },
    Assign(String),
    Finding(String, Option<String>),
    Issue {
        letter: u8,
        number: u8,
        kind: LetterKind,
        deadline_minutes: Option<i64>,
        department: Option<caseledger_domain::Department>,
        content: String,
    },
    Answer(u8, bool, String),
    Missed(u8),
    Serve(u8, i64, bool, Option<String>),
    FollowUp(u8, i64, bool, String),
    Escalate(Tier, Option<Vec<caseledger_domain::Department>>, String),
    Refer(caseledger_domain::Department, String),
    Feedback(String, Option<String>),
    Note(String),
    Close(Outcome, String),
    Reopen(String),
    Erase,
}

fn plan() -> impl Strategy<Value = Plan> {
    prop_oneof![
        1 => (text(), credit_code(), any::<bool>(), any::<bool>(), prop::option::of(0..20_000_000u32))
            .prop_map(|(title, code, unverified, complainant, workers)| Plan::Open {
                title, code, unverified, complainant, workers,
            }),
        2 => select(vec![OFFICER.to_owned(), OTHER_OFFICER.to_owned(), " ".to_owned()])
            .prop_map(Plan::Assign),
        2 => (text(), optional_text()).prop_map(|(summary, hazard)| Plan::Finding(summary, hazard)),
        5 => (
            0..4u8,
            0..5u8,
            select(LetterKind::ALL),
            prop::option::of(-600..60 * 24 * 30i64),
            (prop::bool::weighted(0.2), department()),
            text(),
        )
            .prop_map(|(letter, number, kind, deadline_minutes, (wrong, department), content)| {
                // Usually a department exactly when the kind needs one, sometimes the opposite.
                let department =
                    ((kind == LetterKind::Recommendation) != wrong).then_some(department);
                Plan::Issue { letter, number, kind, deadline_minutes, department, content }
            }),
        4 => (0..4u8, any::<bool>(), text()).prop_map(|(letter, rectified, content)| {
            Plan::Answer(letter, rectified, content)
        }),
        3 => (0..4u8).prop_map(Plan::Missed),
        3 => (0..4u8, -3000..60i64, any::<bool>(), optional_text())
            .prop_map(|(letter, minutes, refused, received_by)| Plan::Serve(letter, minutes, refused, received_by)),
        2 => (0..4u8, -3000..60i64, any::<bool>(), text())
            .prop_map(|(letter, minutes, rectified, findings)| Plan::FollowUp(letter, minutes, rectified, findings)),
        2 => (select(Tier::ALL), prop::option::of(prop::collection::vec(department(), 0..4)), text())
            .prop_map(|(tier, departments, reason)| Plan::Escalate(tier, departments, reason)),
        2 => (department(), text()).prop_map(|(department, reason)| Plan::Refer(department, reason)),
        2 => (text(), optional_text()).prop_map(|(content, outcome)| Plan::Feedback(content, outcome)),
        1 => text().prop_map(Plan::Note),
        1 => (select(Outcome::ALL), text()).prop_map(|(outcome, summary)| Plan::Close(outcome, summary)),
        1 => text().prop_map(Plan::Reopen),
        1 => Just(Plan::Erase),
    ]
}

fn build(plan: Plan, now: DateTime<Utc>) -> Command {
    match plan {
        Plan::Open {
            title,
            code,
            unverified,
            complainant,
            workers,
        } => Command::OpenCase {
            title,
            category: Category::WageArrears,
            description: "Three months of wages unpaid.".to_owned(),
            source: Source::Hotline,
            employer: EmployerInput {
                name: "Fucheng Construction Labour Co.".to_owned(),
                credit_code: code,
                credit_code_unverified: unverified,
            },
            region: None,
            industry: Some("construction".to_owned()),
            workers_affected: workers,
            complainant: complainant.then(|| SealedPersonalData {
                sealed: "c2VhbGVk".to_owned(),
            }),
        },
        Plan::Assign(officer) => Command::AssignOfficer { officer },
        Plan::Finding(summary, hazard) => Command::RecordFinding { summary, hazard },
        Plan::Issue {
            letter,
            number,
            kind,
            deadline_minutes,
            department,
            content,
        } => Command::IssueLetter {
            letter_id: letter_id(u128::from(letter)),
            number: format!("MY-2026-{number:04}"),
            kind,
            recipient: "Fucheng Construction Labour Co.".to_owned(),
            content,
            deadline: deadline_minutes.map(|minutes| now + Duration::minutes(minutes)),
            department,
        },
        Plan::Answer(letter, rectified, content) => Command::AnswerLetter {
            letter_id: letter_id(u128::from(letter)),
            rectified,
            content,
        },
        Plan::Missed(letter) => Command::MarkDeadlineMissed {
            letter_id: letter_id(u128::from(letter)),
        },
        Plan::Serve(letter, minutes, refused, received_by) => Command::ServeLetter {
            letter_id: letter_id(u128::from(letter)),
            method: caseledger_domain::ServiceMethod::InPerson,
            served_at: now + Duration::minutes(minutes),
            received_by,
            refused,
            tracking_number: None,
            receipt_attachment_id: None,
        },
        Plan::FollowUp(letter, minutes, rectified, findings) => Command::RecordFollowUp {
            letter_id: letter_id(u128::from(letter)),
            visited_at: now + Duration::minutes(minutes),
            findings,
            rectified,
        },
        Plan::Escalate(tier, departments, reason) => Command::Escalate {
            tier,
            departments,
            reason,
        },
        Plan::Refer(department, reason) => Command::Refer { department, reason },
        Plan::Feedback(content, outcome) => Command::RecordFeedback { content, outcome },
        Plan::Note(text) => Command::AddNote { text },
        Plan::Close(outcome, summary) => Command::Close { outcome, summary },
        Plan::Reopen(reason) => Command::Reopen { reason },
        Plan::Erase => Command::ErasePersonalData,
    }
}

/// A valid opening by an officer, so most runs exercise more than `NotFound`.
fn valid_open() -> Plan {
    Plan::Open {
        title: "Wages unpaid since August".to_owned(),
        code: Some(VALID_CODE.to_owned()),
        unverified: false,
        complainant: true,
        workers: Some(12),
    }
}

fn steps() -> impl Strategy<Value = Vec<(usize, Plan, i64)>> {
    // Mostly union staff, who may run most commands; sometimes partners and auditors.
    let actor = prop_oneof![4 => 0..4usize, 1 => 4..actors().len()];
    let step = (actor, plan(), 1..60 * 24 * 10i64);
    (
        prop::bool::weighted(0.9),
        prop::collection::vec(step, 0..40),
    )
        .prop_map(|(open_first, mut steps)| {
            if open_first {
                steps.insert(0, (0, valid_open(), 1));
            }
            steps
        })
}

/// The default 256 cases; failures are kept next to this file (integration tests have no
/// `lib.rs` for proptest to find).
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/properties.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

fn case_id() -> CaseId {
    CaseId(Uuid::from_u128(7))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decide_and_evolve_never_panic_and_fold_agrees(steps in steps()) {
        let policy = Policy::default();
        let calendar = calendar();
        let actors = actors();
        let system = actor("system", Role::Admin, None);
        let mut case = Case::new(case_id());
        let mut history: Vec<(CaseEvent, DateTime<Utc>)> = Vec::new();
        let mut now = start();
        for (actor_index, plan, minutes) in steps {
            now += Duration::minutes(minutes);
            let context = Context { now, today: now.date_naive(), actor: &actors[actor_index], policy: &policy, calendar: &calendar, office_days: &office() };
            match decide(&case, build(plan, now), &context) {
                Ok(events) => {
                    prop_assert_eq!(events.len(), 1, "each accepted command yields one event");
                    for event in events {
                        let json = serde_json::to_string(&event).expect("an event serialises");
                        let parsed: CaseEvent = serde_json::from_str(&json).expect("its JSON parses");
                        prop_assert_eq!(&parsed, &event);
                        case.evolve(&event, now);
                        history.push((event, now));
                    }
                }
                Err(rejection) => {
                    prop_assert!(!rejection.to_string().is_empty());
                    if let Rejection::Invalid(errors) = &rejection {
                        prop_assert!(!errors.is_empty());
                    }
                }
            }
            prop_assert_eq!(case.version, history.len() as u64);
            prop_assert_eq!(case.is_closed(), case.status() == CaseStatus::Closed);
            // Whatever the watcher is told to mark, the rules accept.
            for letter in case.deadlines_to_mark(now) {
                let context = Context { now, today: now.date_naive(), actor: &system, policy: &policy, calendar: &calendar, office_days: &office() };
                let marked = decide(&case, Command::MarkDeadlineMissed { letter_id: letter }, &context);
                prop_assert!(marked.is_ok(), "deadlines_to_mark offered {letter}: {marked:?}");
            }
        }
        let folded = Case::fold(case_id(), history.iter().map(|(event, at)| (event, *at)));
        prop_assert_eq!(&folded, &case);
        let json = serde_json::to_string(&case).expect("a case serialises");
        let parsed: Case = serde_json::from_str(&json).expect("its JSON parses");
        prop_assert_eq!(parsed, case);
    }
}

/// Any event, sensible or not.
fn event() -> impl Strategy<Value = CaseEvent> {
    let letter = (0..3u128).prop_map(letter_id);
    let time = (-100..100i64).prop_map(|hours| start() + Duration::hours(hours));
    prop_oneof![
        (any::<bool>(), optional_text()).prop_map(|(complainant, region)| CaseEvent::CaseOpened {
            title: "t".to_owned(),
            category: Category::Other,
            description: "d".to_owned(),
            source: Source::Other,
            employer: Employer::default(),
            region,
            industry: None,
            workers_affected: None,
            complainant: complainant.then(|| SealedPersonalData {
                sealed: "s".to_owned()
            }),
        }),
        (text(), optional_text())
            .prop_map(|(officer, previous)| CaseEvent::OfficerAssigned { officer, previous }),
        text().prop_map(|summary| CaseEvent::FindingRecorded {
            summary,
            hazard: None
        }),
        (
            letter.clone(),
            select(LetterKind::ALL),
            prop::option::of(time.clone()),
            prop::option::of(department())
        )
            .prop_map(|(letter_id, kind, deadline, department)| {
                CaseEvent::SupervisionLetterIssued {
                    letter_id,
                    number: "MY-2026-0001".to_owned(),
                    kind,
                    recipient: "r".to_owned(),
                    content: "c".to_owned(),
                    deadline,
                    department,
                    deadline_rule: None,
                    last_day: None,
                    document_sha256: None,
                }
            }),
        (letter.clone(), time.clone(), prop::option::of(time.clone())).prop_map(
            |(letter_id, served_at, deadline)| CaseEvent::LetterServed {
                letter_id,
                method: caseledger_domain::ServiceMethod::Post,
                served_at,
                received_by: None,
                refused: false,
                tracking_number: Some("EMS 1".to_owned()),
                deadline,
                last_day: None,
                receipt_attachment_id: None,
            }
        ),
        (letter.clone(), time.clone(), any::<bool>()).prop_map(
            |(letter_id, visited_at, rectified)| CaseEvent::FollowUpRecorded {
                letter_id,
                visited_at,
                findings: "f".to_owned(),
                rectified,
            }
        ),
        (letter.clone(), any::<bool>()).prop_map(|(letter_id, rectified)| {
            CaseEvent::LetterAnswered {
                letter_id,
                rectified,
                content: "a".to_owned(),
            }
        }),
        (letter, time).prop_map(|(letter_id, deadline)| CaseEvent::LetterDeadlineMissed {
            letter_id,
            deadline
        }),
        (
            select(Tier::ALL),
            prop::collection::vec(department(), 0..3),
            prop::option::of(select(Tier::ALL))
        )
            .prop_map(|(tier, departments, previous_tier)| {
                CaseEvent::EscalatedToJointMechanism {
                    tier,
                    departments,
                    reason: "r".to_owned(),
                    previous_tier,
                }
            }),
        department().prop_map(|department| CaseEvent::ReferredToDepartment {
            department,
            reason: "r".to_owned()
        }),
        department().prop_map(|department| CaseEvent::DepartmentFeedbackRecorded {
            department,
            content: "c".to_owned(),
            outcome: None,
        }),
        text().prop_map(|text| CaseEvent::NoteAdded { text }),
        select(Outcome::ALL).prop_map(|outcome| CaseEvent::CaseClosed {
            outcome,
            summary: "s".to_owned()
        }),
        Just(CaseEvent::CaseReopened {
            reason: "r".to_owned()
        }),
        Just(CaseEvent::PersonalDataErased {}),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn evolve_is_total_over_any_history(events in prop::collection::vec(event(), 0..30)) {
        let mut case = Case::new(case_id());
        let mut at = start();
        for event in &events {
            at += Duration::minutes(1);
            case.evolve(event, at);
            // None of the questions asked of a case may panic, however odd its history.
            let _ = (case.status(), case.deadline(), case.overdue(), case.deadlines_to_mark(at));
        }
        prop_assert_eq!(case.version, events.len() as u64);
        let folded = Case::fold(
            case_id(),
            events.iter().enumerate().map(|(index, event)| {
                (event, start() + Duration::minutes(index as i64 + 1))
            }),
        );
        prop_assert_eq!(folded, case);
    }
}
