//! Table tests of the rules: `check(given events, when command, expect outcome)` for every
//! command's happy path and every rejection, the whole life of a case in order and out of order,
//! and the questions asked of a case's state (status, deadline, overdue).
//!
//! Owns no fixtures beyond the table; shared builders live in `common`.

mod common;

use caseledger_domain::{
    decide, Actor, Case, CaseEvent, CaseId, CaseStatus, Command, Context, Employer, FileName,
    LetterKind, Outcome, Policy, Rejection, Role, Rule, SealedPersonalData, Tier, Urgency,
    DUE_SOON,
};
use chrono::{Duration, TimeZone, Utc};
use common::*;
use uuid::Uuid;

/// What a scenario expects.
#[derive(Debug)]
enum Then {
    /// Accepted, with exactly these events.
    Events(Vec<CaseEvent>),
    /// Accepted, with one event of this type (for events whose details another test pins).
    EventType(&'static str),
    /// Refused with 409 under this rule.
    Conflict(Rule),
    /// Refused with 403.
    Forbidden,
    /// Refused with 404 for this thing.
    NotFound(&'static str),
    /// Refused with 422 naming exactly these fields, in this order.
    Invalid(Vec<&'static str>),
}

struct Scenario {
    name: &'static str,
    given: Vec<CaseEvent>,
    actor: Actor,
    when: Command,
    then: Then,
}

fn scenario(
    name: &'static str,
    given: Vec<CaseEvent>,
    actor: Actor,
    when: Command,
    then: Then,
) -> Scenario {
    Scenario {
        name,
        given,
        actor,
        when,
        then,
    }
}

fn case_id() -> CaseId {
    CaseId(Uuid::from_u128(0x0190_f5a3_7c1e_7d2a_9b3c_4d5e_6f70_8192))
}

/// Folds the given events (an hour apart, ending an hour before now) into a case.
fn given_case(given: &[CaseEvent]) -> Case {
    let count = given.len();
    Case::fold(
        case_id(),
        given
            .iter()
            .enumerate()
            .map(|(index, event)| (event, given_at(index, count))),
    )
}

/// Decides `when` on the case made of `given`, as `actor`, at `now()`, under the default policy.
fn check(given: &[CaseEvent], actor: &Actor, when: Command) -> Result<Vec<CaseEvent>, Rejection> {
    check_under(&Policy::default(), given, actor, when)
}

/// [`check`] under `policy`.
fn check_under(
    policy: &Policy,
    given: &[CaseEvent],
    actor: &Actor,
    when: Command,
) -> Result<Vec<CaseEvent>, Rejection> {
    let calendar = calendar();
    let context = Context {
        now: now(),
        today: today(),
        actor,
        policy,
        calendar: &calendar,
        office_days: &office(),
    };
    decide(&given_case(given), when, &context)
}

fn matches(then: &Then, result: &Result<Vec<CaseEvent>, Rejection>) -> bool {
    match (then, result) {
        (Then::Events(expected), Ok(events)) => expected == events,
        (Then::EventType(expected), Ok(events)) => {
            events.len() == 1 && events[0].event_type() == *expected
        }
        (Then::Conflict(expected), Err(Rejection::Conflict { rule, .. })) => expected == rule,
        (Then::Forbidden, Err(Rejection::Forbidden { .. })) => true,
        (Then::NotFound(expected), Err(Rejection::NotFound { what })) => expected == what,
        (Then::Invalid(expected), Err(Rejection::Invalid(errors))) => {
            let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
            *expected == fields
        }
        _ => false,
    }
}

fn run(scenarios: Vec<Scenario>) {
    run_under(&Policy::default(), scenarios);
}

/// [`run`] under `policy`.
fn run_under(policy: &Policy, scenarios: Vec<Scenario>) {
    let count = scenarios.len();
    let mut failures = Vec::new();
    for Scenario {
        name,
        given,
        actor,
        when,
        then,
    } in scenarios
    {
        let result = check_under(policy, &given, &actor, when);
        if !matches(&then, &result) {
            failures.push(format!(
                "{name}:\n  expected {then:?}\n  got      {result:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} scenarios failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn opened_and(rest: Vec<CaseEvent>) -> Vec<CaseEvent> {
    let mut events = vec![opened()];
    events.extend(rest);
    events
}

#[test]
fn open_case() {
    use Then::*;
    let long_chinese_title = "水".repeat(200);
    run(vec![
        scenario(
            "an officer opens a case; texts are trimmed and the code normalised",
            vec![],
            officer(),
            common::open_case(),
            Events(vec![opened()]),
        ),
        scenario(
            "a case is opened once",
            vec![opened()],
            officer(),
            common::open_case(),
            Conflict(Rule::CaseAlreadyOpened),
        ),
        scenario(
            "every invalid field is reported at once",
            vec![],
            officer(),
            Command::OpenCase {
                title: " \n ".to_owned(),
                category: caseledger_domain::Category::WageArrears,
                description: "x".repeat(20_001),
                source: caseledger_domain::Source::Hotline,
                employer: caseledger_domain::EmployerInput {
                    name: String::new(),
                    credit_code: Some("91110000600037341".to_owned()),
                    credit_code_unverified: false,
                },
                region: Some("r".repeat(101)),
                industry: Some("  ".to_owned()),
                workers_affected: Some(10_000_001),
                complainant: Some(caseledger_domain::SealedPersonalData {
                    sealed: String::new(),
                }),
            },
            Invalid(vec![
                "title",
                "description",
                "employer.name",
                "employer.credit_code",
                "region",
                "workers_affected",
                "complainant.sealed",
            ]),
        ),
        scenario(
            "limits count characters, not bytes",
            vec![],
            officer(),
            Command::OpenCase {
                title: long_chinese_title.clone(),
                category: caseledger_domain::Category::WageArrears,
                description: "欠薪".to_owned(),
                source: caseledger_domain::Source::Hotline,
                employer: caseledger_domain::EmployerInput {
                    name: "某建筑劳务公司".to_owned(),
                    credit_code: None,
                    credit_code_unverified: false,
                },
                region: None,
                industry: None,
                workers_affected: None,
                complainant: None,
            },
            Events(vec![CaseEvent::CaseOpened {
                title: long_chinese_title,
                category: caseledger_domain::Category::WageArrears,
                description: "欠薪".to_owned(),
                source: caseledger_domain::Source::Hotline,
                employer: Employer {
                    name: "某建筑劳务公司".to_owned(),
                    credit_code: None,
                    credit_code_unverified: false,
                },
                region: None,
                industry: None,
                workers_affected: None,
                complainant: None,
            }]),
        ),
        scenario(
            "a title is one line",
            vec![],
            officer(),
            match common::open_case() {
                Command::OpenCase {
                    category,
                    description,
                    source,
                    employer,
                    region,
                    industry,
                    workers_affected,
                    complainant,
                    ..
                } => Command::OpenCase {
                    title: "two\nlines".to_owned(),
                    category,
                    description,
                    source,
                    employer,
                    region,
                    industry,
                    workers_affected,
                    complainant,
                },
                other => other,
            },
            Invalid(vec!["title"]),
        ),
        scenario(
            "a failing credit code is invalid",
            vec![],
            supervisor(),
            open_case_with_code(Some(PILOT_ERA_CODE), false),
            Invalid(vec!["employer.credit_code"]),
        ),
        scenario(
            "an officer may not keep a failing code unverified",
            vec![],
            officer(),
            open_case_with_code(Some(PILOT_ERA_CODE), true),
            Forbidden,
        ),
        scenario(
            "a supervisor may keep a failing code unverified",
            vec![],
            supervisor(),
            open_case_with_code(Some("91350211m0000xuf46"), true),
            Events(vec![opened_with_employer(Employer {
                name: "Fucheng Cement Co., Ltd.".to_owned(),
                credit_code: Some(PILOT_ERA_CODE.to_owned()),
                credit_code_unverified: true,
            })]),
        ),
        scenario(
            "an admin may keep an old 15-digit registration number unverified",
            vec![],
            admin(),
            open_case_with_code(Some("110000001234567"), true),
            EventType("CaseOpened"),
        ),
        scenario(
            "free text is no credit code, even unverified",
            vec![],
            admin(),
            open_case_with_code(Some("unknown, ask the boss"), true),
            Invalid(vec!["employer.credit_code"]),
        ),
        scenario(
            "a passing code is recorded as verified whatever the client asked",
            vec![],
            officer(),
            open_case_with_code(Some(VALID_CODE), true),
            Events(vec![opened()]),
        ),
        scenario(
            "credit_code_unverified needs a code",
            vec![],
            supervisor(),
            open_case_with_code(None, true),
            Invalid(vec!["employer.credit_code_unverified"]),
        ),
        scenario(
            "full-width codes are refused",
            vec![],
            officer(),
            open_case_with_code(Some("９1110000600037341L"), false),
            Invalid(vec!["employer.credit_code"]),
        ),
        scenario(
            "partners open no cases",
            vec![],
            partner("hrss"),
            common::open_case(),
            Forbidden,
        ),
        scenario(
            "auditors open no cases",
            vec![],
            auditor(),
            common::open_case(),
            Forbidden,
        ),
    ]);
}

fn opened_with_employer(employer: Employer) -> CaseEvent {
    match opened() {
        CaseEvent::CaseOpened {
            title,
            category,
            description,
            source,
            region,
            industry,
            workers_affected,
            complainant,
            ..
        } => CaseEvent::CaseOpened {
            title,
            category,
            description,
            source,
            employer,
            region,
            industry,
            workers_affected,
            complainant,
        },
        other => other,
    }
}

#[test]
fn the_credit_code_error_names_the_check_character() {
    let result = check(
        &[],
        &officer(),
        open_case_with_code(Some(PILOT_ERA_CODE), false),
    );
    let Err(Rejection::Invalid(errors)) = result else {
        panic!("expected a 422, got {result:?}");
    };
    assert_eq!(
        errors[0].message,
        "check character is '6' but should be 'R'"
    );
}

#[test]
fn every_command_needs_an_opened_case() {
    let commands = vec![
        Command::AssignOfficer {
            officer: OFFICER.to_owned(),
        },
        Command::RecordFinding {
            summary: "s".to_owned(),
            hazard: None,
        },
        issue(1, LetterKind::Opinion, None),
        answer(1, true),
        Command::MarkDeadlineMissed {
            letter_id: letter_id(1),
        },
        escalate(Tier::ThreeParty),
        refer("hrss"),
        feedback(),
        Command::AddNote {
            text: "t".to_owned(),
        },
        close(Outcome::Rectified),
        reopen(),
        Command::ErasePersonalData,
    ];
    let scenarios = commands
        .into_iter()
        .map(|command| {
            // Each command as run by a role that may run it: feedback comes from partners.
            let actor = match command {
                Command::RecordFeedback { .. } => partner("hrss"),
                _ => admin(),
            };
            scenario(
                command.name(),
                vec![],
                actor,
                command,
                Then::NotFound("case"),
            )
        })
        .collect();
    run(scenarios);
}

#[test]
fn assign_officer() {
    use Then::*;
    let assign = |officer: &str| Command::AssignOfficer {
        officer: officer.to_owned(),
    };
    run(vec![
        scenario(
            "an officer takes an unassigned case",
            vec![opened()],
            officer(),
            assign(&format!(" {OFFICER} ")),
            Events(vec![CaseEvent::OfficerAssigned {
                officer: OFFICER.to_owned(),
                previous: None,
            }]),
        ),
        scenario(
            "the assignee hands the case over",
            opened_and(vec![assigned(OFFICER)]),
            officer(),
            assign(OTHER_OFFICER),
            Events(vec![CaseEvent::OfficerAssigned {
                officer: OTHER_OFFICER.to_owned(),
                previous: Some(OFFICER.to_owned()),
            }]),
        ),
        scenario(
            "another officer may not take an assigned case",
            opened_and(vec![assigned(OFFICER)]),
            other_officer(),
            assign(OTHER_OFFICER),
            Forbidden,
        ),
        scenario(
            "a supervisor reassigns any case",
            opened_and(vec![assigned(OFFICER)]),
            supervisor(),
            assign(OTHER_OFFICER),
            EventType("OfficerAssigned"),
        ),
        scenario(
            "assigning the current assignee again is a conflict",
            opened_and(vec![assigned(OFFICER)]),
            supervisor(),
            assign(OFFICER),
            Conflict(Rule::AlreadyAssigned),
        ),
        scenario(
            "the officer's name is required",
            vec![opened()],
            officer(),
            assign("  "),
            Invalid(vec!["officer"]),
        ),
        scenario(
            "a closed case is not assigned",
            opened_and(vec![closed(Outcome::Rectified)]),
            supervisor(),
            assign(OFFICER),
            Conflict(Rule::CaseClosed),
        ),
        scenario(
            "auditors change nothing",
            vec![opened()],
            auditor(),
            assign(OFFICER),
            Forbidden,
        ),
    ]);
}

#[test]
fn record_finding() {
    use Then::*;
    run(vec![
        scenario(
            "a finding with a blank hazard records none",
            vec![opened()],
            officer(),
            Command::RecordFinding {
                summary: " No respirators. ".to_owned(),
                hazard: Some(" ".to_owned()),
            },
            Events(vec![CaseEvent::FindingRecorded {
                summary: "No respirators.".to_owned(),
                hazard: None,
            }]),
        ),
        scenario(
            "a finding needs a summary",
            vec![opened()],
            officer(),
            Command::RecordFinding {
                summary: String::new(),
                hazard: Some("h".repeat(1_001)),
            },
            Invalid(vec!["summary", "hazard"]),
        ),
        scenario(
            "no findings on a closed case",
            opened_and(vec![closed(Outcome::Unfounded)]),
            officer(),
            Command::RecordFinding {
                summary: "late".to_owned(),
                hazard: None,
            },
            Conflict(Rule::CaseClosed),
        ),
        scenario(
            "partners record no findings",
            opened_and(vec![referred("hrss")]),
            partner("hrss"),
            Command::RecordFinding {
                summary: "s".to_owned(),
                hazard: None,
            },
            Forbidden,
        ),
    ]);
}

#[test]
fn issue_letter() {
    use Then::*;
    let opinion_open = || opened_and(vec![issued(1, LetterKind::Opinion, Some(future()))]);
    let opinion_refused = || {
        opened_and(vec![
            issued(1, LetterKind::Opinion, Some(future())),
            answered(1, false),
        ])
    };
    run(vec![
        scenario(
            "an opinion letter without a deadline waits for its service to count 15 working days",
            vec![opened()],
            officer(),
            issue(1, LetterKind::Opinion, None),
            Events(vec![opinion_awaiting_service()]),
        ),
        scenario(
            "an opinion letter with its own deadline",
            vec![opened()],
            officer(),
            issue(1, LetterKind::Opinion, Some(future())),
            Events(vec![issued(1, LetterKind::Opinion, Some(future()))]),
        ),
        scenario(
            "a reminder has no default deadline",
            vec![opened()],
            officer(),
            issue(1, LetterKind::Reminder, None),
            Events(vec![issued(1, LetterKind::Reminder, None)]),
        ),
        scenario(
            "a deadline must be in the future",
            vec![opened()],
            officer(),
            issue(1, LetterKind::Opinion, Some(now())),
            Invalid(vec!["deadline"]),
        ),
        scenario(
            "every bad field of a letter at once",
            vec![opened()],
            officer(),
            Command::IssueLetter {
                letter_id: letter_id(1),
                number: " ".to_owned(),
                kind: LetterKind::Opinion,
                recipient: String::new(),
                content: "bad \u{0} byte".to_owned(),
                deadline: Some(past()),
                department: Some(dept("hrss")),
            },
            Invalid(vec![
                "number",
                "recipient",
                "content",
                "deadline",
                "department",
            ]),
        ),
        scenario(
            "a recommendation letter names its department",
            opinion_refused(),
            officer(),
            without_department(recommend(2, "hrss")),
            Invalid(vec!["department"]),
        ),
        scenario(
            "a recommendation letter goes to a known department",
            opinion_refused(),
            officer(),
            recommend(2, "ministry_of_magic"),
            Invalid(vec!["department"]),
        ),
        scenario(
            "no recommendation without an opinion letter",
            vec![opened()],
            officer(),
            recommend(2, "hrss"),
            Conflict(Rule::RecommendationNeedsUnheededOpinion),
        ),
        scenario(
            "no recommendation while the opinion letter awaits its answer",
            opinion_open(),
            officer(),
            recommend(2, "hrss"),
            Conflict(Rule::RecommendationNeedsUnheededOpinion),
        ),
        scenario(
            "no recommendation when the employer rectified",
            opened_and(vec![
                issued(1, LetterKind::Opinion, Some(future())),
                answered(1, true),
            ]),
            officer(),
            recommend(2, "hrss"),
            Conflict(Rule::RecommendationNeedsUnheededOpinion),
        ),
        scenario(
            "a recommendation follows a refused opinion letter",
            opinion_refused(),
            officer(),
            recommend(2, "hrss"),
            Events(vec![CaseEvent::SupervisionLetterIssued {
                letter_id: letter_id(2),
                number: number(2),
                kind: LetterKind::Recommendation,
                recipient: "Fucheng Human Resources and Social Security Bureau".to_owned(),
                content: "The employer refused the opinion letter; please open a case.".to_owned(),
                deadline: None,
                department: Some(dept("hrss")),
                deadline_rule: Some(fifteen_working_days_from_service()),
                last_day: None,
                document_sha256: None,
            }]),
        ),
        scenario(
            "a recommendation follows an opinion letter left past its deadline",
            opened_and(vec![
                issued(1, LetterKind::Opinion, Some(past())),
                missed(1, past()),
            ]),
            officer(),
            recommend(2, "hrss"),
            EventType("SupervisionLetterIssued"),
        ),
        scenario(
            "a letter id is issued once",
            opinion_open(),
            officer(),
            issue(1, LetterKind::Reminder, None),
            Conflict(Rule::LetterAlreadyIssued),
        ),
        scenario(
            "a letter number is used once per case",
            opinion_open(),
            officer(),
            with_letter_id(issue(1, LetterKind::Reminder, None), 2),
            Invalid(vec!["number"]),
        ),
        scenario(
            "no letters on a closed case",
            opened_and(vec![closed(Outcome::Rectified)]),
            officer(),
            issue(1, LetterKind::Opinion, None),
            Conflict(Rule::CaseClosed),
        ),
    ]);
}

fn without_department(command: Command) -> Command {
    match command {
        Command::IssueLetter {
            letter_id,
            number,
            kind,
            recipient,
            content,
            deadline,
            ..
        } => Command::IssueLetter {
            letter_id,
            number,
            kind,
            recipient,
            content,
            deadline,
            department: None,
        },
        other => other,
    }
}

fn with_letter_id(command: Command, n: u128) -> Command {
    match command {
        Command::IssueLetter {
            number,
            kind,
            recipient,
            content,
            deadline,
            department,
            ..
        } => Command::IssueLetter {
            letter_id: letter_id(n),
            number,
            kind,
            recipient,
            content,
            deadline,
            department,
        },
        other => other,
    }
}

/// Letter 1 as issued by default: an opinion letter whose 15 working days count from service.
fn opinion_awaiting_service() -> CaseEvent {
    CaseEvent::SupervisionLetterIssued {
        letter_id: letter_id(1),
        number: number(1),
        kind: LetterKind::Opinion,
        recipient: "Fucheng Cement Co., Ltd.".to_owned(),
        content: "Provide respirators within 15 working days.".to_owned(),
        deadline: None,
        department: None,
        deadline_rule: Some(fifteen_working_days_from_service()),
        last_day: None,
        document_sha256: None,
    }
}

#[test]
fn serve_letter() {
    use Then::*;
    let served_now = CaseEvent::LetterServed {
        letter_id: letter_id(1),
        method: caseledger_domain::ServiceMethod::InPerson,
        served_at: now(),
        received_by: Some("Li Wei, site manager".to_owned()),
        refused: false,
        tracking_number: None,
        // Sunday 29 November (16:00 in the office): 15 working days from Monday 30 November
        // end on Friday 18 December; the deadline is that day's end in UTC+8.
        deadline: Some(
            Utc.with_ymd_and_hms(2026, 12, 18, 16, 0, 0)
                .single()
                .expect("a valid time"),
        ),
        last_day: Some(caseledger_domain::LastDay {
            date: chrono::NaiveDate::from_ymd_opt(2026, 12, 18).expect("a valid date"),
            provisional: false,
            calendar_version: "test-calendar".to_owned(),
        }),
        receipt_attachment_id: None,
    };
    run(vec![
        scenario(
            "service starts the deadline counted in working days",
            opened_and(vec![opinion_awaiting_service()]),
            officer(),
            serve(1, now()),
            Events(vec![served_now.clone()]),
        ),
        scenario(
            "a letter with its own deadline keeps it",
            opened_and(vec![issued(1, LetterKind::Opinion, Some(future()))]),
            officer(),
            serve(1, now()),
            Events(vec![CaseEvent::LetterServed {
                deadline: None,
                last_day: None,
                letter_id: letter_id(1),
                method: caseledger_domain::ServiceMethod::InPerson,
                served_at: now(),
                received_by: Some("Li Wei, site manager".to_owned()),
                refused: false,
                tracking_number: None,
                receipt_attachment_id: None,
            }]),
        ),
        scenario(
            "a service in the future is refused",
            opened_and(vec![opinion_awaiting_service()]),
            officer(),
            serve(1, now() + Duration::minutes(1)),
            Invalid(vec!["served_at"]),
        ),
        scenario(
            "a service before the letter was issued is refused",
            opened_and(vec![opinion_awaiting_service()]),
            officer(),
            serve(1, now() - Duration::days(2)),
            Invalid(vec!["served_at"]),
        ),
        scenario(
            "a letter is served once",
            opened_and(vec![opinion_awaiting_service(), served_now]),
            officer(),
            serve(1, now()),
            Conflict(Rule::LetterAlreadyServed),
        ),
        scenario(
            "an unknown letter is not found",
            opened_and(vec![opinion_awaiting_service()]),
            officer(),
            serve(9, now()),
            NotFound("letter"),
        ),
        scenario(
            "a partner serves nothing",
            opened_and(vec![opinion_awaiting_service()]),
            partner("hrss"),
            serve(1, now()),
            Forbidden,
        ),
    ]);
}

#[test]
fn record_follow_up() {
    use Then::*;
    let follow_up = |visited_at, findings: &str| Command::RecordFollowUp {
        letter_id: letter_id(1),
        visited_at,
        findings: findings.to_owned(),
        rectified: true,
    };
    run(vec![
        scenario(
            "a visit that finds the violation corrected",
            opened_and(vec![opinion_awaiting_service()]),
            officer(),
            follow_up(now(), "Respirators issued to all grinders."),
            Events(vec![CaseEvent::FollowUpRecorded {
                letter_id: letter_id(1),
                visited_at: now(),
                findings: "Respirators issued to all grinders.".to_owned(),
                rectified: true,
            }]),
        ),
        scenario(
            "a visit needs findings, and a time not in the future",
            opened_and(vec![opinion_awaiting_service()]),
            officer(),
            follow_up(now() + Duration::hours(1), "  "),
            Invalid(vec!["visited_at", "findings"]),
        ),
        scenario(
            "an unknown letter is not found",
            opened_and(vec![opinion_awaiting_service()]),
            officer(),
            Command::RecordFollowUp {
                letter_id: letter_id(7),
                visited_at: now(),
                findings: "x".to_owned(),
                rectified: false,
            },
            NotFound("letter"),
        ),
    ]);
}

#[test]
fn answer_letter() {
    use Then::*;
    let opinion_open = || opened_and(vec![issued(1, LetterKind::Opinion, Some(future()))]);
    run(vec![
        scenario(
            "the employer's refusal is recorded",
            opinion_open(),
            officer(),
            answer(1, false),
            Events(vec![answered(1, false)]),
        ),
        scenario(
            "an unknown letter is not found",
            opinion_open(),
            officer(),
            answer(9, true),
            NotFound("letter"),
        ),
        scenario(
            "a reminder needs no answer",
            opened_and(vec![issued(1, LetterKind::Reminder, None)]),
            officer(),
            answer(1, true),
            Conflict(Rule::LetterNotOpen),
        ),
        scenario(
            "a letter is answered once",
            opened_and(vec![
                issued(1, LetterKind::Opinion, Some(future())),
                answered(1, true),
            ]),
            officer(),
            answer(1, true),
            Conflict(Rule::LetterNotOpen),
        ),
        scenario(
            "a late answer after the deadline was missed is still recorded",
            opened_and(vec![
                issued(1, LetterKind::Opinion, Some(past())),
                missed(1, past()),
            ]),
            officer(),
            answer(1, true),
            EventType("LetterAnswered"),
        ),
        scenario(
            "an answer arriving after the case was closed is recorded",
            opened_and(vec![
                issued(1, LetterKind::Opinion, Some(future())),
                closed(Outcome::Referred),
            ]),
            officer(),
            answer(1, true),
            EventType("LetterAnswered"),
        ),
        scenario(
            "an answer has content",
            opinion_open(),
            officer(),
            Command::AnswerLetter {
                letter_id: letter_id(1),
                rectified: true,
                content: "\t".to_owned(),
            },
            Invalid(vec!["content"]),
        ),
    ]);
}

#[test]
fn mark_deadline_missed() {
    use Then::*;
    let mark = |n| Command::MarkDeadlineMissed {
        letter_id: letter_id(n),
    };
    let system = || actor("system", Role::Admin, None);
    run(vec![
        scenario(
            "a passed deadline is marked missed",
            opened_and(vec![issued(1, LetterKind::Opinion, Some(past()))]),
            system(),
            mark(1),
            Events(vec![missed(1, past())]),
        ),
        scenario(
            "a deadline exactly now has passed",
            opened_and(vec![issued(1, LetterKind::Opinion, Some(now()))]),
            system(),
            mark(1),
            Events(vec![missed(1, now())]),
        ),
        scenario(
            "a future deadline has not passed",
            opened_and(vec![issued(1, LetterKind::Opinion, Some(future()))]),
            system(),
            mark(1),
            Conflict(Rule::DeadlineNotPassed),
        ),
        scenario(
            "a letter without a deadline never misses it",
            opened_and(vec![issued(1, LetterKind::Opinion, None)]),
            system(),
            mark(1),
            Conflict(Rule::DeadlineNotPassed),
        ),
        scenario(
            "a missed deadline is recorded once",
            opened_and(vec![
                issued(1, LetterKind::Opinion, Some(past())),
                missed(1, past()),
            ]),
            system(),
            mark(1),
            Conflict(Rule::DeadlineAlreadyMissed),
        ),
        scenario(
            "an answered letter is not overdue",
            opened_and(vec![
                issued(1, LetterKind::Opinion, Some(past())),
                answered(1, false),
            ]),
            system(),
            mark(1),
            Conflict(Rule::LetterNotOpen),
        ),
        scenario(
            "a reminder is never overdue",
            opened_and(vec![issued(1, LetterKind::Reminder, Some(past()))]),
            system(),
            mark(1),
            Conflict(Rule::LetterNotOpen),
        ),
        scenario(
            "an unknown letter is not found",
            vec![opened()],
            system(),
            mark(1),
            NotFound("letter"),
        ),
        scenario(
            "deadlines are not watched on closed cases",
            opened_and(vec![
                issued(1, LetterKind::Opinion, Some(past())),
                closed(Outcome::Withdrawn),
            ]),
            system(),
            mark(1),
            Conflict(Rule::CaseClosed),
        ),
    ]);
}

#[test]
fn escalate_through_the_joint_mechanism() {
    use Then::*;
    run(vec![
        scenario(
            "the first escalation takes the tier's configured members",
            vec![opened()],
            officer(),
            escalate(Tier::ThreeParty),
            Events(vec![escalated(
                Tier::ThreeParty,
                &["arbitration", "justice", "labour_inspection"],
            )]),
        ),
        scenario(
            "named departments are deduplicated in order",
            vec![opened()],
            officer(),
            Command::Escalate {
                tier: Tier::FourWay,
                departments: Some(vec![dept("hrss"), dept("court"), dept("hrss")]),
                reason: " The employer ignores the recommendation. ".to_owned(),
            },
            Events(vec![escalated(Tier::FourWay, &["hrss", "court"])]),
        ),
        scenario(
            "up a tier records the previous one",
            opened_and(vec![escalated(
                Tier::FourWay,
                &["hrss", "justice", "court"],
            )]),
            officer(),
            escalate(Tier::FiveWay),
            Events(vec![CaseEvent::EscalatedToJointMechanism {
                tier: Tier::FiveWay,
                departments: ["hrss", "justice", "court", "procuratorate"]
                    .into_iter()
                    .map(dept)
                    .collect(),
                reason: "The employer ignores the recommendation.".to_owned(),
                previous_tier: Some(Tier::FourWay),
            }]),
        ),
        scenario(
            "tiers never go down",
            opened_and(vec![escalated(Tier::FourWay, &["hrss"])]),
            officer(),
            escalate(Tier::ThreeParty),
            Conflict(Rule::TierNotHigher),
        ),
        scenario(
            "the same tier is not higher",
            opened_and(vec![escalated(Tier::FourWay, &["hrss"])]),
            officer(),
            escalate(Tier::FourWay),
            Conflict(Rule::TierNotHigher),
        ),
        scenario(
            "unknown departments are named by index",
            vec![opened()],
            officer(),
            Command::Escalate {
                tier: Tier::FourWay,
                departments: Some(vec![dept("hrss"), dept("ministry_of_magic")]),
                reason: String::new(),
            },
            Invalid(vec!["reason", "departments[1]"]),
        ),
        scenario(
            "an empty list of departments is invalid",
            vec![opened()],
            officer(),
            Command::Escalate {
                tier: Tier::FourWay,
                departments: Some(vec![]),
                reason: "r".to_owned(),
            },
            Invalid(vec!["departments"]),
        ),
        scenario(
            "no escalation of a closed case",
            opened_and(vec![closed(Outcome::Mediated)]),
            officer(),
            escalate(Tier::FiveWay),
            Conflict(Rule::CaseClosed),
        ),
    ]);
}

#[test]
fn refer_to_a_department() {
    use Then::*;
    run(vec![
        scenario(
            "a referral",
            vec![opened()],
            officer(),
            refer("labour_inspection"),
            Events(vec![referred("labour_inspection")]),
        ),
        scenario(
            "only to a known department",
            vec![opened()],
            officer(),
            Command::Refer {
                department: dept("ministry_of_magic"),
                reason: String::new(),
            },
            Invalid(vec!["department", "reason"]),
        ),
        scenario(
            "not from a closed case",
            opened_and(vec![closed(Outcome::Rectified)]),
            officer(),
            refer("hrss"),
            Conflict(Rule::CaseClosed),
        ),
    ]);
}

#[test]
fn record_feedback() {
    use Then::*;
    run(vec![
        scenario(
            "a department reports on a case referred to it",
            opened_and(vec![referred("labour_inspection")]),
            partner("labour_inspection"),
            feedback(),
            Events(vec![CaseEvent::DepartmentFeedbackRecorded {
                department: dept("labour_inspection"),
                content: "Case opened under inspection order 2026-117.".to_owned(),
                outcome: Some("investigating".to_owned()),
            }]),
        ),
        scenario(
            "a member of the joint mechanism reports",
            opened_and(vec![escalated(Tier::ThreeParty, &["justice"])]),
            partner("justice"),
            feedback(),
            EventType("DepartmentFeedbackRecorded"),
        ),
        scenario(
            "the department of a recommendation letter reports",
            opened_and(vec![
                issued(1, LetterKind::Opinion, Some(future())),
                answered(1, false),
                recommended(2, "hrss"),
            ]),
            partner("hrss"),
            feedback(),
            EventType("DepartmentFeedbackRecorded"),
        ),
        scenario(
            "feedback still arrives after closing",
            opened_and(vec![referred("hrss"), closed(Outcome::Referred)]),
            partner("hrss"),
            feedback(),
            EventType("DepartmentFeedbackRecorded"),
        ),
        scenario(
            "a department the case is not shared with",
            opened_and(vec![referred("hrss")]),
            partner("court"),
            feedback(),
            Conflict(Rule::NotSharedWithDepartment),
        ),
        scenario(
            "the union's own staff do not record feedback",
            opened_and(vec![referred("hrss")]),
            officer(),
            feedback(),
            Forbidden,
        ),
        scenario(
            "feedback has content",
            opened_and(vec![referred("hrss")]),
            partner("hrss"),
            Command::RecordFeedback {
                content: " ".to_owned(),
                outcome: None,
            },
            Invalid(vec!["content"]),
        ),
    ]);
}

#[test]
fn add_note() {
    use Then::*;
    let note = |text: &str| Command::AddNote {
        text: text.to_owned(),
    };
    run(vec![
        scenario(
            "a note",
            vec![opened()],
            officer(),
            note("Called the site manager.\nNo answer."),
            Events(vec![CaseEvent::NoteAdded {
                text: "Called the site manager.\nNo answer.".to_owned(),
            }]),
        ),
        scenario(
            "notes any time, even when closed",
            opened_and(vec![closed(Outcome::Rectified)]),
            officer(),
            note("Follow-up visit done."),
            EventType("NoteAdded"),
        ),
        scenario(
            "a note has text",
            vec![opened()],
            officer(),
            note(""),
            Invalid(vec!["text"]),
        ),
        scenario(
            "a note is at most 20,000 characters",
            vec![opened()],
            officer(),
            note(&"注".repeat(20_001)),
            Invalid(vec!["text"]),
        ),
        scenario(
            "partners add no notes",
            opened_and(vec![referred("hrss")]),
            partner("hrss"),
            note("n"),
            Forbidden,
        ),
    ]);
}

#[test]
fn close_case() {
    use Then::*;
    let opinion_open = || opened_and(vec![issued(1, LetterKind::Opinion, Some(future()))]);
    run(vec![
        scenario(
            "a case closes with an outcome",
            vec![opened()],
            officer(),
            close(Outcome::Rectified),
            Events(vec![closed(Outcome::Rectified)]),
        ),
        scenario(
            "not as rectified while an opinion letter awaits its answer",
            opinion_open(),
            officer(),
            close(Outcome::Rectified),
            Conflict(Rule::OpinionLetterAwaitingAnswer),
        ),
        scenario(
            "as referred while an opinion letter awaits its answer",
            opinion_open(),
            officer(),
            close(Outcome::Referred),
            Events(vec![closed(Outcome::Referred)]),
        ),
        scenario(
            "as withdrawn while an opinion letter awaits its answer",
            opinion_open(),
            officer(),
            close(Outcome::Withdrawn),
            Events(vec![closed(Outcome::Withdrawn)]),
        ),
        scenario(
            "an open recommendation letter does not hold the case open",
            opened_and(vec![
                issued(1, LetterKind::Opinion, Some(future())),
                answered(1, false),
                recommended(2, "hrss"),
            ]),
            officer(),
            close(Outcome::Litigation),
            EventType("CaseClosed"),
        ),
        scenario(
            "once answered, any outcome",
            opened_and(vec![
                issued(1, LetterKind::Opinion, Some(future())),
                answered(1, true),
            ]),
            officer(),
            close(Outcome::Rectified),
            EventType("CaseClosed"),
        ),
        scenario(
            "a case is closed once",
            opened_and(vec![closed(Outcome::Rectified)]),
            officer(),
            close(Outcome::Rectified),
            Conflict(Rule::CaseClosed),
        ),
        scenario(
            "a closing summary is required",
            vec![opened()],
            officer(),
            Command::Close {
                outcome: Outcome::Unfounded,
                summary: String::new(),
            },
            Invalid(vec!["summary"]),
        ),
    ]);
}

#[test]
fn reopen_case() {
    use Then::*;
    run(vec![
        scenario(
            "a supervisor reopens a closed case",
            opened_and(vec![closed(Outcome::Rectified)]),
            supervisor(),
            reopen(),
            Events(vec![reopened()]),
        ),
        scenario(
            "an officer may not reopen",
            opened_and(vec![closed(Outcome::Rectified)]),
            officer(),
            reopen(),
            Forbidden,
        ),
        scenario(
            "only a closed case reopens",
            vec![opened()],
            supervisor(),
            reopen(),
            Conflict(Rule::CaseNotClosed),
        ),
        scenario(
            "a reopened case is open",
            opened_and(vec![closed(Outcome::Rectified), reopened()]),
            admin(),
            reopen(),
            Conflict(Rule::CaseNotClosed),
        ),
        scenario(
            "a reason is required",
            opened_and(vec![closed(Outcome::Rectified)]),
            supervisor(),
            Command::Reopen {
                reason: " ".to_owned(),
            },
            Invalid(vec!["reason"]),
        ),
    ]);
}

#[test]
fn erase_personal_data() {
    use Then::*;
    run(vec![
        scenario(
            "an admin erases the complainant's details",
            vec![opened()],
            admin(),
            Command::ErasePersonalData,
            Events(vec![CaseEvent::PersonalDataErased {}]),
        ),
        scenario(
            "also on a closed case",
            opened_and(vec![closed(Outcome::Rectified)]),
            admin(),
            Command::ErasePersonalData,
            EventType("PersonalDataErased"),
        ),
        scenario(
            "only an admin erases",
            vec![opened()],
            supervisor(),
            Command::ErasePersonalData,
            Forbidden,
        ),
        scenario(
            "nothing to erase",
            vec![opened_without_complainant()],
            admin(),
            Command::ErasePersonalData,
            Conflict(Rule::NoPersonalData),
        ),
        scenario(
            "erased once",
            opened_and(vec![CaseEvent::PersonalDataErased {}]),
            admin(),
            Command::ErasePersonalData,
            Conflict(Rule::PersonalDataAlreadyErased),
        ),
    ]);
}

#[test]
fn case_event_limit() {
    use Then::*;
    let limit = caseledger_domain::limits::DEFAULT_MAX_CASE_EVENTS as usize;
    // The opening event and notes up to `total` events.
    let with_events = |total: usize| {
        let mut events = vec![opened()];
        events.extend((1..total).map(|index| CaseEvent::NoteAdded {
            text: format!("note {index}"),
        }));
        events
    };
    let note = || Command::AddNote {
        text: "one more".to_owned(),
    };
    run(vec![
        scenario(
            "one below the limit, a command still lands",
            with_events(limit - 1),
            officer(),
            note(),
            EventType("NoteAdded"),
        ),
        scenario(
            "at the limit, a command is a conflict naming the rule",
            with_events(limit),
            officer(),
            note(),
            Conflict(Rule::CaseEventLimitReached),
        ),
        scenario(
            "at the limit, closing is refused too",
            with_events(limit),
            officer(),
            close(Outcome::Rectified),
            Conflict(Rule::CaseEventLimitReached),
        ),
        scenario(
            "at the limit, personal data can still be erased",
            with_events(limit),
            admin(),
            Command::ErasePersonalData,
            Events(vec![CaseEvent::PersonalDataErased {}]),
        ),
    ]);
}

/// Runs commands in order, each at the next hour, applying accepted events; panics with the
/// step's name on a refusal.
struct Life {
    case: Case,
    hour: i64,
    policy: Policy,
}

impl Life {
    fn new() -> Self {
        Self {
            case: Case::new(case_id()),
            hour: 0,
            policy: Policy::default(),
        }
    }

    fn at(&self) -> chrono::DateTime<chrono::Utc> {
        now() + Duration::hours(self.hour)
    }

    fn try_run(&mut self, actor: &Actor, command: Command) -> Result<(), Rejection> {
        self.hour += 1;
        let calendar = calendar();
        let context = Context {
            now: self.at(),
            today: self.at().date_naive(),
            actor,
            policy: &self.policy,
            calendar: &calendar,
            office_days: &office(),
        };
        let events = decide(&self.case, command, &context)?;
        for event in &events {
            self.case.evolve(event, self.at());
        }
        Ok(())
    }

    fn run(&mut self, step: &str, actor: &Actor, command: Command) {
        if let Err(rejection) = self.try_run(actor, command) {
            panic!("step {step} was refused: {rejection}");
        }
    }

    fn refused(&mut self, step: &str, actor: &Actor, command: Command) -> Rejection {
        let version = self.case.version;
        match self.try_run(actor, command) {
            Ok(()) => panic!("step {step} was accepted"),
            Err(rejection) => {
                assert_eq!(self.case.version, version, "{step} changed nothing");
                rejection
            }
        }
    }

    fn conflict(&mut self, step: &str, actor: &Actor, command: Command) -> Rule {
        match self.refused(step, actor, command) {
            Rejection::Conflict { rule, .. } => rule,
            other => panic!("step {step}: expected a conflict, got {other}"),
        }
    }
}

#[test]
fn the_whole_life_of_a_case() {
    let mut life = Life::new();
    life.run("open", &officer(), common::open_case());
    assert_eq!(life.case.status(), CaseStatus::Open);
    life.run(
        "assign",
        &officer(),
        Command::AssignOfficer {
            officer: OFFICER.to_owned(),
        },
    );
    assert_eq!(life.case.status(), CaseStatus::Investigating);
    life.run(
        "findings",
        &officer(),
        Command::RecordFinding {
            summary: "No respirators in the grinding hall.".to_owned(),
            hazard: Some("silica dust".to_owned()),
        },
    );
    life.run("opinion", &officer(), issue(1, LetterKind::Opinion, None));
    assert_eq!(life.case.status(), CaseStatus::AwaitingReply);
    assert_eq!(life.case.deadline(), None, "not served yet");
    life.run("service", &officer(), serve(1, now() + Duration::hours(5)));
    // Served on Sunday 29 November 2026 (21:00 in the office, UTC+8): fifteen working days
    // from Monday 30 November end on Friday 18 December, at midnight between 18 and 19
    // December in the office.
    assert_eq!(
        life.case.deadline(),
        Some(
            Utc.with_ymd_and_hms(2026, 12, 18, 16, 0, 0)
                .single()
                .expect("a valid time")
        )
    );
    life.run("answer", &officer(), answer(1, false));
    assert_eq!(life.case.status(), CaseStatus::Investigating);
    life.run("recommendation", &officer(), recommend(2, "hrss"));
    assert_eq!(life.case.status(), CaseStatus::AwaitingReply);
    assert!(life.case.is_shared_with(&dept("hrss")));
    life.run("escalate", &officer(), escalate(Tier::FourWay));
    assert_eq!(life.case.status(), CaseStatus::Escalated);
    assert!(life.case.is_shared_with(&dept("court")));
    life.run("refer", &officer(), refer("labour_inspection"));
    life.run("feedback", &partner("labour_inspection"), feedback());
    life.run("close", &officer(), close(Outcome::Rectified));
    assert_eq!(life.case.status(), CaseStatus::Closed);
    assert_eq!(life.case.outcome, Some(Outcome::Rectified));
    life.run("reopen", &supervisor(), reopen());
    assert_eq!(life.case.status(), CaseStatus::Escalated);
    assert_eq!(life.case.reopened_count, 1);
    assert_eq!(life.case.outcome, None);
    assert_eq!(life.case.version, 12);
    let shared: Vec<&str> = life.case.shared_with.iter().map(|d| d.as_str()).collect();
    assert_eq!(shared, ["court", "hrss", "justice", "labour_inspection"]);
}

#[test]
fn each_step_out_of_order_breaks_its_rule() {
    let mut life = Life::new();
    assert_eq!(
        life.refused(
            "assign before open",
            &officer(),
            Command::AssignOfficer {
                officer: OFFICER.to_owned()
            }
        ),
        Rejection::not_found("case")
    );
    life.run("open", &officer(), common::open_case());
    assert_eq!(
        life.conflict("open twice", &officer(), common::open_case()),
        Rule::CaseAlreadyOpened
    );
    assert_eq!(
        life.refused("answer before the letter", &officer(), answer(1, false)),
        Rejection::not_found("letter")
    );
    assert_eq!(
        life.conflict(
            "recommend before an opinion",
            &officer(),
            recommend(2, "hrss")
        ),
        Rule::RecommendationNeedsUnheededOpinion
    );
    assert_eq!(
        life.conflict("feedback before sharing", &partner("hrss"), feedback()),
        Rule::NotSharedWithDepartment
    );
    assert_eq!(
        life.conflict("reopen before closing", &supervisor(), reopen()),
        Rule::CaseNotClosed
    );
    life.run("opinion", &officer(), issue(1, LetterKind::Opinion, None));
    assert_eq!(
        life.conflict(
            "recommend before the answer",
            &officer(),
            recommend(2, "hrss")
        ),
        Rule::RecommendationNeedsUnheededOpinion
    );
    assert_eq!(
        life.conflict(
            "close as rectified before the answer",
            &officer(),
            close(Outcome::Rectified)
        ),
        Rule::OpinionLetterAwaitingAnswer
    );
    assert_eq!(
        life.conflict(
            "deadline missed before it passed",
            &admin(),
            Command::MarkDeadlineMissed {
                letter_id: letter_id(1)
            }
        ),
        Rule::DeadlineNotPassed
    );
    life.run("answer", &officer(), answer(1, false));
    assert_eq!(
        life.conflict("answer twice", &officer(), answer(1, true)),
        Rule::LetterNotOpen
    );
    life.run("escalate", &officer(), escalate(Tier::FiveWay));
    assert_eq!(
        life.conflict("escalate down", &officer(), escalate(Tier::FourWay)),
        Rule::TierNotHigher
    );
    life.run("close", &officer(), close(Outcome::Litigation));
    for (step, command) in [
        (
            "assign after closing",
            Command::AssignOfficer {
                officer: OFFICER.to_owned(),
            },
        ),
        ("letter after closing", issue(3, LetterKind::Reminder, None)),
        ("escalate after closing", escalate(Tier::FiveWay)),
        ("refer after closing", refer("court")),
        ("close twice", close(Outcome::Rectified)),
    ] {
        assert_eq!(life.conflict(step, &officer(), command), Rule::CaseClosed);
    }
    life.run("erase", &admin(), Command::ErasePersonalData);
    assert_eq!(
        life.conflict("erase twice", &admin(), Command::ErasePersonalData),
        Rule::PersonalDataAlreadyErased
    );
}

#[test]
fn status_deadline_and_overdue() {
    let case = given_case(&opened_and(vec![
        issued(1, LetterKind::Reminder, Some(now())),
        issued(2, LetterKind::Opinion, Some(future())),
        issued(3, LetterKind::Opinion, Some(past())),
    ]));
    assert_eq!(case.status(), CaseStatus::AwaitingReply);
    let open: Vec<_> = case.open_letters().map(|letter| letter.letter_id).collect();
    assert_eq!(
        open,
        [letter_id(2), letter_id(3)],
        "reminders are never open"
    );
    assert_eq!(case.deadline(), Some(past()));
    assert!(!case.overdue());
    assert_eq!(case.deadlines_to_mark(now()), [letter_id(3)]);

    let case = given_case(&opened_and(vec![
        issued(2, LetterKind::Opinion, Some(future())),
        issued(3, LetterKind::Opinion, Some(past())),
        missed(3, past()),
    ]));
    assert!(case.overdue());
    assert!(case.deadlines_to_mark(now()).is_empty());

    let case = given_case(&opened_and(vec![
        issued(3, LetterKind::Opinion, Some(past())),
        missed(3, past()),
        answered(3, false),
    ]));
    assert!(!case.overdue(), "an answered letter is no longer overdue");
    assert_eq!(case.deadline(), None);
    assert_eq!(case.status(), CaseStatus::Open);

    let case = given_case(&opened_and(vec![
        issued(3, LetterKind::Opinion, Some(past())),
        closed(Outcome::Withdrawn),
    ]));
    assert!(
        case.deadlines_to_mark(now()).is_empty(),
        "closed cases are not watched"
    );
}

#[test]
fn evolve_records_times_and_erasure() {
    let case = given_case(&opened_and(vec![
        assigned(OFFICER),
        CaseEvent::PersonalDataErased {},
    ]));
    assert_eq!(case.version, 3);
    assert_eq!(case.opened_at, Some(given_at(0, 3)));
    assert_eq!(case.updated_at, Some(given_at(2, 3)));
    assert_eq!(
        case.complainant,
        caseledger_domain::ComplainantRecord::Erased
    );
    assert_eq!(case.assignee.as_deref(), Some(OFFICER));
}

#[test]
fn urgency_puts_overdue_letters_first_then_those_due_within_three_days() {
    let urgency = |letters: Vec<CaseEvent>| given_case(&opened_and(letters)).urgency(now());
    assert_eq!(urgency(vec![]), Urgency::NoDeadline);
    assert_eq!(
        urgency(vec![issued(1, LetterKind::Reminder, Some(now()))]),
        Urgency::NoDeadline,
        "reminders need no answer"
    );
    assert_eq!(
        urgency(vec![issued(
            1,
            LetterKind::Opinion,
            Some(now() + Duration::days(10))
        )]),
        Urgency::Waiting
    );
    assert_eq!(
        urgency(vec![issued(1, LetterKind::Opinion, Some(now() + DUE_SOON))]),
        Urgency::DueSoon,
        "three days ahead is due soon"
    );
    assert_eq!(
        urgency(vec![issued(1, LetterKind::Opinion, Some(past()))]),
        Urgency::Overdue,
        "passed before the watcher marked it"
    );
    assert_eq!(
        urgency(vec![
            issued(1, LetterKind::Opinion, Some(past())),
            missed(1, past()),
            issued(2, LetterKind::Opinion, Some(future())),
        ]),
        Urgency::Overdue
    );
    assert_eq!(
        urgency(vec![
            issued(1, LetterKind::Opinion, Some(past())),
            answered(1, true)
        ]),
        Urgency::NoDeadline,
        "an answered letter makes nothing urgent"
    );
    assert!(Urgency::Overdue < Urgency::DueSoon && Urgency::DueSoon < Urgency::Waiting);
}

/// The office's policy with sign-off by a supervisor.
fn with_sign_off() -> Policy {
    Policy {
        letter_approval: caseledger_domain::LetterApproval::Supervisor,
        ..Policy::default()
    }
}

/// Letter `n` as drafted by [`issue`] under [`with_sign_off`].
fn drafted(n: u128, kind: LetterKind) -> CaseEvent {
    CaseEvent::LetterDrafted {
        letter_id: letter_id(n),
        kind,
        recipient: "Fucheng Cement Co., Ltd.".to_owned(),
        content: "Provide respirators within 15 working days.".to_owned(),
        deadline: None,
        department: None,
    }
}

/// A recommendation letter `n` to `department`, drafted.
fn drafted_recommendation(n: u128, department: &str) -> CaseEvent {
    CaseEvent::LetterDrafted {
        letter_id: letter_id(n),
        kind: LetterKind::Recommendation,
        recipient: "Fucheng Cement Co., Ltd.".to_owned(),
        content: "Provide respirators within 15 working days.".to_owned(),
        deadline: None,
        department: Some(dept(department)),
    }
}

fn approve(n: u128) -> Command {
    Command::ApproveLetter {
        letter_id: letter_id(n),
        number: number(n),
    }
}

fn send_back(n: u128, reason: &str) -> Command {
    Command::ReturnLetter {
        letter_id: letter_id(n),
        reason: reason.to_owned(),
    }
}

#[test]
fn sign_off() {
    use Then::*;
    let returned = CaseEvent::LetterReturned {
        letter_id: letter_id(1),
        reason: "Name the respirator standard.".to_owned(),
    };
    run_under(
        &with_sign_off(),
        vec![
            scenario(
                "an opinion letter is drafted, without a number",
                opened_and(vec![]),
                officer(),
                issue(1, LetterKind::Opinion, None),
                Events(vec![drafted(1, LetterKind::Opinion)]),
            ),
            scenario(
                "a reminder needs no sign-off",
                opened_and(vec![]),
                officer(),
                issue(1, LetterKind::Reminder, None),
                EventType("SupervisionLetterIssued"),
            ),
            scenario(
                "a draft is checked as a letter is",
                opened_and(vec![]),
                officer(),
                Command::IssueLetter {
                    letter_id: letter_id(1),
                    number: String::new(),
                    kind: LetterKind::Opinion,
                    recipient: " ".to_owned(),
                    content: "Provide respirators.".to_owned(),
                    deadline: Some(past()),
                    department: None,
                },
                Invalid(vec!["recipient", "deadline"]),
            ),
            scenario(
                "a supervisor approves: numbered, with the kind's deadline rule",
                opened_and(vec![drafted(1, LetterKind::Opinion)]),
                supervisor(),
                approve(1),
                Events(vec![CaseEvent::LetterApproved {
                    letter_id: letter_id(1),
                    number: number(1),
                    kind: LetterKind::Opinion,
                    department: None,
                    deadline: None,
                    deadline_rule: Some(fifteen_working_days_from_service()),
                    last_day: None,
                    document_sha256: None,
                }]),
            ),
            scenario(
                "an officer signs nothing off",
                opened_and(vec![drafted(1, LetterKind::Opinion)]),
                officer(),
                approve(1),
                Forbidden,
            ),
            scenario(
                "an officer sends nothing back",
                opened_and(vec![drafted(1, LetterKind::Opinion)]),
                officer(),
                send_back(1, "No."),
                Forbidden,
            ),
            scenario(
                "a supervisor sends a draft back with reasons",
                opened_and(vec![drafted(1, LetterKind::Opinion)]),
                supervisor(),
                send_back(1, " Name the respirator standard. "),
                Events(vec![returned.clone()]),
            ),
            scenario(
                "sending back needs a reason",
                opened_and(vec![drafted(1, LetterKind::Opinion)]),
                admin(),
                send_back(1, ""),
                Invalid(vec!["reason"]),
            ),
            scenario(
                "a returned draft is not approved",
                opened_and(vec![drafted(1, LetterKind::Opinion), returned.clone()]),
                supervisor(),
                approve(1),
                Conflict(Rule::LetterDraftReturned),
            ),
            scenario(
                "an approved letter is not approved again",
                opened_and(vec![
                    drafted(1, LetterKind::Opinion),
                    CaseEvent::LetterApproved {
                        letter_id: letter_id(1),
                        number: number(1),
                        kind: LetterKind::Opinion,
                        department: None,
                        deadline: None,
                        deadline_rule: None,
                        last_day: None,
                        document_sha256: None,
                    },
                ]),
                supervisor(),
                approve(1),
                Conflict(Rule::LetterAlreadyIssued),
            ),
            scenario(
                "an unknown draft is not found",
                opened_and(vec![]),
                supervisor(),
                approve(9),
                NotFound("letter draft"),
            ),
            scenario(
                "a draft's id is not drafted again",
                opened_and(vec![drafted(1, LetterKind::Opinion)]),
                officer(),
                issue(1, LetterKind::Opinion, None),
                Conflict(Rule::LetterAlreadyIssued),
            ),
            scenario(
                "a recommendation still needs an unheeded opinion letter on approval",
                opened_and(vec![drafted_recommendation(2, "hrss")]),
                supervisor(),
                approve(2),
                Conflict(Rule::RecommendationNeedsUnheededOpinion),
            ),
        ],
    );
}

#[test]
fn an_approved_draft_is_a_letter_and_a_returned_one_stays_listed() {
    let approved_recommendation = CaseEvent::LetterApproved {
        letter_id: letter_id(2),
        number: number(2),
        kind: LetterKind::Recommendation,
        department: Some(dept("hrss")),
        deadline: None,
        deadline_rule: None,
        last_day: None,
        document_sha256: None,
    };
    let case = given_case(&opened_and(vec![
        drafted(1, LetterKind::Opinion),
        CaseEvent::LetterReturned {
            letter_id: letter_id(1),
            reason: "Redo.".to_owned(),
        },
        drafted_recommendation(2, "hrss"),
        approved_recommendation.clone(),
    ]));
    assert_eq!(case.drafts.len(), 1, "the returned draft stays");
    assert_eq!(
        case.drafts[0].returned.as_ref().expect("returned").reason,
        "Redo."
    );
    let letter = case.letter(letter_id(2)).expect("approved");
    assert_eq!(letter.number, number(2));
    assert_eq!(
        letter.content,
        "Provide respirators within 15 working days."
    );
    assert!(case.is_shared_with(&dept("hrss")), "approval shares it");
    assert_eq!(approved_recommendation.shares_with(), vec![&dept("hrss")]);
    assert!(
        drafted(1, LetterKind::Opinion).is_internal(),
        "drafts stay in the union"
    );
}

fn attach(id: u128, sha: char, personal: bool) -> Command {
    Command::AddAttachment {
        attachment_id: attachment_id(id),
        filename: if personal {
            FileName::Sealed(SealedPersonalData {
                sealed: "c2VhbGVk".to_owned(),
            })
        } else {
            FileName::Plain("payroll-2026-03.pdf".to_owned())
        },
        content_type: "application/pdf".to_owned(),
        size: 1024,
        sha256: sha.to_string().repeat(64),
        personal,
        shared: !personal,
    }
}

fn attached(id: u128, sha: char, personal: bool) -> CaseEvent {
    let Command::AddAttachment {
        attachment_id,
        filename,
        content_type,
        size,
        sha256,
        personal,
        shared,
    } = attach(id, sha, personal)
    else {
        unreachable!("attach makes AddAttachment")
    };
    CaseEvent::AttachmentAdded {
        attachment_id,
        filename,
        content_type,
        size,
        sha256,
        personal,
        shared,
    }
}

/// Serve letter 1 now, with attachment `receipt` as the receipt of service.
fn with_receipt(receipt: u128) -> Command {
    let Command::ServeLetter {
        letter_id,
        method,
        served_at,
        received_by,
        refused,
        tracking_number,
        ..
    } = serve(1, now())
    else {
        unreachable!("serve makes ServeLetter")
    };
    Command::ServeLetter {
        letter_id,
        method,
        served_at,
        received_by,
        refused,
        tracking_number,
        receipt_attachment_id: Some(attachment_id(receipt)),
    }
}

fn withdraw(id: u128, reason: &str) -> Command {
    Command::WithdrawAttachment {
        attachment_id: attachment_id(id),
        reason: reason.to_owned(),
    }
}

#[test]
fn attachments() {
    use Then::*;
    let withdrawn = CaseEvent::AttachmentWithdrawn {
        attachment_id: attachment_id(1),
        reason: "Another workshop.".to_owned(),
        personal: false,
        shared: true,
    };
    run(vec![
        scenario(
            "an officer attaches a file",
            opened_and(vec![]),
            officer(),
            attach(1, 'a', false),
            Events(vec![attached(1, 'a', false)]),
        ),
        scenario(
            "a personal file's name is sealed",
            opened_and(vec![]),
            supervisor(),
            attach(1, 'a', true),
            Events(vec![attached(1, 'a', true)]),
        ),
        scenario(
            "evidence may come after closing",
            opened_and(vec![closed(Outcome::Rectified)]),
            officer(),
            attach(1, 'a', false),
            EventType("AttachmentAdded"),
        ),
        scenario(
            "the same bytes are attached once",
            opened_and(vec![attached(1, 'a', false)]),
            officer(),
            attach(2, 'a', false),
            Conflict(Rule::AttachmentAlreadyAdded),
        ),
        scenario(
            "withdrawn bytes may be attached again",
            opened_and(vec![attached(1, 'a', false), withdrawn.clone()]),
            officer(),
            attach(2, 'a', false),
            EventType("AttachmentAdded"),
        ),
        scenario(
            "a bad name, type and digest are named",
            opened_and(vec![]),
            officer(),
            Command::AddAttachment {
                attachment_id: attachment_id(1),
                filename: FileName::Plain("../etc/passwd".to_owned()),
                content_type: "pdf".to_owned(),
                size: 1,
                sha256: "ABC".to_owned(),
                personal: false,
                shared: false,
            },
            Invalid(vec!["filename", "content_type", "sha256"]),
        ),
        scenario(
            "a personal file's name is never recorded in clear",
            opened_and(vec![]),
            officer(),
            Command::AddAttachment {
                attachment_id: attachment_id(1),
                filename: FileName::Plain("张三工资条.pdf".to_owned()),
                content_type: "application/pdf".to_owned(),
                size: 1,
                sha256: "a".repeat(64),
                personal: true,
                shared: false,
            },
            Invalid(vec!["filename"]),
        ),
        scenario(
            "no personal files after erasure",
            opened_and(vec![CaseEvent::PersonalDataErased {}]),
            officer(),
            attach(1, 'a', true),
            Conflict(Rule::PersonalDataErased),
        ),
        scenario(
            "a case without a complainant but with a personal file can be erased",
            vec![
                CaseEvent::CaseOpened {
                    title: "No complainant".to_owned(),
                    category: caseledger_domain::Category::WageArrears,
                    description: "Anonymous tip.".to_owned(),
                    source: caseledger_domain::Source::Inspection,
                    employer: Employer::default(),
                    region: None,
                    industry: None,
                    workers_affected: None,
                    complainant: None,
                },
                attached(1, 'a', true),
            ],
            admin(),
            Command::ErasePersonalData,
            Events(vec![CaseEvent::PersonalDataErased {}]),
        ),
        scenario(
            "a letter's receipt of service is one of the case's files",
            opened_and(vec![opinion_awaiting_service(), attached(1, 'a', false)]),
            officer(),
            with_receipt(1),
            EventType("LetterServed"),
        ),
        scenario(
            "a receipt must be attached first",
            opened_and(vec![opinion_awaiting_service()]),
            officer(),
            with_receipt(9),
            Invalid(vec!["receipt_attachment_id"]),
        ),
        scenario(
            "an auditor attaches nothing",
            opened_and(vec![]),
            auditor(),
            attach(1, 'a', false),
            Forbidden,
        ),
        scenario(
            "a partner attaches nothing",
            opened_and(vec![]),
            partner("hrss"),
            attach(1, 'a', false),
            Forbidden,
        ),
        scenario(
            "an attachment is withdrawn with a reason, keeping its flags",
            opened_and(vec![attached(1, 'a', false)]),
            officer(),
            withdraw(1, " Another workshop. "),
            Events(vec![withdrawn.clone()]),
        ),
        scenario(
            "withdrawal needs a reason",
            opened_and(vec![attached(1, 'a', false)]),
            officer(),
            withdraw(1, " "),
            Invalid(vec!["reason"]),
        ),
        scenario(
            "an attachment is withdrawn once",
            opened_and(vec![attached(1, 'a', false), withdrawn.clone()]),
            officer(),
            withdraw(1, "Again."),
            Conflict(Rule::AttachmentAlreadyWithdrawn),
        ),
        scenario(
            "an unknown attachment is not found",
            opened_and(vec![]),
            officer(),
            withdraw(9, "Why."),
            NotFound("attachment"),
        ),
    ]);
    let case = given_case(&opened_and(vec![
        attached(1, 'a', false),
        withdrawn.clone(),
        attached(2, 'b', true),
    ]));
    assert_eq!(case.attachments.len(), 2, "a withdrawn file stays listed");
    assert!(case.attachments[0].withdrawn.is_some());
    assert!(
        !withdrawn.is_internal(),
        "a shared file's events reach partners"
    );
    assert!(
        attached(2, 'b', true).is_internal(),
        "a personal file's never"
    );
}
