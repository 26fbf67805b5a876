use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A tenant's id: 1–100 characters of `[A-Za-z0-9._-]`, starting with a
/// letter or digit (the same rule as the `accounts_id_format` CHECK).
/// Case-sensitive: `acme` and `Acme` are two accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AccountId(String);

pub const ACCOUNT_ID_RULE: &str =
    "1 to 100 characters of letters, digits, '.', '_' and '-', starting with a letter or digit";

impl AccountId {
    pub fn parse(value: &str) -> Result<Self, String> {
        let valid_length = (1..=100).contains(&value.len());
        let valid_start = value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let valid_chars = value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if valid_length && valid_start && valid_chars {
            Ok(Self(value.to_owned()))
        } else {
            Err(format!("must be {ACCOUNT_ID_RULE}"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::AccountId;

    #[test]
    fn accepts_exactly_what_the_database_accepts() {
        for good in ["a", "0", "Acme", "acme.co_uk-2", &"a".repeat(100)] {
            assert!(AccountId::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "_a",
            "a b",
            "a/b",
            "ä",
            "a\0",
            &"a".repeat(101),
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
