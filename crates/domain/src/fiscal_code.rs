//! I1: the Italian fiscal code (codice fiscale), every person's id in the system.
//!
//! A fiscal code has 16 ASCII characters laid out as `AAAAAA99A99A999A`:
//!
//! | positions | content                                                        |
//! |-----------|----------------------------------------------------------------|
//! | 1–6       | letters from surname and name                                  |
//! | 7–8       | year of birth (two digits)                                     |
//! | 9         | month of birth, one of `ABCDEHLMPRST` (January … December)     |
//! | 10–11     | day of birth, `01`–`31` for men, `41`–`71` for women (day + 40) |
//! | 12–15     | place of birth: a letter and three digits                      |
//! | 16        | check character                                                |
//!
//! Omocodia: to tell apart people whose data give the same code, the Agenzia
//! delle Entrate replaces digits (positions 7, 8, 10, 11, 13, 14, 15) with the
//! letters `LMNPQRSTUV` (standing for 0–9); they are decoded before the day is
//! checked. The check character is computed by the Agenzia's odd/even tables,
//! see [`FiscalCode::check_character`].
//!
//! Input is trimmed of surrounding whitespace and normalised to upper case;
//! anything else (inner spaces, non-ASCII characters, wrong length, wrong
//! layout, impossible month or day, wrong check character) is rejected with a
//! [`FiscalCodeError`] saying what is wrong.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A fiscal code that passed every check of I1, normalised to upper case.
///
/// Serialised as its 16-character string; deserialising validates it with
/// [`FiscalCode::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FiscalCode(String);

/// Why a string is not a valid fiscal code (I1).
///
/// Positions are 1-based; `found` characters are reported as given in the
/// input (after trimming). Every variant maps to the same stable HTTP code,
/// see [`FiscalCodeError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FiscalCodeError {
    /// Not 16 characters long (after trimming surrounding whitespace).
    #[error("a fiscal code has 16 characters, this one has {found}")]
    Length {
        /// Number of characters found.
        found: usize,
    },
    /// A character that does not fit the layout `AAAAAA99A99A999A`
    /// (including spaces and non-ASCII characters).
    #[error("character {position} of the fiscal code is {found:?}, expected {expected}")]
    Character {
        /// 1-based position of the offending character.
        position: usize,
        /// The character found there.
        found: char,
        /// What belongs there: [`EXPECTED_LETTER`] or [`EXPECTED_DIGIT`].
        expected: &'static str,
    },
    /// The month letter (position 9) is not one of `ABCDEHLMPRST`.
    #[error(
        "month letter (character 9) of the fiscal code is {found:?}, expected one of ABCDEHLMPRST"
    )]
    Month {
        /// The letter found.
        found: char,
    },
    /// The day (positions 10–11, omocodia decoded) is neither 01–31 nor 41–71.
    #[error("day (characters 10-11) of the fiscal code is {found:02}, expected 01-31 (men) or 41-71 (women)")]
    Day {
        /// The two-digit day found, omocodia letters decoded.
        found: u8,
    },
    /// The day does not exist in the month (e.g. 31 April, 30 February).
    #[error("day {day} does not exist in {} (month letter {month:?}), which has at most {max} days", month_name(*.month))]
    DayOfMonth {
        /// Day of the month (the `+40` for women removed).
        day: u8,
        /// The month letter.
        month: char,
        /// Longest the month can be (29 for February).
        max: u8,
    },
    /// The check character (position 16) does not match the first 15.
    #[error(
        "check character (character 16) of the fiscal code is {found:?}, expected {expected:?}"
    )]
    CheckCharacter {
        /// The check character computed from the first 15 characters.
        expected: char,
        /// The character found.
        found: char,
    },
}

/// [`FiscalCodeError::Character::expected`] where a letter belongs.
pub const EXPECTED_LETTER: &str = "a letter";
/// [`FiscalCodeError::Character::expected`] where a digit belongs.
pub const EXPECTED_DIGIT: &str = "a digit (or an omocodia letter, one of LMNPQRSTUV)";

impl FiscalCodeError {
    /// The stable error code of the HTTP contract: `"invalid_fiscal_code"`.
    pub fn code(&self) -> &'static str {
        "invalid_fiscal_code"
    }
}

/// Month letters, January to December.
const MONTHS: &[u8; 12] = b"ABCDEHLMPRST";

