//! Vocabulary fields on the wire: they arrive as strings and are parsed into domain values
//! here ([`FieldErrors`]), so an unknown value is a 422 (or, in a query, a 400) that names the
//! field and lists the accepted values; and their OpenAPI schemas, which list those values.
//!
//! The request and response types themselves live beside their routes (`routes/*`): the wire
//! is a boundary of its own, deliberately not the domain's types.

use std::str::FromStr;

use caseledger_domain::{
    Category, Department, LetterKind, Outcome, Role, ServiceMethod, Source, Tier, UnknownValueError,
};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::error::{ApiError, ProblemField};

/// Collects field errors while a request is turned into an app input.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<ProblemField>);

impl FieldErrors {
    /// Parses a vocabulary value, recording a failure against `field`.
    pub fn parse<T: FromStr<Err = UnknownValueError>>(
        &mut self,
        field: &str,
        text: &str,
    ) -> Option<T> {
        match text.parse() {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(ProblemField {
                    field: field.into(),
                    message: error.to_string(),
                });
                None
            }
        }
    }

    /// Parses an optional department name.
    pub fn department(&mut self, field: &str, text: Option<&str>) -> Option<Department> {
        let text = text?;
        match Department::new(text) {
            Ok(department) => Some(department),
            Err(error) => {
                self.0.push(ProblemField {
                    field: field.into(),
                    message: error.to_string(),
                });
                None
            }
        }
    }

    /// Parses the role and optional department of a new token or account: a 422 naming each
    /// bad one (the app checks that they fit together).
    pub fn role_and_department(
        role: &str,
        department: Option<&str>,
    ) -> Result<(Role, Option<Department>), ApiError> {
        let mut errors = FieldErrors::default();
        let role = errors.parse::<Role>("role", role);
        let department = errors.department("department", department);
        errors.finish(|| role.map(|role| (role, department)))
    }

    /// For query parameters: a 400 naming every bad parameter, if any failed.
    pub fn into_bad_request(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let detail = self
            .0
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message))
            .collect::<Vec<_>>()
            .join("; ");
        Err(ApiError::bad_request_fields(detail, self.0))
    }

    /// Ok with `value` when nothing failed, else a 422 naming every bad field.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, ApiError> {
        if !self.0.is_empty() {
            return Err(ApiError::invalid(self.0));
        }
        value().ok_or_else(|| ApiError::invalid(vec![]))
    }
}

fn vocabulary_schema(description: &str, names: &[&str]) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(names.iter().copied()))
        .into()
}

/// OpenAPI schema of a category.
pub fn category_schema() -> Schema {
    vocabulary_schema("What the case is about.", Category::NAMES)
}
/// OpenAPI schema of a source.
pub fn source_schema() -> Schema {
    vocabulary_schema("How the case reached the union.", Source::NAMES)
}
/// OpenAPI schema of a letter kind.
pub fn letter_kind_schema() -> Schema {
    vocabulary_schema(
        "reminder (提示函), opinion letter to the employer (意见书) or recommendation letter to a government department (建议书).",
        LetterKind::NAMES,
    )
}
/// OpenAPI schema of how a letter was served.
pub fn service_method_schema() -> Schema {
    vocabulary_schema(
        "How the letter was served (送达): in person, by post (with a tracking number), left at the premises (留置送达) or electronically.",
        ServiceMethod::NAMES,
    )
}
/// OpenAPI schema of a tier of the joint mechanism.
pub fn tier_schema() -> Schema {
    vocabulary_schema(
        "Tier of the joint mechanism (三方驻会、四方协作、五方联动); tiers only go up.",
        Tier::NAMES,
    )
}
/// OpenAPI schema of a closing outcome.
pub fn outcome_schema() -> Schema {
    vocabulary_schema("How the case ended.", Outcome::NAMES)
}
/// OpenAPI schema of a role.
pub fn role_schema() -> Schema {
    vocabulary_schema("What a token may do.", Role::NAMES)
}
/// OpenAPI schema of a case status.
pub fn status_schema() -> Schema {
    vocabulary_schema(
        "Where the case stands.",
        caseledger_domain::CaseStatus::NAMES,
    )
}

/// OpenAPI schema of an optional outcome.
pub fn outcome_schema_nullable() -> Schema {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .description(Some("How the case ended; null while open."))
        .enum_values(Some(Outcome::NAMES.iter().copied().map(Some).chain([None])))
        .into()
}
