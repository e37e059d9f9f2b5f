//! Check-character validation of the two national identifiers a case carries: the unified social
//! credit code of an employer (GB 32100-2015) and the resident identity number of a complainant
//! (GB 11643-1999).
//!
//! This module owns normalisation and the check algorithms. It does not decide what a failing
//! code means for a command (that is [`crate::decide()`]: a supervisor may override a failing
//! credit code), and it takes "today" as an argument rather than reading a clock.

use chrono::NaiveDate;

/// The 31 characters of a credit code, in value order (0–30); I, O, S, V and Z are never used.
const CREDIT_CODE_CHARSET: [char; 31] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J',
    'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'T', 'U', 'W', 'X', 'Y',
];

/// Weights of positions 1–17 of a credit code: 3^(i−1) mod 31.
const CREDIT_CODE_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Length of both identifiers.
const IDENTIFIER_LENGTH: usize = 18;

/// Weights of positions 1–17 of a resident identity number.
const RESIDENT_ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check characters of a resident identity number, indexed by the weighted sum mod 11.
const RESIDENT_ID_CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Why a unified social credit code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    /// Nothing left after trimming and dropping spaces and hyphens.
    #[error("the code is empty")]
    Empty,
    /// Full-width characters (as typed by a Chinese input method) are refused, not converted.
    #[error("contains full-width characters; type the code with half-width letters and digits")]
    FullWidth,
    /// Not 18 characters after normalisation.
    #[error("must be 18 characters long, found {found}")]
    Length {
        /// How many characters the normalised code has.
        found: usize,
    },
    /// A character outside `0123456789ABCDEFGHJKLMNPQRTUWXY`.
    #[error(
        "invalid character '{character}' at position {position} (codes use digits and the \
         capital letters except I, O, S, V and Z)"
    )]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its 1-based position in the normalised code.
        position: usize,
    },
    /// The 18th character does not match the other 17.
    #[error("check character is '{found}' but should be '{expected}'")]
    CheckCharacter {
        /// The check character computed from positions 1–17.
        expected: char,
        /// The 18th character as given.
        found: char,
    },
}

/// Why a resident identity number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResidentIdError {
    /// Not 18 characters after trimming.
    #[error("must be 18 characters long, found {found}")]
    Length {
        /// How many characters the trimmed number has.
        found: usize,
    },
    /// Not a digit, or an `X` anywhere but last, or a lowercase `x`.
    #[error(
        "invalid character '{character}' at position {position} (only digits, and an uppercase X \
         as the last character)"
    )]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its 1-based position.
        position: usize,
    },
    /// Positions 7–14 are not a real date on or after 1900-01-01.
    #[error("birth date {date} is not a real date on or after 1900-01-01")]
    BirthDate {
        /// The eight digits `YYYYMMDD` as given.
        date: String,
    },
    /// The birth date lies after today.
    #[error("birth date is in the future")]
    BirthDateInFuture,
    /// The 18th character does not match the other 17.
    #[error("check character is '{found}' but should be '{expected}'")]
    CheckCharacter {
        /// The check character computed from positions 1–17.
        expected: char,
        /// The 18th character as given.
        found: char,
    },
}

/// Normalises a credit code without checking it: trims, drops spaces and hyphens, and
/// uppercases ASCII letters.
///
/// Fails only when the input contains full-width characters or nothing is left.
pub fn normalize_credit_code(input: &str) -> Result<String, CreditCodeError> {
    let trimmed = input.trim();
    if trimmed.chars().any(is_full_width) {
        return Err(CreditCodeError::FullWidth);
    }
    let normalized: String = trimmed
        .chars()
        .filter(|character| *character != ' ' && *character != '-')
        .map(|character| character.to_ascii_uppercase())
        .collect();
    if normalized.is_empty() {
        return Err(CreditCodeError::Empty);
    }
    Ok(normalized)
}

/// Checks a unified social credit code (GB 32100-2015) and returns it normalised.
///
/// ```
/// use caseledger_domain::{check_credit_code, CreditCodeError};
///
/// assert_eq!(check_credit_code(" 91110000-600037341l "), Ok("91110000600037341L".to_owned()));
/// assert_eq!(
///     check_credit_code("91350211M0000XUF46"),
///     Err(CreditCodeError::CheckCharacter { expected: 'R', found: '6' }),
/// );
/// ```
pub fn check_credit_code(input: &str) -> Result<String, CreditCodeError> {
    let code = normalize_credit_code(input)?;
    let characters: Vec<char> = code.chars().collect();
    if characters.len() != IDENTIFIER_LENGTH {
        return Err(CreditCodeError::Length {
            found: characters.len(),
        });
    }
    let mut sum = 0;
    let mut found = '0';
    for (index, character) in characters.iter().copied().enumerate() {
        let value = credit_code_value(character).ok_or(CreditCodeError::InvalidCharacter {
            character,
            position: index + 1,
        })?;
        match CREDIT_CODE_WEIGHTS.get(index) {
            Some(weight) => sum += value * weight,
            None => found = character,
        }
    }
    let expected = CREDIT_CODE_CHARSET[((31 - sum % 31) % 31) as usize];
    if found != expected {
        return Err(CreditCodeError::CheckCharacter { expected, found });
    }
    Ok(code)
}