/// Omocodia letters, standing for the digits 0 to 9.
const OMOCODIA: &[u8; 10] = b"LMNPQRSTUV";

/// 0-based indexes of the characters that are digits (or omocodia letters).
const DIGIT_POSITIONS: [usize; 7] = [6, 7, 9, 10, 12, 13, 14];

/// Check-character values of characters at odd (1-based) positions, for
/// `A..=Z` (and `0..=9`, which count as `A..=J`).
const ODD_VALUES: [u8; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

fn is_digit_position(index: usize) -> bool {
    DIGIT_POSITIONS.contains(&index)
}

/// The digit a character stands for at a digit position: itself, or the
/// omocodia letter decoded. `None` for anything else.
fn decode_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        _ => OMOCODIA.iter().position(|&l| l == c).map(|d| d as u8),
    }
}

/// 1-based month number of a month letter.
fn month_number(letter: u8) -> Option<u8> {
    MONTHS
        .iter()
        .position(|&m| m == letter)
        .map(|i| i as u8 + 1)
}

/// Longest a month can be; February counts 29 as the century is unknown.
fn month_length(month: u8) -> u8 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn month_name(letter: char) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    u8::try_from(letter)
        .ok()
        .and_then(month_number)
        .map_or("an unknown month", |m| NAMES[usize::from(m) - 1])
}

/// The check character of 15 upper-case ASCII alphanumerics (not checked).
fn compute_check(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let index = if c.is_ascii_digit() {
                c - b'0'
            } else {
                c - b'A'
            };
            // 0-based even index = 1-based odd position.
            u32::from(if i % 2 == 0 {
                ODD_VALUES[usize::from(index)]
            } else {
                index
            })
        })
        .sum();
    b'A' + (sum % 26) as u8
}

/// Checks the first 15 characters, given as typed (`original`, for errors)
/// and upper-cased (`upper`), against layout, month and day.
fn validate_body(original: &[char], upper: &[u8]) -> Result<(), FiscalCodeError> {
    debug_assert_eq!(original.len(), 15);
    for (index, (&found, &c)) in original.iter().zip(upper).enumerate() {
        let (ok, expected) = if is_digit_position(index) {
            (decode_digit(c).is_some(), EXPECTED_DIGIT)
        } else {
            (c.is_ascii_uppercase(), EXPECTED_LETTER)
        };
        if !ok {
            return Err(FiscalCodeError::Character {
                position: index + 1,
                found,
                expected,
            });
        }
    }
    let month = month_number(upper[8]).ok_or(FiscalCodeError::Month { found: original[8] })?;
    let day = day_field(upper);
    let day_of_month = match day {
        1..=31 => day,
        41..=71 => day - 40,
        _ => return Err(FiscalCodeError::Day { found: day }),
    };
    let max = month_length(month);
    if day_of_month > max {
        return Err(FiscalCodeError::DayOfMonth {
            day: day_of_month,
            month: char::from(upper[8]),
            max,
        });
    }
    Ok(())
}

/// [`FiscalCode::parse`]'s checks of `input`, already trimmed: the code
/// upper-cased, once every check passed.
fn checked(input: &str) -> Result<[u8; 16], FiscalCodeError> {
    // The characters as typed, for the errors; counted to the end.
    let mut original = ['\0'; 16];
    let mut found = 0;
    for c in input.chars() {
        if let Some(slot) = original.get_mut(found) {
            *slot = c;
        }
        found += 1;
    }
    if found != 16 {
        return Err(FiscalCodeError::Length { found });
    }
    // Non-ASCII characters become 0, which no check accepts; the error
    // reports the original character.
    let upper = original.map(|c| u8::try_from(c.to_ascii_uppercase()).unwrap_or(0));
    validate_body(&original[..15], &upper[..15])?;
    if !upper[15].is_ascii_uppercase() {
        return Err(FiscalCodeError::Character {
            position: 16,
            found: original[15],
            expected: EXPECTED_LETTER,
        });
    }
    let expected = compute_check(&upper[..15]);
    if upper[15] != expected {
        return Err(FiscalCodeError::CheckCharacter {
            expected: char::from(expected),
            found: original[15],
        });
    }
    Ok(upper)
}

/// The text of a code [`checked`] returned: ASCII letters and digits.
fn canonical(upper: &[u8; 16]) -> &str {
    std::str::from_utf8(upper).expect("a checked code is ASCII")
}

