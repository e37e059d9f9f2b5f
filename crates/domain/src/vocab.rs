//! The closed vocabularies of a case: categories, sources, letter kinds, tiers, outcomes, roles
//! and statuses.
//!
//! Each is a `Copy` enum whose wire form (serde, `Display`, `FromStr`) is the snake_case name
//! written in the contract. This module owns those names; it does not own the open-ended
//! vocabulary of partner departments, which is configuration (see [`crate::policy::Department`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A string that names no value of a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} '{found}'; expected one of: {}", .expected.join(", "))]
pub struct UnknownValueError {
    /// Which vocabulary was parsed, e.g. `category`.
    pub vocabulary: &'static str,
    /// The string that matched nothing.
    pub found: String,
    /// Every accepted string.
    pub expected: &'static [&'static str],
}

/// Declares a vocabulary enum with its snake_case names, `ALL`, `NAMES`, `as_str`, `Display`
/// and `FromStr`. The serde name of each variant is the same literal, so the wire form cannot
/// drift from `Display`.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                #[serde(rename = $text)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration (and `Ord`) order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The snake_case name of every value, in the order of [`Self::ALL`].
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The snake_case name used on the wire and in the event log.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValueError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                match input {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownValueError {
                        vocabulary: $what,
                        found: input.to_owned(),
                        expected: Self::NAMES,
                    }),
                }
            }
        }
    };
}

vocabulary! {
    /// What a case is about.
    Category, "category" {
        /// Unpaid or late wages.
        WageArrears => "wage_arrears",
        /// Occupational disease (health data is sensitive personal information).
        OccupationalDisease => "occupational_disease",
        /// Unsafe working conditions.
        SafetyHazard => "safety_hazard",
        /// Missing or inadequate personal protective equipment.
        PpeShortfall => "ppe_shortfall",
        /// Labour contracts: missing, unlawful terms, unlawful dismissal.
        LabourContract => "labour_contract",
        /// Social insurance contributions.
        SocialInsurance => "social_insurance",
        /// Working hours and forced overtime.
        WorkingHours => "working_hours",
        /// Collective contracts.
        CollectiveContract => "collective_contract",
        /// Anything else.
        Other => "other",
    }
}

vocabulary! {
    /// How a case reached the union.
    Source, "source" {
        /// The 12351 hotline.
        Hotline => "hotline",
        /// A worker walked in.
        WalkIn => "walk_in",
        /// The union's own inspections.
        Inspection => "inspection",
        /// Referred by a partner.
        Referral => "referral",
        /// An online complaint.
        Online => "online",
        /// Anything else.
        Other => "other",
    }
}

vocabulary! {
    /// The kinds of supervision letter (一函两书).
    LetterKind, "letter kind" {
        /// Reminder letter (提示函): preventive, needs no answer.
        Reminder => "reminder",
        /// Opinion letter (意见书) to the employer, which must reply.
        Opinion => "opinion",
        /// Recommendation letter (建议书) to a government department.
        Recommendation => "recommendation",
    }
}

vocabulary! {
    /// How a letter was served (送达).
    ServiceMethod, "service method" {
        /// Handed over in person, against a receipt (送达回执).
        InPerson => "in_person",
        /// Sent by post, with a tracking number.
        Post => "post",
        /// Left at the employer's premises (留置送达).
        LeftAtPremises => "left_at_premises",
        /// Sent electronically.
        Electronic => "electronic",
    }
}

vocabulary! {
    /// A tier of the joint mechanism; tiers only go up, in this order.
    Tier, "tier" {
        /// Three parties stationed at the union (三方驻会).
        ThreeParty => "three_party",
        /// Four-way collaboration (四方协作).
        FourWay => "four_way",
        /// Five-way linkage (五方联动).
        FiveWay => "five_way",
    }
}

vocabulary! {
    /// How a case ended.
    Outcome, "outcome" {
        /// The employer corrected the violation.
        Rectified => "rectified",
        /// Settled by mediation.
        Mediated => "mediated",
        /// Decided by an arbitration award.
        Arbitration => "arbitration",
        /// Decided by a court judgment.
        Litigation => "litigation",
        /// Handed over to a partner department.
        Referred => "referred",
        /// The complainant withdrew.
        Withdrawn => "withdrawn",
        /// The complaint proved unfounded.
        Unfounded => "unfounded",
    }
}

vocabulary! {
    /// What a caller may do (contract §3).
    Role, "role" {
        /// Everything, including tokens, webhooks and personal-data erasure.
        Admin => "admin",
        /// All that an officer may, plus reopening and reassigning any case.
        Supervisor => "supervisor",
        /// Opens cases and runs commands on them.
        Officer => "officer",
        /// A partner department: reads cases shared with it and posts feedback.
        Partner => "partner",
        /// Reads everything except personal data, changes nothing.
        Auditor => "auditor",
    }
}

vocabulary! {
    /// Where a case stands, derived from its state by [`crate::case::Case::status`].
    CaseStatus, "status" {
        /// Opened, nobody working on it yet.
        Open => "open",
        /// Assigned or with findings.
        Investigating => "investigating",
        /// An opinion or recommendation letter awaits its answer.
        AwaitingReply => "awaiting_reply",
        /// Escalated to the joint mechanism.
        Escalated => "escalated",
        /// Closed with an outcome.
        Closed => "closed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(all: &[T])
    where
        T: Copy
            + fmt::Display
            + FromStr<Err = UnknownValueError>
            + Serialize
            + PartialEq
            + fmt::Debug,
        T: for<'de> Deserialize<'de>,
    {
        for value in all {
            let text = value.to_string();
            assert_eq!(text.parse::<T>().as_ref(), Ok(value));
            let json = serde_json::to_string(value).expect("a vocabulary value serialises");
            assert_eq!(json, format!("\"{text}\""));
            let back: T = serde_json::from_str(&json).expect("its own JSON parses");
            assert_eq!(&back, value);
        }
    }

    #[test]
    fn display_fromstr_and_serde_agree() {
        round_trip(Category::ALL);
        round_trip(Source::ALL);
        round_trip(LetterKind::ALL);
        round_trip(Tier::ALL);
        round_trip(Outcome::ALL);
        round_trip(Role::ALL);
        round_trip(CaseStatus::ALL);
    }

    #[test]
    fn tiers_only_go_up_in_contract_order() {
        assert!(Tier::ThreeParty < Tier::FourWay);
        assert!(Tier::FourWay < Tier::FiveWay);
    }

    #[test]
    fn unknown_values_name_the_choices() {
        let error = "ppe"
            .parse::<Category>()
            .expect_err("ppe is not a category");
        assert_eq!(error.found, "ppe");
        assert!(error
            .to_string()
            .starts_with("unknown category 'ppe'; expected one of: wage_arrears"));
    }
}