/// Checks a resident identity number (GB 11643-1999) and returns it trimmed.
///
/// `today` bounds the birth date; it is an argument so the check stays pure.
///
/// ```
/// use caseledger_domain::{check_resident_id, ResidentIdError};
/// use chrono::NaiveDate;
///
/// let today = NaiveDate::from_ymd_opt(2026, 11, 29).expect("a real date");
/// assert!(check_resident_id("11010519491231002X", today).is_ok());
/// assert_eq!(
///     check_resident_id("110105194902300020", today),
///     Err(ResidentIdError::BirthDate { date: "19490230".to_owned() }),
/// );
/// ```
pub fn check_resident_id(input: &str, today: NaiveDate) -> Result<String, ResidentIdError> {
    let trimmed = input.trim();
    let characters: Vec<char> = trimmed.chars().collect();
    if characters.len() != IDENTIFIER_LENGTH {
        return Err(ResidentIdError::Length {
            found: characters.len(),
        });
    }
    let mut digits = [0u32; IDENTIFIER_LENGTH];
    for (index, character) in characters.iter().copied().enumerate() {
        let is_last = index + 1 == IDENTIFIER_LENGTH;
        match character.to_digit(10) {
            Some(digit) if character.is_ascii_digit() => digits[index] = digit,
            _ if is_last && character == 'X' => {}
            _ => {
                return Err(ResidentIdError::InvalidCharacter {
                    character,
                    position: index + 1,
                })
            }
        }
    }

    let date_text: String = characters[6..14].iter().collect();
    let year = digits[6..10].iter().fold(0, |acc, digit| acc * 10 + digit);
    let month = digits[10] * 10 + digits[11];
    let day = digits[12] * 10 + digits[13];
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1);
    let birth_date = i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
        .filter(|date| Some(*date) >= earliest)
        .ok_or(ResidentIdError::BirthDate { date: date_text })?;
    if birth_date > today {
        return Err(ResidentIdError::BirthDateInFuture);
    }

    let sum: u32 = digits
        .iter()
        .zip(RESIDENT_ID_WEIGHTS)
        .map(|(digit, weight)| digit * weight)
        .sum();
    let expected = RESIDENT_ID_CHECK[(sum % 11) as usize];
    let found = characters[IDENTIFIER_LENGTH - 1];
    if found != expected {
        return Err(ResidentIdError::CheckCharacter { expected, found });
    }
    Ok(trimmed.to_owned())
}

/// The value (0–30) of a credit-code character, or `None` outside the character set.
fn credit_code_value(character: char) -> Option<u32> {
    CREDIT_CODE_CHARSET
        .iter()
        .position(|candidate| *candidate == character)
        .and_then(|index| u32::try_from(index).ok())
}