/// The decoded day field (positions 10–11) of a code whose layout is valid.
fn day_field(upper: &[u8]) -> u8 {
    let digit = |c| decode_digit(c).unwrap_or(0);
    digit(upper[9]) * 10 + digit(upper[10])
}

impl FiscalCode {
    /// Validates and normalises `input` (I1): surrounding whitespace is
    /// trimmed and letters are upper-cased; everything else must be exact.
    ///
    /// Checks, in order: length, layout `AAAAAA99A99A999A` (omocodia letters
    /// `LMNPQRSTUV` allowed in place of digits), month letter, day (01–31 or
    /// 41–71, and within the month's length), check character.
    ///
    /// ```
    /// use deleghe_domain::{FiscalCode, FiscalCodeError};
    ///
    /// let code = FiscalCode::parse(" rssmra85t10a562s ")?;
    /// assert_eq!(code.as_str(), "RSSMRA85T10A562S");
    /// assert_eq!(code.birth_day(), 10);
    /// assert!(!code.is_female());
    ///
    /// let err = FiscalCode::parse("RSSMRA85T10A562X").unwrap_err();
    /// assert_eq!(err, FiscalCodeError::CheckCharacter { expected: 'S', found: 'X' });
    /// assert_eq!(err.code(), "invalid_fiscal_code");
    /// # Ok::<(), FiscalCodeError>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self, FiscalCodeError> {
        let upper = checked(input.trim())?;
        Ok(Self(canonical(&upper).to_owned()))
    }

    /// The check character (16th) for the first 15 characters `body`, per
    /// the Agenzia delle Entrate odd/even tables.
    ///
    /// `body` may be in lower case but is not trimmed; `None` if it is not
    /// 15 characters that pass every check of [`FiscalCode::parse`] (layout,
    /// month, day). So `Some(c)` means `body` followed by `c` is a valid code.
    ///
    /// ```
    /// use deleghe_domain::FiscalCode;
    ///
    /// assert_eq!(FiscalCode::check_character("RSSMRA85T10A562"), Some('S'));
    /// assert_eq!(FiscalCode::check_character("RSSMRA85T10A56"), None);
    /// ```
    pub fn check_character(body: &str) -> Option<char> {
        let original: Vec<char> = body.chars().collect();
        if original.len() != 15 || !body.is_ascii() {
            return None;
        }
        let upper = body.to_ascii_uppercase().into_bytes();
        validate_body(&original, &upper).ok()?;
        Some(char::from(compute_check(&upper)))
    }

    /// The code, 16 upper-case ASCII characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether any digit has been replaced by an omocodia letter.
    pub fn is_omocodic(&self) -> bool {
        let bytes = self.0.as_bytes();
        DIGIT_POSITIONS.iter().any(|&i| !bytes[i].is_ascii_digit())
    }

    /// Day of birth, 1–31 (the `+40` for women removed).
    pub fn birth_day(&self) -> u8 {
        let day = day_field(self.0.as_bytes());
        if day > 40 {
            day - 40
        } else {
            day
        }
    }

    /// Month of birth, 1–12.
    pub fn birth_month(&self) -> u8 {
        month_number(self.0.as_bytes()[8]).unwrap_or(1)
    }

    /// Whether the code is a woman's (day field 41–71).
    pub fn is_female(&self) -> bool {
        day_field(self.0.as_bytes()) > 40
    }
}

impl fmt::Display for FiscalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for FiscalCode {
    type Error = FiscalCodeError;
    /// [`FiscalCode::parse`]; a code already in its normal form (as stored)
    /// keeps its string.
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let upper = checked(value.trim())?;
        let code = canonical(&upper);
        Ok(Self(if value == code {
            value
        } else {
            code.to_owned()
        }))
    }
}

impl From<FiscalCode> for String {
    fn from(value: FiscalCode) -> Self {
        value.0
    }
}

impl std::str::FromStr for FiscalCode {
    type Err = FiscalCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `body` followed by its check character, computed without validating
    /// the body (so that invalid bodies reach the check they should fail).
    fn with_check(body: &str) -> String {
        let upper = body.to_ascii_uppercase();
        assert_eq!(upper.len(), 15, "test body must have 15 characters");
        format!("{body}{}", char::from(compute_check(upper.as_bytes())))
    }

    fn err(input: &str) -> FiscalCodeError {
        FiscalCode::parse(input).expect_err(input)
    }

