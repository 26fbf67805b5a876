//! Text fields with the limits the schema's CHECKs enforce.

use std::fmt;

/// The characters no text may hold: control characters other than tab,
/// line feed and carriage return (PostgreSQL cannot even store NUL), as the
/// body of a JSON Schema (ECMA 262) character class.
macro_rules! control_class {
    () => {
        r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F"
    };
}

/// OpenAPI `pattern` of optional text: no control characters.
pub const TEXT_PATTERN: &str = concat!("^[^", control_class!(), "]*$");

/// OpenAPI `pattern` of a required name: no control characters, and more
/// than white space.
pub const NAME_PATTERN: &str = concat!(
    "^[^",
    control_class!(),
    "]*[^\\s",
    control_class!(),
    "][^",
    control_class!(),
    "]*$"
);

fn is_forbidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// Checks the length as sent (what the documented limit counts) and the
/// characters, then trims.
fn bounded(value: &str, max: usize) -> Result<String, String> {
    let length = value.chars().count();
    if length > max {
        return Err(format!("must be at most {max} characters (got {length})"));
    }
    if value.chars().any(is_forbidden) {
        return Err("must not contain control characters".into());
    }
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(trimmed.to_owned())
}

/// A required name: 1–`MAX` characters once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name<const MAX: usize = 200>(String);

impl<const MAX: usize> Name<MAX> {
    pub fn parse(value: &str) -> Result<Self, String> {
        bounded(value, MAX).map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Display for Name<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Optional free text of at most `MAX` characters. An empty or blank string
/// means "no value", like null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalText<const MAX: usize>(Option<String>);

impl<const MAX: usize> OptionalText<MAX> {
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None => Ok(Self(None)),
            Some(text) if text.trim().is_empty() => Ok(Self(None)),
            Some(text) => bounded(text, MAX).map(|text| Self(Some(text))),
        }
    }

    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

/// An optional e-mail address: plausibly shaped (one `@`, something on each
/// side, no spaces), at most 254 characters. Deliverability is not our
/// business; typos like a missing `@` are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(Option<String>);

impl Email {
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        let Some(text) = OptionalText::<254>::parse(value)?.into_inner() else {
            return Ok(Self(None));
        };
        let plausible = match text.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !text.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if plausible {
            Ok(Self(Some(text)))
        } else {
            Err("must be an e-mail address like name@example.com".into())
        }
    }

    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_patterns_forbid_exactly_what_the_code_forbids() {
        assert_eq!(
            TEXT_PATTERN,
            r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
        );
        assert!(NAME_PATTERN.contains(r"[^\s\u0000-\u0008"));
        let in_class = |n: u32| {
            n <= 0x08
                || n == 0x0B
                || n == 0x0C
                || (0x0E..=0x1F).contains(&n)
                || (0x7F..=0x9F).contains(&n)
        };
        for n in 0..0x3000u32 {
            if let Some(c) = char::from_u32(n) {
                assert_eq!(is_forbidden(c), in_class(n), "U+{n:04X}");
            }
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::<200>::parse("  Ann  ").unwrap().as_str(), "Ann");
        assert!(Name::<200>::parse("   ").is_err());
        assert!(Name::<200>::parse(&"é".repeat(200)).is_ok());
        assert!(Name::<200>::parse(&"é".repeat(201)).is_err());
        assert!(Name::<200>::parse("a\u{7}b").is_err());
    }

    #[test]
    fn blank_optional_text_is_no_value() {
        assert_eq!(
            OptionalText::<10>::parse(Some(" ")).unwrap().into_inner(),
            None
        );
        assert_eq!(OptionalText::<10>::parse(None).unwrap().into_inner(), None);
        assert!(OptionalText::<3>::parse(Some("abcd")).is_err());
    }

    #[test]
    fn emails_must_look_like_emails() {
        assert!(Email::parse(Some("ann@example.com")).is_ok());
        for bad in [
            "ann",
            "@example.com",
            "ann@",
            "a b@example.com",
            "a@b@c",
            "ann@.com",
        ] {
            assert!(Email::parse(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(Email::parse(Some("")).unwrap().into_inner(), None);
    }
}
