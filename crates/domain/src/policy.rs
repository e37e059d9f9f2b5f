//! Local configuration that the rules consult: partner departments, joint-mechanism tier
//! members, the deadline rule of each letter kind and the letter-number template.
//!
//! This module owns the [`Policy`] value, its defaults (contracts §4 and §9), the [`Department`]
//! name type and the [`NumberTemplate`] of letter numbers. It does not read configuration files
//! (the binary maps its TOML onto a `Policy`) and it does not allocate letter numbers (the app
//! keeps each issuer's, kind's and year's sequence; [`NumberTemplate::format`] only writes
//! one).

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::calendar::{DeadlineRule, PeriodStart, PeriodUnit};
use crate::vocab::{LetterKind, Tier};

/// Longest department name.
const DEPARTMENT_MAX: usize = 64;

/// Longest issuer abbreviation, in characters.
const ISSUER_MAX: usize = 16;

/// Longest number template, in characters.
const TEMPLATE_MAX: usize = 64;

/// The name of a partner department, such as `hrss` or `labour_inspection`.
///
/// Always matches `^[a-z][a-z0-9_]{0,63}$`. On the wire it is a plain JSON string, and
/// deserialising checks the pattern.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Department(String);

/// A department name that does not match `^[a-z][a-z0-9_]{0,63}$`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid department name {input:?}: use a lowercase letter followed by up to 63 lowercase \
     letters, digits or underscores"
)]
pub struct DepartmentError {
    /// The refused name.
    pub input: String,
}

impl Department {
    /// Checks and wraps a department name.
    ///
    /// ```
    /// use caseledger_domain::Department;
    ///
    /// assert_eq!(Department::new("labour_inspection").map(|d| d.to_string()), Ok("labour_inspection".to_owned()));
    /// assert!(Department::new("Labour Inspection").is_err());
    /// ```
    pub fn new(name: impl Into<String>) -> Result<Self, DepartmentError> {
        let name = name.into();
        let mut characters = name.chars();
        let first_ok = characters
            .next()
            .is_some_and(|first| first.is_ascii_lowercase());
        let rest_ok = characters.all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_'
        });
        if first_ok && rest_ok && name.len() <= DEPARTMENT_MAX {
            Ok(Self(name))
        } else {
            Err(DepartmentError { input: name })
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name known to be valid at compile time (the defaults); checked by a unit test.
    fn known(name: &'static str) -> Self {
        Self(name.to_owned())
    }
}

impl fmt::Display for Department {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl FromStr for Department {
    type Err = DepartmentError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::new(input)
    }
}

impl TryFrom<String> for Department {
    type Error = DepartmentError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::new(name)
    }
}

impl From<Department> for String {
    fn from(department: Department) -> Self {
        department.0
    }
}