    /// Replaces the digits at the given 1-based positions by their omocodia
    /// letters.
    fn omocodic(body: &str, positions: &[usize]) -> String {
        let mut bytes = body.as_bytes().to_vec();
        for &p in positions {
            let d = bytes[p - 1] - b'0';
            bytes[p - 1] = OMOCODIA[usize::from(d)];
        }
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn i1_known_public_examples_are_valid() {
        // Published examples: Mario Rossi, born in Rome on 10 December 1985;
        // Matteo Moretti, born in Milan on 9 April 1925 (it.wikipedia).
        for (code, day, month) in [("RSSMRA85T10A562S", 10, 12), ("MRTMTT25D09F205Z", 9, 4)] {
            let parsed = FiscalCode::parse(code).unwrap();
            assert_eq!(parsed.as_str(), code);
            assert_eq!(parsed.birth_day(), day);
            assert_eq!(parsed.birth_month(), month);
            assert!(!parsed.is_female());
            assert!(!parsed.is_omocodic());
            assert_eq!(
                FiscalCode::check_character(&code[..15]),
                code.chars().last()
            );
        }
    }

    #[test]
    fn i1_check_character_by_hand() {
        // RSSMRA85T10A562, odd positions (odd table): R=8 S=12 R=8 8=19 T=14
        // 0=1 5=13 2=5 -> 80; even positions: S=18 M=12 A=0 5=5 1=1 A=0 6=6
        // -> 42; 122 mod 26 = 18 -> 'S'.
        assert_eq!(FiscalCode::check_character("RSSMRA85T10A562"), Some('S'));
        // MRTMTT25D09F205, odd: M=18 T=14 T=14 2=5 D=7 9=21 2=5 5=13 -> 97;
        // even: R=17 M=12 T=19 5=5 0=0 F=5 0=0 -> 58; 155 mod 26 = 25 -> 'Z'.
        assert_eq!(FiscalCode::check_character("MRTMTT25D09F205"), Some('Z'));
    }

    #[test]
    fn i1_womans_code_is_valid() {
        // Maria Rossi, born in Rome on 10 December 1985: day 10 + 40 = 50.
        let code = with_check("RSSMRA85T50H501");
        let parsed = FiscalCode::parse(&code).unwrap();
        assert!(parsed.is_female());
        assert_eq!(parsed.birth_day(), 10);
        assert_eq!(parsed.birth_month(), 12);
        // Days 41 and 71 are the bounds for women.
        for body in ["BNCLRA90A41F205", "BNCLRA90A71F205"] {
            assert!(FiscalCode::parse(&with_check(body)).unwrap().is_female());
        }
    }

    #[test]
    fn i1_lower_case_and_surrounding_whitespace_are_normalised() {
        let parsed = FiscalCode::parse("  rssmra85t10a562s\n").unwrap();
        assert_eq!(parsed.as_str(), "RSSMRA85T10A562S");
        let mixed = FiscalCode::parse("RssMra85t10A562s").unwrap();
        assert_eq!(mixed, parsed);
        assert_eq!(FiscalCode::check_character("rssmra85t10a562"), Some('S'));
    }

    #[test]
    fn i1_omocodic_codes_are_accepted() {
        // Last digit replaced (the first substitution the Agenzia makes).
        let one = with_check(&omocodic("RSSMRA85T10A562", &[15]));
        assert_eq!(&one[..15], "RSSMRA85T10A56N");
        let parsed = FiscalCode::parse(&one).unwrap();
        assert!(parsed.is_omocodic());
        assert_eq!(parsed.birth_day(), 10);

        // Every digit replaced: the day "ML" still decodes to 10.
        let all = with_check(&omocodic("RSSMRA85T10A562", &[7, 8, 10, 11, 13, 14, 15]));
        assert_eq!(&all[..15], "RSSMRAURTMLARSN");
        let parsed = FiscalCode::parse(&all.to_ascii_lowercase()).unwrap();
        assert_eq!(parsed.as_str(), all);
        assert!(parsed.is_omocodic());
        assert_eq!(parsed.birth_day(), 10);
        assert!(!parsed.is_female());

        // A woman's omocodic day: "RL" = 50.
        let woman = FiscalCode::parse(&with_check("RSSMRA85TRLH501")).unwrap();
        assert!(woman.is_female());
        assert_eq!(woman.birth_day(), 10);
    }

    #[test]
    fn i1_wrong_check_character_is_rejected_with_the_expected_one() {
        assert_eq!(
            err("RSSMRA85T10A562X"),
            FiscalCodeError::CheckCharacter {
                expected: 'S',
                found: 'X'
            }
        );
        assert_eq!(
            err("mrtmtt25d09f205a"),
            FiscalCodeError::CheckCharacter {
                expected: 'Z',
                found: 'a'
            }
        );
        // A digit in the check position is a layout error.
        assert_eq!(
            err("RSSMRA85T10A5620"),
            FiscalCodeError::Character {
                position: 16,
                found: '0',
                expected: EXPECTED_LETTER
            }
        );
    }

    #[test]
    fn i1_bad_month_letter_is_rejected() {
        for month in ['F', 'G', 'I', 'Z'] {
            let code = with_check(&format!("RSSMRA85{month}10A562"));
            assert_eq!(err(&code), FiscalCodeError::Month { found: month });
        }
        assert_eq!(
            err(&with_check("RSSMRA85f10A562")),
            FiscalCodeError::Month { found: 'f' }
        );
    }

    #[test]
    fn i1_bad_day_is_rejected() {
        for day in [0u8, 32, 35, 40, 72, 80, 99] {
            let code = with_check(&format!("RSSMRA85T{day:02}A562"));
            assert_eq!(err(&code), FiscalCodeError::Day { found: day }, "{code}");
        }
        // Omocodia is decoded before the range check: "PN" = 32.
        assert_eq!(
            err(&with_check("RSSMRA85TPNA562")),
            FiscalCodeError::Day { found: 32 }
        );
        // Bounds that are fine.
        for day in [1u8, 31, 41, 71] {
            assert!(FiscalCode::parse(&with_check(&format!("RSSMRA85T{day:02}A562"))).is_ok());
        }
    }

    #[test]
    fn i1_day_must_exist_in_the_month() {
        for (month, day, max) in [
            ('B', 30u8, 29u8),
            ('B', 31, 29),
            ('D', 31, 30),
            ('S', 71, 30),
        ] {
            let code = with_check(&format!("RSSMRA85{month}{day:02}A562"));
            let day_of_month = if day > 40 { day - 40 } else { day };
            assert_eq!(
                err(&code),
                FiscalCodeError::DayOfMonth {
                    day: day_of_month,
                    month,
                    max
                },
                "{code}"
            );
        }
        // 29 February (either sex), 30 April, 31 December are fine.
        for body in [
            "RSSMRA85B29A562",
            "RSSMRA85B69A562",
            "RSSMRA85D30A562",
            "RSSMRA85T31A562",
        ] {
            assert!(FiscalCode::parse(&with_check(body)).is_ok(), "{body}");
        }
        let message = err(&with_check("RSSMRA85D31A562")).to_string();
        assert!(message.contains("April"), "{message}");
    }

    #[test]
    fn i1_wrong_length_is_rejected() {
        assert_eq!(
            err("RSSMRA85T10A562"),
            FiscalCodeError::Length { found: 15 }
        );
        assert_eq!(
            err("RSSMRA85T10A562SS"),
            FiscalCodeError::Length { found: 17 }
        );
        assert_eq!(err(""), FiscalCodeError::Length { found: 0 });
        assert_eq!(err("   "), FiscalCodeError::Length { found: 0 });
        // An inner space makes it 17 characters.
        assert_eq!(
            err("RSSMRA85 T10A562S"),
            FiscalCodeError::Length { found: 17 }
        );
        // Length counts characters, not bytes.
        assert_eq!(
            err("RSSMRÀ85T10A562"),
            FiscalCodeError::Length { found: 15 }
        );
    }

    #[test]
    fn i1_a_digit_where_a_letter_belongs_is_rejected() {
        assert_eq!(
            err("RSSMR085T10A562S"),
            FiscalCodeError::Character {
                position: 6,
                found: '0',
                expected: EXPECTED_LETTER
            }
        );
        assert_eq!(
            err("RSSMRA85T101562S"),
            FiscalCodeError::Character {
                position: 12,
                found: '1',
                expected: EXPECTED_LETTER
            }
        );
        assert_eq!(
            err("RSSMRA85710A562S"),
            FiscalCodeError::Character {
                position: 9,
                found: '7',
                expected: EXPECTED_LETTER
            }
        );
    }

    #[test]
    fn i1_a_non_omocodia_letter_where_a_digit_belongs_is_rejected() {
        assert_eq!(
            err("RSSMRA8AT10A562S"),
            FiscalCodeError::Character {
                position: 8,
                found: 'A',
                expected: EXPECTED_DIGIT
            }
        );
        // 'O' is not an omocodia letter (the series skips it).
        assert_eq!(
            err("RSSMRA85T1OA562S"),
            FiscalCodeError::Character {
                position: 11,
                found: 'O',
                expected: EXPECTED_DIGIT
            }
        );
    }

    #[test]
    fn i1_inner_spaces_and_non_ascii_are_rejected() {
        assert_eq!(
            err("RSSMRA 5T10A562S"),
            FiscalCodeError::Character {
                position: 7,
                found: ' ',
                expected: EXPECTED_DIGIT
            }
        );
        assert_eq!(
            err("RSSMRÀ85T10A562S"),
            FiscalCodeError::Character {
                position: 6,
                found: 'À',
                expected: EXPECTED_LETTER
            }
        );
        assert_eq!(
            err("RSSMRA85T10A562Ś"),
            FiscalCodeError::Character {
                position: 16,
                found: 'Ś',
                expected: EXPECTED_LETTER
            }
        );
        // Full-width digits are not ASCII digits.
        assert!(matches!(
            err("RSSMRA８5T10A562S"),
            FiscalCodeError::Character { position: 7, .. }
        ));
    }

    #[test]
    fn i1_check_character_rejects_malformed_bodies() {
        assert_eq!(FiscalCode::check_character(""), None);
        assert_eq!(FiscalCode::check_character("RSSMRA85T10A56"), None);
        assert_eq!(FiscalCode::check_character("RSSMRA85T10A562S"), None);
        assert_eq!(FiscalCode::check_character(" RSSMRA85T10A56"), None);
        assert_eq!(FiscalCode::check_character("RSSMRA85T10A56Ś"), None);
        assert_eq!(FiscalCode::check_character("RSSMRA85F10A562"), None);
        assert_eq!(FiscalCode::check_character("RSSMRA85T32A562"), None);
        assert_eq!(FiscalCode::check_character("RSSMRA85D31A562"), None);
        assert_eq!(FiscalCode::check_character("123456789012345"), None);
    }

    #[test]
    fn i1_errors_have_the_contract_code_and_say_what_is_wrong() {
        let cases = [
            ("RSSMRA85T10A56", "16 characters, this one has 14"),
            ("RSSMR085T10A562S", "character 6"),
            ("RSSMRA85F10A562S", "month letter"),
            ("RSSMRA85T32A562S", "day"),
            ("RSSMRA85T10A562X", "expected 'S'"),
        ];
        for (input, needle) in cases {
            let e = err(input);
            assert_eq!(e.code(), "invalid_fiscal_code");
            let message = e.to_string();
            assert!(message.contains(needle), "{input}: {message}");
        }
    }

    #[test]
    fn i1_string_conversions() {
        let code: FiscalCode = "rssmra85t10a562s".parse().unwrap();
        assert_eq!(code.to_string(), "RSSMRA85T10A562S");
        assert_eq!(
            FiscalCode::try_from(String::from("RSSMRA85T10A562S")).unwrap(),
            code
        );
        assert_eq!(String::from(code), "RSSMRA85T10A562S");
        assert!(FiscalCode::try_from(String::from("RSSMRA85T10A562X")).is_err());
    }

    #[test]
    fn i1_serde_round_trip() {
        let code = FiscalCode::parse("MRTMTT25D09F205Z").unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, "\"MRTMTT25D09F205Z\"");
        let back: FiscalCode = serde_json::from_str(&json).unwrap();
        assert_eq!(back, code);
        // Deserialising normalises too.
        let lower: FiscalCode = serde_json::from_str("\"mrtmtt25d09f205z\"").unwrap();
        assert_eq!(lower, code);
        let padded: FiscalCode = serde_json::from_str("\" MRTMTT25D09F205Z\\t\"").unwrap();
        assert_eq!(padded.as_str(), "MRTMTT25D09F205Z");
    }

