//! Shared fixtures of the domain's test binaries: a fixed clock, actors, ids and event builders.
//!
//! Owns nothing but test data; the rules under test live in the crate.

// Each test binary uses a different part of these fixtures.
#![allow(dead_code)]

use caseledger_domain::{
    Actor, Calendar, CalendarYear, CaseEvent, Category, Command, DeadlineRule, Department,
    Employer, EmployerInput, LetterId, LetterKind, Outcome, PeriodStart, PeriodUnit, Role,
    SealedPersonalData, ServiceMethod, Source, Tier,
};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

/// "Now" of every decision in the table tests.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0)
        .single()
        .expect("a valid fixed time")
}

/// Today, as the app would pass it.
pub fn today() -> NaiveDate {
    now().date_naive()
}

/// 15 working days from service: the default rule of opinion and recommendation letters.
pub fn fifteen_working_days_from_service() -> DeadlineRule {
    DeadlineRule {
        amount: 15,
        unit: PeriodUnit::WorkingDays,
        from: PeriodStart::Served,
    }
}

/// Serve letter `n` in person at `served_at`.
pub fn serve(n: u128, served_at: DateTime<Utc>) -> Command {
    Command::ServeLetter {
        letter_id: letter_id(n),
        method: ServiceMethod::InPerson,
        served_at,
        received_by: Some("Li Wei, site manager".to_owned()),
        refused: false,
        tracking_number: None,
        receipt_attachment_id: None,
    }
}

/// The office's time zone in the tests: UTC+8, as China's.
pub fn office() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("a valid offset")
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("a valid date")
}

/// A calendar of the tests: 2026 (National Day 1–7 October off, 20 September and 10 October
/// worked) and 2027 (New Year's Day off), named `test-calendar`.
pub fn calendar() -> Calendar {
    let y2026 = CalendarYear::new(
        2026,
        (1..=7)
            .map(|day| date(&format!("2026-10-{day:02}")))
            .collect(),
        [date("2026-09-20"), date("2026-10-10")].into(),
    )
    .expect("a valid 2026");
    let y2027 = CalendarYear::new(2027, [date("2027-01-01")].into(), Default::default())
        .expect("a valid 2027");
    Calendar::new("test-calendar", [y2026, y2027]).expect("a valid calendar")
}

/// The time of the `index`th given event: hours before now, oldest first.
pub fn given_at(index: usize, count: usize) -> DateTime<Utc> {
    let hours_before = i64::try_from(count - index).expect("few events");
    now() - Duration::hours(hours_before)
}

/// A deadline already passed at `now()`.
pub fn past() -> DateTime<Utc> {
    now() - Duration::days(1)
}

/// A deadline still ahead at `now()`.
pub fn future() -> DateTime<Utc> {
    now() + Duration::days(14)
}

pub const OFFICER: &str = "Wang Fang";
pub const OTHER_OFFICER: &str = "Zhao Lei";

pub fn actor(name: &str, role: Role, department: Option<&str>) -> Actor {
    Actor {
        name: name.to_owned(),
        role,
        department: department.map(dept),
    }
}

pub fn officer() -> Actor {
    actor(OFFICER, Role::Officer, None)
}

pub fn other_officer() -> Actor {
    actor(OTHER_OFFICER, Role::Officer, None)
}

pub fn supervisor() -> Actor {
    actor("Chen Jing", Role::Supervisor, None)
}

pub fn admin() -> Actor {
    actor("Admin", Role::Admin, None)
}

pub fn auditor() -> Actor {
    actor("Audit Office", Role::Auditor, None)
}

pub fn partner(department: &str) -> Actor {
    actor(department, Role::Partner, Some(department))
}

pub fn dept(name: &str) -> Department {
    Department::new(name).expect("a valid department name in a test")
}

pub fn letter_id(n: u128) -> LetterId {
    LetterId(Uuid::from_u128(n))
}

pub fn attachment_id(n: u128) -> caseledger_domain::AttachmentId {
    caseledger_domain::AttachmentId(Uuid::from_u128(n))
}

pub fn number(n: u128) -> String {
    format!("MY-2026-{n:04}")
}

pub fn sealed() -> SealedPersonalData {
    SealedPersonalData {
        sealed: "c2VhbGVkIGJ5IHRoZSBhcHA=".to_owned(),
    }
}

pub const VALID_CODE: &str = "91110000600037341L";
pub const PILOT_ERA_CODE: &str = "91350211M0000XUF46";

// ---- commands ----

pub fn open_case() -> Command {
    Command::OpenCase {
        title: "  Missing dust masks at the Fucheng cement plant ".to_owned(),
        category: Category::PpeShortfall,
        description: "Forty workers grind clinker without respirators.".to_owned(),
        source: Source::Inspection,
        employer: EmployerInput {
            name: "Fucheng Cement Co., Ltd.".to_owned(),
            credit_code: Some(" 91110000-600037341l ".to_owned()),
            credit_code_unverified: false,
        },
        region: Some("Fucheng District".to_owned()),
        industry: Some("building_materials".to_owned()),
        workers_affected: Some(40),
        complainant: Some(sealed()),
    }
}

pub fn open_case_with_code(code: Option<&str>, unverified: bool) -> Command {
    match open_case() {
        Command::OpenCase {
            title,
            category,
            description,
            source,
            employer,
            region,
            industry,
            workers_affected,
            complainant,
        } => Command::OpenCase {
            title,
            category,
            description,
            source,
            employer: EmployerInput {
                credit_code: code.map(str::to_owned),
                credit_code_unverified: unverified,
                ..employer
            },
            region,
            industry,
            workers_affected,
            complainant,
        },
        other => other,
    }
}