impl AsRef<str> for Department {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Department {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// The configuration the rules consult.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Known partner departments; letters, escalations and referrals may name only these.
    pub departments: BTreeSet<Department>,
    /// Default members of each joint-mechanism tier, used when an escalation names none.
    pub tiers: BTreeMap<Tier, Vec<Department>>,
    /// The deadline rule of each letter kind; a kind missing here has no default deadline.
    pub deadline_rules: BTreeMap<LetterKind, DeadlineRule>,
    /// How letter numbers are written.
    pub letter_numbers: NumberTemplate,
    /// Whether opinion and recommendation letters need a supervisor's sign-off (contract §9).
    pub letter_approval: LetterApproval,
    /// The most events one case may hold; a command that would go beyond is refused with
    /// [`crate::Rule::CaseEventLimitReached`] (erasure of personal data excepted). Bounds what
    /// a history, a replay and a fold of one case cost.
    pub max_case_events: u64,
}

impl Default for Policy {
    /// The defaults of contracts §4 and §9: nine departments, the three tiers, opinion and
    /// recommendation letters answered within 15 working days of service, reminders with no
    /// deadline, and numbers such as `绵工监意〔2026〕3号`.
    fn default() -> Self {
        let departments = [
            "hrss",
            "labour_inspection",
            "arbitration",
            "justice",
            "court",
            "procuratorate",
            "public_security",
            "emergency_management",
            "health",
        ]
        .into_iter()
        .map(Department::known)
        .collect();
        let members = |names: &[&'static str]| -> Vec<Department> {
            names.iter().copied().map(Department::known).collect()
        };
        let tiers = BTreeMap::from([
            (
                Tier::ThreeParty,
                members(&["arbitration", "justice", "labour_inspection"]),
            ),
            (Tier::FourWay, members(&["hrss", "justice", "court"])),
            (
                Tier::FiveWay,
                members(&["hrss", "justice", "court", "procuratorate"]),
            ),
        ]);
        let fifteen_working_days_from_service = DeadlineRule {
            amount: 15,
            unit: PeriodUnit::WorkingDays,
            from: PeriodStart::Served,
        };
        let deadline_rules = BTreeMap::from([
            (LetterKind::Opinion, fifteen_working_days_from_service),
            (
                LetterKind::Recommendation,
                fifteen_working_days_from_service,
            ),
        ]);
        Self {
            departments,
            tiers,
            deadline_rules,
            letter_numbers: NumberTemplate::default(),
            letter_approval: LetterApproval::None,
            max_case_events: crate::limits::DEFAULT_MAX_CASE_EVENTS,
        }
    }
}

/// Who signs a letter off before it is issued (`letters.approval`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterApproval {
    /// Nobody: a letter is issued, numbered and printed at once (v1).
    #[default]
    None,
    /// A supervisor (or an admin): an opinion or recommendation letter is drafted
    /// (`LetterDrafted`, no number), then approved (`LetterApproved`: its number, document and
    /// deadline then) or returned with reasons (`LetterReturned`). Reminders need no sign-off.
    Supervisor,
}

impl LetterApproval {
    /// Whether a letter of `kind` is drafted first.
    pub fn drafts(self, kind: LetterKind) -> bool {
        self == LetterApproval::Supervisor && kind != LetterKind::Reminder
    }
}

/// A policy that contradicts itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A tier lists a department that is not among the known departments.
    #[error("tier {tier} lists '{department}', which is not a known department")]
    UnknownTierMember {
        /// The tier.
        tier: Tier,
        /// The unknown member.
        department: Department,
    },
    /// A deadline rule of no days would make a letter due the day it starts.
    #[error("the deadline rule for {kind} letters must count at least one day")]
    NonPositiveDeadline {
        /// The letter kind.
        kind: LetterKind,
    },
    /// The issuer abbreviation is empty, too long, or holds characters a number cannot.
    #[error(
        "the issuer {issuer:?} must be 1 to 16 characters, without spaces, braces or control \
         characters"
    )]
    InvalidIssuer {
        /// The refused issuer.
        issuer: String,
    },
    /// The number template lacks `{n}` or `{year}`, names an unknown field, or is too long.
    #[error("the number template {template:?} {reason}")]
    InvalidNumberTemplate {
        /// The refused template.
        template: String,
        /// What is wrong.
        reason: String,
    },
    /// A case must be allowed at least its opening event.
    #[error("the most events a case may hold must be at least 1")]
    NoEventsAllowed,
}

impl Policy {
    /// Checks that the policy is consistent; the binary calls this after loading its config.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (tier, members) in &self.tiers {
            if let Some(department) = members
                .iter()
                .find(|member| !self.departments.contains(*member))
            {
                return Err(PolicyError::UnknownTierMember {
                    tier: *tier,
                    department: department.clone(),
                });
            }
        }
        for (kind, rule) in &self.deadline_rules {
            if rule.amount == 0 {
                return Err(PolicyError::NonPositiveDeadline { kind: *kind });
            }
        }
        self.letter_numbers.validate()?;
        if self.max_case_events == 0 {
            return Err(PolicyError::NoEventsAllowed);
        }
        Ok(())
    }

    /// Whether `department` is a known partner department.
    pub fn knows(&self, department: &Department) -> bool {
        self.departments.contains(department)
    }
}