    #[test]
    fn i1_serde_rejects_invalid_codes() {
        let e = serde_json::from_str::<FiscalCode>("\"RSSMRA85T10A562X\"").unwrap_err();
        assert!(e.to_string().contains("check character"), "{e}");
        let e = serde_json::from_str::<FiscalCode>("\"RSSMRA85T10A562\"").unwrap_err();
        assert!(e.to_string().contains("16 characters"), "{e}");
        assert!(serde_json::from_str::<FiscalCode>("1234").is_err());
        assert!(serde_json::from_str::<FiscalCode>("null").is_err());
    }

    /// A valid 15-character body, possibly omocodic and in lower case, with
    /// its day of birth, month and sex.
    fn valid_body() -> impl Strategy<Value = (String, u8, u8, bool)> {
        (
            "[A-Z]{6}",
            0u8..100,
            1u8..=12,
            0u8..31,
            any::<bool>(),
            "[A-Z]",
            0u16..1000,
            0u8..128,
            any::<bool>(),
        )
            .prop_map(
                |(names, year, month, raw_day, female, place, number, mask, lower)| {
                    let day = raw_day % month_length(month) + 1;
                    let field = if female { day + 40 } else { day };
                    let digits = format!("{year:02}{field:02}{number:03}").into_bytes();
                    let mut encoded = digits.clone();
                    for (bit, c) in encoded.iter_mut().enumerate() {
                        if mask & (1 << bit) != 0 {
                            *c = OMOCODIA[usize::from(*c - b'0')];
                        }
                    }
                    let e =
                        |r: std::ops::Range<usize>| String::from_utf8(encoded[r].to_vec()).unwrap();
                    let body = format!(
                        "{names}{}{}{}{place}{}",
                        e(0..2),
                        char::from(MONTHS[usize::from(month) - 1]),
                        e(2..4),
                        e(4..7)
                    );
                    let body = if lower {
                        body.to_ascii_lowercase()
                    } else {
                        body
                    };
                    (body, day, month, female)
                },
            )
    }