pub fn issue(n: u128, kind: LetterKind, deadline: Option<DateTime<Utc>>) -> Command {
    Command::IssueLetter {
        letter_id: letter_id(n),
        number: number(n),
        kind,
        recipient: "Fucheng Cement Co., Ltd.".to_owned(),
        content: "Provide respirators within 15 working days.".to_owned(),
        deadline,
        department: None,
    }
}

pub fn recommend(n: u128, department: &str) -> Command {
    Command::IssueLetter {
        letter_id: letter_id(n),
        number: number(n),
        kind: LetterKind::Recommendation,
        recipient: "Fucheng Human Resources and Social Security Bureau".to_owned(),
        content: "The employer refused the opinion letter; please open a case.".to_owned(),
        deadline: None,
        department: Some(dept(department)),
    }
}

pub fn answer(n: u128, rectified: bool) -> Command {
    Command::AnswerLetter {
        letter_id: letter_id(n),
        rectified,
        content: "We disagree with the findings.".to_owned(),
    }
}

pub fn escalate(tier: Tier) -> Command {
    Command::Escalate {
        tier,
        departments: None,
        reason: "The employer ignores the recommendation.".to_owned(),
    }
}

pub fn refer(department: &str) -> Command {
    Command::Refer {
        department: dept(department),
        reason: "Labour inspection has the power to order payment.".to_owned(),
    }
}

pub fn feedback() -> Command {
    Command::RecordFeedback {
        content: "Case opened under inspection order 2026-117.".to_owned(),
        outcome: Some("investigating".to_owned()),
    }
}

pub fn close(outcome: Outcome) -> Command {
    Command::Close {
        outcome,
        summary: "Respirators issued; verified on site.".to_owned(),
    }
}

pub fn reopen() -> Command {
    Command::Reopen {
        reason: "Workers report the respirators were taken back.".to_owned(),
    }
}

// ---- events ----

pub fn opened() -> CaseEvent {
    CaseEvent::CaseOpened {
        title: "Missing dust masks at the Fucheng cement plant".to_owned(),
        category: Category::PpeShortfall,
        description: "Forty workers grind clinker without respirators.".to_owned(),
        source: Source::Inspection,
        employer: Employer {
            name: "Fucheng Cement Co., Ltd.".to_owned(),
            credit_code: Some(VALID_CODE.to_owned()),
            credit_code_unverified: false,
        },
        region: Some("Fucheng District".to_owned()),
        industry: Some("building_materials".to_owned()),
        workers_affected: Some(40),
        complainant: Some(sealed()),
    }
}

pub fn opened_without_complainant() -> CaseEvent {
    match opened() {
        CaseEvent::CaseOpened {
            title,
            category,
            description,
            source,
            employer,
            region,
            industry,
            workers_affected,
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
            complainant: None,
        },
        other => other,
    }
}

pub fn assigned(officer: &str) -> CaseEvent {
    CaseEvent::OfficerAssigned {
        officer: officer.to_owned(),
        previous: None,
    }
}

pub fn finding() -> CaseEvent {
    CaseEvent::FindingRecorded {
        summary: "No respirators in the grinding hall.".to_owned(),
        hazard: Some("silica dust".to_owned()),
    }
}

pub fn issued(n: u128, kind: LetterKind, deadline: Option<DateTime<Utc>>) -> CaseEvent {
    CaseEvent::SupervisionLetterIssued {
        letter_id: letter_id(n),
        number: number(n),
        kind,
        recipient: "Fucheng Cement Co., Ltd.".to_owned(),
        content: "Provide respirators within 15 working days.".to_owned(),
        deadline,
        department: None,
        deadline_rule: None,
        last_day: None,
        document_sha256: None,
    }
}

pub fn recommended(n: u128, department: &str) -> CaseEvent {
    CaseEvent::SupervisionLetterIssued {
        letter_id: letter_id(n),
        number: number(n),
        kind: LetterKind::Recommendation,
        recipient: "Fucheng Human Resources and Social Security Bureau".to_owned(),
        content: "The employer refused the opinion letter; please open a case.".to_owned(),
        deadline: None,
        department: Some(dept(department)),
        deadline_rule: None,
        last_day: None,
        document_sha256: None,
    }
}

pub fn answered(n: u128, rectified: bool) -> CaseEvent {
    CaseEvent::LetterAnswered {
        letter_id: letter_id(n),
        rectified,
        content: "We disagree with the findings.".to_owned(),
    }
}

pub fn missed(n: u128, deadline: DateTime<Utc>) -> CaseEvent {
    CaseEvent::LetterDeadlineMissed {
        letter_id: letter_id(n),
        deadline,
    }
}

pub fn escalated(tier: Tier, departments: &[&str]) -> CaseEvent {
    CaseEvent::EscalatedToJointMechanism {
        tier,
        departments: departments.iter().copied().map(dept).collect(),
        reason: "The employer ignores the recommendation.".to_owned(),
        previous_tier: None,
    }
}

pub fn referred(department: &str) -> CaseEvent {
    CaseEvent::ReferredToDepartment {
        department: dept(department),
        reason: "Labour inspection has the power to order payment.".to_owned(),
    }
}

pub fn closed(outcome: Outcome) -> CaseEvent {
    CaseEvent::CaseClosed {
        outcome,
        summary: "Respirators issued; verified on site.".to_owned(),
    }
}

pub fn reopened() -> CaseEvent {
    CaseEvent::CaseReopened {
        reason: "Workers report the respirators were taken back.".to_owned(),
    }
}