/// How letter numbers are written: a template with the fields `{issuer}`, `{kind}` (提, 意 or
/// 建), `{year}` and `{n}` (the sequence, without leading zeros), and the issuer's
/// abbreviation. The default follows GB/T 9704-2012: `{issuer}{kind}〔{year}〕{n}号`.
///
/// ```
/// use caseledger_domain::{LetterKind, NumberTemplate};
///
/// let numbers = NumberTemplate::default();
/// assert_eq!(numbers.format(LetterKind::Opinion, 2026, 3), "绵工监意〔2026〕3号");
/// assert_eq!(numbers.format(LetterKind::Recommendation, 2027, 12), "绵工监建〔2027〕12号");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberTemplate {
    /// The template, e.g. `{issuer}{kind}〔{year}〕{n}号`.
    pub template: String,
    /// The issuer's abbreviation, e.g. `绵工监`.
    pub issuer: String,
}

impl Default for NumberTemplate {
    fn default() -> Self {
        NumberTemplate {
            template: "{issuer}{kind}〔{year}〕{n}号".to_owned(),
            issuer: "绵工监".to_owned(),
        }
    }
}

/// The fields a number template may name.
const NUMBER_FIELDS: [&str; 4] = ["issuer", "kind", "year", "n"];

impl NumberTemplate {
    /// The number `n` of `kind` in `year`.
    pub fn format(&self, kind: LetterKind, year: i32, n: u64) -> String {
        let mut number = String::with_capacity(self.template.len() + 8);
        let mut rest = self.template.as_str();
        while let Some(open) = rest.find('{') {
            number.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    match &after[..close] {
                        "issuer" => number.push_str(&self.issuer),
                        "kind" => number.push_str(kind_character(kind)),
                        "year" => number.push_str(&year.to_string()),
                        "n" => number.push_str(&n.to_string()),
                        other => {
                            // `validate` refuses these; written as they are if one slips by.
                            number.push('{');
                            number.push_str(other);
                            number.push('}');
                        }
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    number.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        number.push_str(rest);
        number
    }

    /// The key of the sequence a number of `kind` in `year` is taken from: one per issuer,
    /// kind and year.
    pub fn series(&self, kind: LetterKind, year: i32) -> String {
        format!("{}|{}|{year}", self.issuer, kind.as_str())
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let issuer_ok = (1..=ISSUER_MAX).contains(&self.issuer.chars().count())
            && !self.issuer.chars().any(|character| {
                character.is_whitespace()
                    || character.is_control()
                    || matches!(character, '{' | '}' | '|')
            });
        if !issuer_ok {
            return Err(PolicyError::InvalidIssuer {
                issuer: self.issuer.clone(),
            });
        }
        let refuse = |reason: &str| PolicyError::InvalidNumberTemplate {
            template: self.template.clone(),
            reason: reason.to_owned(),
        };
        if self.template.chars().count() > TEMPLATE_MAX
            || self.template.chars().any(char::is_control)
        {
            return Err(refuse(
                "must be at most 64 characters, without control characters",
            ));
        }
        let mut named = BTreeSet::new();
        let mut rest = self.template.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(refuse("opens a field with '{' and never closes it"));
            };
            let field = &after[..close];
            if !NUMBER_FIELDS.contains(&field) {
                return Err(refuse(&format!(
                    "names the field {{{field}}}; the fields are {{issuer}}, {{kind}}, {{year}} \
                     and {{n}}"
                )));
            }
            named.insert(field);
            rest = &after[close + 1..];
        }
        if rest.contains('}')
            || self.template.matches('}').count() != self.template.matches('{').count()
        {
            return Err(refuse("has a '}' that closes no field"));
        }
        for needed in ["n", "year", "kind"] {
            if !named.contains(needed) {
                return Err(refuse(&format!(
                    "must hold {{{needed}}}: numbers are per kind and year"
                )));
            }
        }
        Ok(())
    }
}