/// Full-width ASCII variants (U+FF01–U+FF5E) and the ideographic space (U+3000).
fn is_full_width(character: char) -> bool {
    matches!(character, '\u{FF01}'..='\u{FF5E}' | '\u{3000}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).expect("a real date")
    }

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut power = 1;
        for weight in CREDIT_CODE_WEIGHTS {
            assert_eq!(weight, power);
            power = power * 3 % 31;
        }
    }

    /// Every credit-code vector of `shared/test-vectors.md`.
    #[test]
    fn credit_code_vectors() {
        let vectors: &[(&str, Result<&str, CreditCodeError>)] = &[
            ("91110000600037341L", Ok("91110000600037341L")),
            ("91110000101623741K", Ok("91110000101623741K")),
            ("911101066976941872", Ok("911101066976941872")),
            (
                "91350211M0000XUF46",
                Err(CreditCodeError::CheckCharacter {
                    expected: 'R',
                    found: '6',
                }),
            ),
            (
                "91350100M0001TGQXM",
                Err(CreditCodeError::CheckCharacter {
                    expected: '1',
                    found: 'M',
                }),
            ),
            (
                "9111000060003734IL",
                Err(CreditCodeError::InvalidCharacter {
                    character: 'I',
                    position: 17,
                }),
            ),
        ];
        for (input, expected) in vectors {
            let expected = expected.clone().map(str::to_owned);
            assert_eq!(check_credit_code(input), expected, "vector {input}");
        }
        // The vector only says "check character wrong", without the computed character.
        assert!(matches!(
            check_credit_code("91310115MA1H8R7C6D"),
            Err(CreditCodeError::CheckCharacter { found: 'D', .. })
        ));
    }

    #[test]
    fn credit_code_normalisation() {
        assert_eq!(
            check_credit_code("  9111 0000-6000 3734 1l\t"),
            Ok("91110000600037341L".to_owned())
        );
        assert_eq!(check_credit_code(" - "), Err(CreditCodeError::Empty));
        assert_eq!(
            check_credit_code("９1110000600037341L"),
            Err(CreditCodeError::FullWidth)
        );
        assert_eq!(
            normalize_credit_code("91110000600037341Ｌ"),
            Err(CreditCodeError::FullWidth)
        );
        assert_eq!(
            check_credit_code("91110000600037341"),
            Err(CreditCodeError::Length { found: 17 })
        );
        assert_eq!(
            check_credit_code("9111000060003734ÉL"),
            Err(CreditCodeError::InvalidCharacter {
                character: 'É',
                position: 17
            })
        );
    }

    #[test]
    fn credit_code_messages_are_readable() {
        assert_eq!(
            CreditCodeError::CheckCharacter {
                expected: 'R',
                found: 'D'
            }
            .to_string(),
            "check character is 'D' but should be 'R'"
        );
    }

    /// Every resident-ID vector of `shared/test-vectors.md`.
    #[test]
    fn resident_id_vectors() {
        let vectors: &[(&str, Result<&str, ResidentIdError>)] = &[
            ("360426199101010071", Ok("360426199101010071")),
            ("11010519491231002X", Ok("11010519491231002X")),
            ("110105200002290021", Ok("110105200002290021")),
            (
                "110105194912310021",
                Err(ResidentIdError::CheckCharacter {
                    expected: 'X',
                    found: '1',
                }),
            ),
            (
                "110105194902300020",
                Err(ResidentIdError::BirthDate {
                    date: "19490230".to_owned(),
                }),
            ),
            (
                "110105190002290025",
                Err(ResidentIdError::BirthDate {
                    date: "19000229".to_owned(),
                }),
            ),
        ];
        for (input, expected) in vectors {
            let expected = expected.clone().map(str::to_owned);
            assert_eq!(
                check_resident_id(input, today()),
                expected,
                "vector {input}"
            );
        }
    }

    #[test]
    fn resident_id_character_rules() {
        assert_eq!(
            check_resident_id("11010519491231002x", today()),
            Err(ResidentIdError::InvalidCharacter {
                character: 'x',
                position: 18
            })
        );
        assert_eq!(
            check_resident_id("1101051949123100X2", today()),
            Err(ResidentIdError::InvalidCharacter {
                character: 'X',
                position: 17
            })
        );
        assert_eq!(
            check_resident_id("11010519491231002", today()),
            Err(ResidentIdError::Length { found: 17 })
        );
        assert_eq!(
            check_resident_id("１10105194912310021", today()),
            Err(ResidentIdError::InvalidCharacter {
                character: '１',
                position: 1
            })
        );
        assert_eq!(
            check_resident_id(" 11010519491231002X ", today()),
            Ok("11010519491231002X".to_owned())
        );
    }

    #[test]
    fn resident_id_birth_date_bounds() {
        // 2027-01-01 is after "today".
        assert_eq!(
            check_resident_id("110105202701010000", today()),
            Err(ResidentIdError::BirthDateInFuture)
        );
        assert_eq!(
            check_resident_id("110105189912310000", today()),
            Err(ResidentIdError::BirthDate {
                date: "18991231".to_owned()
            })
        );
        assert_eq!(
            check_resident_id("110105000000000000", today()),
            Err(ResidentIdError::BirthDate {
                date: "00000000".to_owned()
            })
        );
        // Born today is fine; the check character decides.
        let born_today = with_check_character("11010520261129001");
        assert_eq!(
            check_resident_id(&born_today, today()),
            Ok(born_today.clone())
        );
    }

    fn with_check_character(first_17: &str) -> String {
        let sum: u32 = first_17
            .chars()
            .filter_map(|character| character.to_digit(10))
            .zip(RESIDENT_ID_WEIGHTS)
            .map(|(digit, weight)| digit * weight)
            .sum();
        format!("{first_17}{}", RESIDENT_ID_CHECK[(sum % 11) as usize])
    }
}
