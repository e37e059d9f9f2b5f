//! Property tests of the wire format's request types (beside their routes in
//! `caseledger_api::routes`) and of the JSON
//! decoding every body goes through (`caseledger_api::extract::decode_json`):
//!
//! - arbitrary JSON — and arbitrary bytes — never panic, and are either accepted or refused
//!   with a 400/422 problem whose `errors` name at least one field;
//! - valid generated requests decode, and convert into the domain's input (opening a case) or
//!   parse their vocabulary (letters, escalations, closing) with every field intact.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on purpose; an unwrap is an assertion here"
)]

use caseledger_api::extract::decode_json;
use caseledger_api::routes::cases::wire::OpenCaseRequest;
use caseledger_api::routes::commands::wire::{
    AssignRequest, CloseRequest, EscalateRequest, FeedbackRequest, FindingRequest, LetterRequest,
    LetterResponseRequest, NoteRequest, ReferRequest, ReopenRequest,
};
use caseledger_api::routes::tokens::CreateTokenRequest;
use caseledger_api::vocabulary::FieldErrors;
use caseledger_api::ApiError;
use caseledger_domain::{Category, LetterKind, Outcome, Source, Tier};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

/// Field names of every request type, so generated objects often hit real fields with values
/// of the wrong type.
const FIELDS: &[&str] = &[
    "title",
    "category",
    "description",
    "source",
    "employer",
    "name",
    "credit_code",
    "credit_code_unverified",
    "region",
    "industry",
    "workers_affected",
    "complainant",
    "phone",
    "id_number",
    "officer",
    "summary",
    "hazard",
    "kind",
    "recipient",
    "content",
    "deadline",
    "department",
    "rectified",
    "tier",
    "departments",
    "reason",
    "outcome",
    "text",
    "role",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(FIELDS).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        proptest::sample::select(
            [
                Category::NAMES,
                Source::NAMES,
                LetterKind::NAMES,
                Tier::NAMES,
                Outcome::NAMES
            ]
            .concat()
        )
        .prop_map(|name| Value::String(name.to_owned())),
        Just(json!("2099-01-01T00:00:00Z")),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..10)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A refusal is a 400 or a 422 problem that names at least one non-empty field.
fn assert_names_a_field(error: &ApiError, body: &str) {
    let problem = error.problem();
    assert!(
        problem.status == 400 || problem.status == 422,
        "status {} for {body}",
        problem.status
    );
    assert!(
        !problem.errors.is_empty() && problem.errors.iter().all(|e| !e.field.is_empty()),
        "the problem names no field for {body}: {problem:?}"
    );
}

fn accepted_or_named<T: DeserializeOwned>(bytes: &[u8]) {
    if let Err(error) = decode_json::<T>(bytes) {
        assert_names_a_field(&error, &String::from_utf8_lossy(bytes));
    }
}

fn every_request_type(bytes: &[u8]) {
    accepted_or_named::<OpenCaseRequest>(bytes);
    accepted_or_named::<AssignRequest>(bytes);
    accepted_or_named::<FindingRequest>(bytes);
    accepted_or_named::<LetterRequest>(bytes);
    accepted_or_named::<LetterResponseRequest>(bytes);
    accepted_or_named::<EscalateRequest>(bytes);
    accepted_or_named::<ReferRequest>(bytes);
    accepted_or_named::<FeedbackRequest>(bytes);
    accepted_or_named::<NoteRequest>(bytes);
    accepted_or_named::<CloseRequest>(bytes);
    accepted_or_named::<ReopenRequest>(bytes);
    accepted_or_named::<CreateTokenRequest>(bytes);
}

/// Text without the characters JSON would have to escape, for readable generated requests.
fn text() -> impl Strategy<Value = String> {
    "[^\u{0}-\u{1f}]{0,60}"
}