/// The character of a letter kind in its number: 提 (reminder), 意 (opinion), 建
/// (recommendation).
pub fn kind_character(kind: LetterKind) -> &'static str {
    match kind {
        LetterKind::Reminder => "提",
        LetterKind::Opinion => "意",
        LetterKind::Recommendation => "建",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_consistent_and_its_names_are_valid() {
        let policy = Policy::default();
        assert_eq!(policy.validate(), Ok(()));
        assert_eq!(policy.departments.len(), 9);
        for department in &policy.departments {
            assert_eq!(
                Department::new(department.as_str()).as_ref(),
                Ok(department)
            );
        }
        assert!(!policy.deadline_rules.contains_key(&LetterKind::Reminder));
        assert_eq!(
            policy.deadline_rules.get(&LetterKind::Opinion),
            Some(&DeadlineRule {
                amount: 15,
                unit: PeriodUnit::WorkingDays,
                from: PeriodStart::Served
            })
        );
        let five_way: Vec<&str> = policy.tiers[&Tier::FiveWay]
            .iter()
            .map(Department::as_str)
            .collect();
        assert_eq!(five_way, ["hrss", "justice", "court", "procuratorate"]);
    }

    #[test]
    fn department_names() {
        for good in ["hrss", "a", "court_2", &format!("a{}", "b".repeat(63))] {
            assert!(Department::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "2court",
            "_court",
            "Court",
            "labour inspection",
            "人社",
            &format!("a{}", "b".repeat(64)),
        ] {
            assert!(Department::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn department_serde_is_a_checked_string() {
        let department: Department =
            serde_json::from_str("\"health\"").expect("a valid name parses");
        assert_eq!(
            serde_json::to_string(&department).expect("serialises"),
            "\"health\""
        );
        assert!(serde_json::from_str::<Department>("\"Health\"").is_err());
    }

    #[test]
    fn inconsistent_policies_are_refused() {
        let mut policy = Policy::default();
        policy.departments.remove("court");
        assert!(matches!(
            policy.validate(),
            Err(PolicyError::UnknownTierMember { .. })
        ));

        let mut policy = Policy::default();
        policy.deadline_rules.insert(
            LetterKind::Reminder,
            DeadlineRule {
                amount: 0,
                unit: PeriodUnit::CalendarDays,
                from: PeriodStart::Issued,
            },
        );
        assert_eq!(
            policy.validate(),
            Err(PolicyError::NonPositiveDeadline {
                kind: LetterKind::Reminder
            })
        );

        for issuer in ["", "绵 工监", "{n}", "a|b", &"监".repeat(17)] {
            let policy = Policy {
                letter_numbers: NumberTemplate {
                    issuer: issuer.to_owned(),
                    ..NumberTemplate::default()
                },
                ..Policy::default()
            };
            assert!(
                matches!(policy.validate(), Err(PolicyError::InvalidIssuer { .. })),
                "{issuer:?}"
            );
        }
        for template in [
            "{issuer}{kind}〔{year}〕号",
            "{issuer}〔{year}〕{n}号",
            "{issuer}{kind}{n}号",
            "{issuer}{kind}〔{year}〕{n}号{x}",
            "{issuer}{kind}〔{year}〕{n",
            "{issuer}{kind}〔{year}〕{n}}号",
        ] {
            let policy = Policy {
                letter_numbers: NumberTemplate {
                    template: template.to_owned(),
                    ..NumberTemplate::default()
                },
                ..Policy::default()
            };
            assert!(
                matches!(
                    policy.validate(),
                    Err(PolicyError::InvalidNumberTemplate { .. })
                ),
                "{template:?}"
            );
        }
    }

    #[test]
    fn numbers_follow_the_template_without_leading_zeros() {
        let numbers = NumberTemplate {
            template: "{issuer}-{kind}-{year}-{n}".to_owned(),
            issuer: "MY".to_owned(),
        };
        assert_eq!(
            numbers.format(LetterKind::Reminder, 2026, 7),
            "MY-提-2026-7"
        );
        assert_eq!(
            NumberTemplate::default().format(LetterKind::Opinion, 2026, 10),
            "绵工监意〔2026〕10号"
        );
        assert_ne!(
            numbers.series(LetterKind::Opinion, 2026),
            numbers.series(LetterKind::Recommendation, 2026)
        );
        assert_ne!(
            numbers.series(LetterKind::Opinion, 2026),
            numbers.series(LetterKind::Opinion, 2027)
        );
    }
}
