//! Local configuration that the rules consult: partner departments, joint-mechanism tier
//! members, default letter deadlines and the letter-number prefix.
//!
//! This module owns the [`Policy`] value, its defaults (contract §4) and the [`Department`] name
//! type. It does not read configuration files (the binary maps its TOML onto a `Policy`) and it
//! does not allocate letter numbers (the app keeps the yearly sequence; [`letter_number`] only
//! formats one).

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::vocab::{LetterKind, Tier};

/// Longest department name.
const DEPARTMENT_MAX: usize = 64;

/// Longest letter-number prefix.
const PREFIX_MAX: usize = 16;

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
    /// Default answer deadline per letter kind; a missing kind has no default deadline.
    pub default_deadlines: BTreeMap<LetterKind, Duration>,
    /// Prefix of letter numbers, e.g. `MY` in `MY-2026-0042`.
    pub letter_number_prefix: String,
    /// The most events one case may hold; a command that would go beyond is refused with
    /// [`crate::Rule::CaseEventLimitReached`] (erasure of personal data excepted). Bounds what
    /// a history, a replay and a fold of one case cost.
    pub max_case_events: u64,
}

impl Default for Policy {
    /// The defaults of contract §4: nine departments, the three tiers, opinion letters answered
    /// within 21 days (about 15 working days), recommendation letters within 60 days, reminders
    /// with no deadline, and the prefix `MY`.
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
        let default_deadlines = BTreeMap::from([
            (LetterKind::Opinion, Duration::days(21)),
            (LetterKind::Recommendation, Duration::days(60)),
        ]);
        Self {
            departments,
            tiers,
            default_deadlines,
            letter_number_prefix: "MY".to_owned(),
            max_case_events: crate::limits::DEFAULT_MAX_CASE_EVENTS,
        }
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
    /// A default deadline that is zero or negative would make every new letter overdue.
    #[error("the default deadline for {kind} letters must be positive")]
    NonPositiveDeadline {
        /// The letter kind.
        kind: LetterKind,
    },
    /// The letter-number prefix is empty, too long, or not uppercase ASCII letters and digits.
    #[error("letter number prefix {prefix:?} must be 1 to 16 uppercase ASCII letters or digits")]
    InvalidPrefix {
        /// The refused prefix.
        prefix: String,
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
        for (kind, deadline) in &self.default_deadlines {
            if *deadline <= Duration::zero() {
                return Err(PolicyError::NonPositiveDeadline { kind: *kind });
            }
        }
        let prefix = &self.letter_number_prefix;
        let prefix_ok = !prefix.is_empty()
            && prefix.len() <= PREFIX_MAX
            && prefix
                .chars()
                .all(|character| character.is_ascii_uppercase() || character.is_ascii_digit());
        if !prefix_ok {
            return Err(PolicyError::InvalidPrefix {
                prefix: prefix.clone(),
            });
        }
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

/// Formats a letter number: prefix, year and a sequence zero-padded to at least four digits.
///
/// ```
/// use caseledger_domain::letter_number;
///
/// assert_eq!(letter_number("MY", 2026, 42), "MY-2026-0042");
/// assert_eq!(letter_number("MY", 2026, 12345), "MY-2026-12345");
/// ```
pub fn letter_number(prefix: &str, year: i32, sequence: u32) -> String {
    format!("{prefix}-{year}-{sequence:04}")
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
        assert!(!policy.default_deadlines.contains_key(&LetterKind::Reminder));
        assert_eq!(
            policy.default_deadlines.get(&LetterKind::Opinion),
            Some(&Duration::days(21))
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
        policy
            .default_deadlines
            .insert(LetterKind::Reminder, Duration::zero());
        assert_eq!(
            policy.validate(),
            Err(PolicyError::NonPositiveDeadline {
                kind: LetterKind::Reminder
            })
        );

        let policy = Policy {
            letter_number_prefix: "my".to_owned(),
            ..Policy::default()
        };
        assert!(matches!(
            policy.validate(),
            Err(PolicyError::InvalidPrefix { .. })
        ));
    }
}