fn option<T: std::fmt::Debug + Clone + 'static>(
    strategy: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(strategy)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_json_is_accepted_or_refused_naming_a_field(value in json_value()) {
        every_request_type(&serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn arbitrary_bytes_are_accepted_or_refused_naming_a_field(
        bytes in proptest::collection::vec(any::<u8>(), 0..200)
    ) {
        every_request_type(&bytes);
    }

    #[test]
    fn a_valid_open_case_request_reaches_the_domain_intact(
        title in text(),
        category in proptest::sample::select(Category::NAMES),
        description in text(),
        source in proptest::sample::select(Source::NAMES),
        employer in text(),
        credit_code in option(text()),
        unverified in option(any::<bool>()),
        region in option(text()),
        industry in option(text()),
        workers in option(any::<u32>()),
        complainant in option((text(), option(text()), option(text()))),
    ) {
        let mut body = json!({
            "title": title, "category": category, "description": description,
            "source": source, "employer": {"name": employer},
        });
        if let Some(code) = &credit_code { body["employer"]["credit_code"] = json!(code); }
        if let Some(flag) = unverified { body["employer"]["credit_code_unverified"] = json!(flag); }
        if let Some(region) = &region { body["region"] = json!(region); }
        if let Some(industry) = &industry { body["industry"] = json!(industry); }
        if let Some(workers) = workers { body["workers_affected"] = json!(workers); }
        if let Some((name, phone, id_number)) = &complainant {
            body["complainant"] = json!({"name": name, "phone": phone, "id_number": id_number});
        }
        let request: OpenCaseRequest = decode_json(&serde_json::to_vec(&body).unwrap()).unwrap();
        let input = request.into_input().unwrap();
        prop_assert_eq!(&input.title, &title);
        prop_assert_eq!(input.category.as_str(), category);
        prop_assert_eq!(&input.description, &description);
        prop_assert_eq!(input.source.as_str(), source);
        prop_assert_eq!(&input.employer.name, &employer);
        prop_assert_eq!(&input.employer.credit_code, &credit_code);
        prop_assert_eq!(input.employer.credit_code_unverified, unverified.unwrap_or(false));
        prop_assert_eq!(&input.region, &region);
        prop_assert_eq!(&input.industry, &industry);
        prop_assert_eq!(input.workers_affected, workers);
        match (&input.complainant, &complainant) {
            (None, None) => {}
            (Some(got), Some((name, phone, id_number))) => {
                prop_assert_eq!(&got.name, name);
                prop_assert_eq!(&got.phone, phone);
                prop_assert_eq!(&got.id_number, id_number);
            }
            _ => prop_assert!(false, "the complainant was lost or invented"),
        }
    }

    #[test]
    fn an_unknown_vocabulary_value_is_refused_naming_its_field(
        category in "[a-z_]{1,20}",
        source in "[a-z_]{1,20}",
    ) {
        prop_assume!(!Category::NAMES.contains(&category.as_str()));
        let body = json!({
            "title": "t", "category": category, "description": "d",
            "source": source, "employer": {"name": "e"},
        });
        let request: OpenCaseRequest = decode_json(&serde_json::to_vec(&body).unwrap()).unwrap();
        let error = request.into_input().unwrap_err();
        let problem = error.problem();
        prop_assert_eq!(problem.status, 422);
        prop_assert!(problem.errors.iter().any(|e| e.field == "category"));
        prop_assert_eq!(
            problem.errors.iter().any(|e| e.field == "source"),
            !Source::NAMES.contains(&source.as_str())
        );
    }

    #[test]
    fn valid_letter_escalation_and_closing_requests_keep_their_fields(
        kind in proptest::sample::select(LetterKind::NAMES),
        recipient in text(),
        content in text(),
        department in option("[a-z][a-z0-9_]{0,20}"),
        tier in proptest::sample::select(Tier::NAMES),
        departments in option(proptest::collection::vec("[a-z][a-z0-9_]{0,20}", 0..5)),
        reason in text(),
        outcome in proptest::sample::select(Outcome::NAMES),
        summary in text(),
    ) {
        let letter = json!({
            "kind": kind, "recipient": recipient, "content": content,
            "deadline": "2099-01-01T00:00:00Z", "department": department,
        });
        let letter: LetterRequest = decode_json(&serde_json::to_vec(&letter).unwrap()).unwrap();
        let mut errors = FieldErrors::default();
        let parsed_kind = errors.parse::<LetterKind>("kind", &letter.kind);
        let parsed_department = errors.department("department", letter.department.as_deref());
        prop_assert_eq!(parsed_kind.unwrap().as_str(), kind);
        prop_assert_eq!(parsed_department.map(|d| d.as_str().to_owned()), department);
        prop_assert_eq!(&letter.recipient, &recipient);
        prop_assert_eq!(&letter.content, &content);
        prop_assert_eq!(letter.deadline.unwrap().to_rfc3339(), "2099-01-01T00:00:00+00:00");
        errors.into_bad_request().unwrap();

        let escalate = json!({"tier": tier, "departments": departments, "reason": reason});
        let escalate: EscalateRequest =
            decode_json(&serde_json::to_vec(&escalate).unwrap()).unwrap();
        prop_assert_eq!(escalate.tier.parse::<Tier>().unwrap().as_str(), tier);
        prop_assert_eq!(&escalate.departments, &departments);
        prop_assert_eq!(&escalate.reason, &reason);

        let close = json!({"outcome": outcome, "summary": summary});
        let close: CloseRequest = decode_json(&serde_json::to_vec(&close).unwrap()).unwrap();
        prop_assert_eq!(close.outcome.parse::<Outcome>().unwrap().as_str(), outcome);
        prop_assert_eq!(&close.summary, &summary);
    }
}

/// Found by `arbitrary_json_is_accepted_or_refused_naming_a_field`: an unknown member with an
/// empty name was refused with a problem naming the field "" (nothing at all).
#[test]
fn an_unknown_member_with_an_empty_name_names_its_object() {
    let top = decode_json::<NoteRequest>(br#"{"": null}"#).unwrap_err();
    assert_names_a_field(&top, "top level");
    assert_eq!(top.problem().errors[0].field, "body");
    let nested = decode_json::<OpenCaseRequest>(
        br#"{"title":"t","category":"wages_unpaid","description":"d","source":"hotline","employer":{"name":"e","":1}}"#,
    )
    .unwrap_err();
    assert_names_a_field(&nested, "nested");
    assert_eq!(nested.problem().errors[0].field, "employer");
}