    proptest! {
        #[test]
        fn i1_prop_valid_body_with_its_check_character_parses(
            (body, day, month, female) in valid_body()
        ) {
            let check = FiscalCode::check_character(&body);
            prop_assert!(check.is_some(), "{}", body);
            let check = check.unwrap();
            prop_assert!(check.is_ascii_uppercase());
            let code = FiscalCode::parse(&format!("{body}{check}"));
            prop_assert!(code.is_ok(), "{}{}: {:?}", body, check, code);
            let code = code.unwrap();
            prop_assert_eq!(code.as_str(), format!("{body}{check}").to_ascii_uppercase());
            prop_assert_eq!(code.birth_day(), day);
            prop_assert_eq!(code.birth_month(), month);
            prop_assert_eq!(code.is_female(), female);
            prop_assert_eq!(FiscalCode::parse(code.as_str()), Ok(code.clone()));
        }

        /// A string taken as it is (deserialised) and one parsed from text
        /// are judged alike, and normalised alike.
        #[test]
        fn i1_prop_try_from_a_string_is_parse(
            text in prop_oneof![
                "[ \t]{0,2}[A-Za-z0-9]{16}[ \t]{0,2}",
                valid_body().prop_map(|(body, ..)| {
                    let check = FiscalCode::check_character(&body).unwrap();
                    format!(" {body}{check}")
                }),
                valid_body().prop_map(|(body, ..)| {
                    let check = FiscalCode::check_character(&body).unwrap();
                    format!("{}{check}", body.to_ascii_uppercase())
                }),
                ".{0,20}",
            ]
        ) {
            prop_assert_eq!(FiscalCode::try_from(text.clone()), FiscalCode::parse(&text));
        }

        #[test]
        fn i1_prop_any_other_check_character_is_rejected(
            (body, _day, _month, _female) in valid_body()
        ) {
            let expected = FiscalCode::check_character(&body).unwrap();
            for found in ('A'..='Z').filter(|&c| c != expected) {
                prop_assert_eq!(
                    FiscalCode::parse(&format!("{body}{found}")),
                    Err(FiscalCodeError::CheckCharacter { expected, found })
                );
            }
        }

        #[test]
        fn i1_prop_parse_never_panics_and_accepted_codes_are_canonical(input in "\\PC{0,20}") {
            if let Ok(code) = FiscalCode::parse(&input) {
                prop_assert_eq!(code.as_str().len(), 16);
                prop_assert_eq!(code.as_str(), input.trim().to_ascii_uppercase());
            }
        }
    }
}
