//! Amounts: money `NUMERIC(14,2)`, quantities `NUMERIC(12,3)`, tax rates
//! `NUMERIC(5,2)` percent. Read exactly (from a JSON string or a JSON
//! number's own digits, never through a float) and refused, not rounded,
//! when they have more decimals than their column or do not fit it.

use std::fmt;
use std::str::FromStr;

use bigdecimal::{BigDecimal, RoundingMode, Zero};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// A decimal as the client wrote it: `"12.50"` or `12.5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalInput(String);

/// Longer inputs are refused before parsing (no column needs more).
const MAX_INPUT_LEN: usize = 40;

impl<'de> Deserialize<'de> for DecimalInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(deserializer)?;
        let text = raw.get().trim();
        let digits = if text.starts_with('"') {
            serde_json::from_str::<String>(text).map_err(de::Error::custom)?
        } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            text.to_owned()
        } else {
            return Err(de::Error::custom(
                "must be a decimal number or a string holding one",
            ));
        };
        Ok(Self(digits))
    }
}

impl DecimalInput {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// Parses into a decimal of at most `scale` decimals whose magnitude
    /// stays below 10^`integer_digits`.
    fn parse(&self, scale: i64, integer_digits: u32) -> Result<BigDecimal, String> {
        let text = self.0.trim();
        if text.len() > MAX_INPUT_LEN {
            return Err(format!(
                "must be a decimal number of at most {MAX_INPUT_LEN} characters"
            ));
        }
        let plain = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
        let value = plain
            .then(|| BigDecimal::from_str(text).ok())
            .flatten()
            .ok_or_else(|| format!("must be a decimal number, not {text:?}"))?;
        let limit = BigDecimal::from(10u64.pow(integer_digits));
        if value.abs() >= limit {
            return Err(format!("must be less than {limit} in magnitude"));
        }
        let normalized = value.normalized();
        if normalized.fractional_digit_count() > scale {
            return Err(format!("must have at most {scale} decimal places"));
        }
        Ok(normalized.with_scale(scale))
    }
}

/// A string schema of decimals with exactly `scale` places, for responses.
fn decimal_schema(scale: usize, description: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^-?[0-9]+\\.[0-9]{{{scale}}}$")))
        .description(Some(description))
        .examples([serde_json::Value::from(example)])
        .into()
}

impl PartialSchema for DecimalInput {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$")),
            )
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .description(Some(
                "A decimal, as a string (\"12.50\") or a JSON number (12.5), read exactly; \
                 more decimals than the field allows are refused, not rounded.",
            ))
            .into()
    }
}

impl ToSchema for DecimalInput {}

/// Renders with exactly `scale` decimals (never exponent notation).
fn plain(value: &BigDecimal, scale: i64) -> String {
    value
        .with_scale_round(scale, RoundingMode::HalfUp)
        .to_plain_string()
}

macro_rules! decimal_type {
    ($name:ident, scale = $scale:literal, integer_digits = $digits:literal, example = $example:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(BigDecimal);

        impl $name {
            pub const SCALE: i64 = $scale;

            /// Wraps a value read from its column (already of the right scale).
            pub fn from_db(value: BigDecimal) -> Self {
                Self(value.with_scale_round($scale, RoundingMode::HalfUp))
            }

            pub fn value(&self) -> &BigDecimal {
                &self.0
            }

            pub fn into_inner(self) -> BigDecimal {
                self.0
            }

            fn parse_any(input: &DecimalInput) -> Result<Self, String> {
                input.parse($scale, $digits).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&plain(&self.0, $scale))
            }
        }

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                decimal_schema($scale, $doc, $example)
            }
        }

        impl ToSchema for $name {}

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    };
}

decimal_type!(
    Money,
    scale = 2,
    integer_digits = 12,
    example = "1250.00",
    "An amount of money: `NUMERIC(14,2)`, shown with 2 decimals."
);
decimal_type!(
    Quantity,
    scale = 3,
    integer_digits = 9,
    example = "1.500",
    "A quantity: `NUMERIC(12,3)`, shown with 3 decimals."
);
decimal_type!(
    TaxRate,
    scale = 2,
    integer_digits = 3,
    example = "19.00",
    "A tax rate in percent: `NUMERIC(5,2)`, 0 to 100."
);

impl Money {
    pub fn zero() -> Self {
        Self(BigDecimal::zero().with_scale(2))
    }

    /// A price: zero or more.
    pub fn parse_non_negative(input: &DecimalInput) -> Result<Self, String> {
        let value = Self::parse_any(input)?;
        if value.0 < BigDecimal::zero() {
            return Err("must not be negative".into());
        }
        Ok(value)
    }

    /// A payment: more than zero.
    pub fn parse_positive(input: &DecimalInput) -> Result<Self, String> {
        let value = Self::parse_any(input)?;
        if value.0 <= BigDecimal::zero() {
            return Err("must be more than 0".into());
        }
        Ok(value)
    }

    /// Whether the value fits `NUMERIC(14,2)`.
    pub fn fits_column(value: &BigDecimal) -> bool {
        value.abs() < 1_000_000_000_000u64
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl std::ops::Sub for &Money {
    type Output = Money;

    fn sub(self, other: &Money) -> Money {
        Money(&self.0 - &other.0)
    }
}

impl std::ops::Add for &Money {
    type Output = Money;

    fn add(self, other: &Money) -> Money {
        Money(&self.0 + &other.0)
    }
}

impl Quantity {
    pub fn parse(input: &DecimalInput) -> Result<Self, String> {
        let value = Self::parse_any(input)?;
        if value.0 <= BigDecimal::zero() {
            return Err("must be more than 0".into());
        }
        Ok(value)
    }
}

impl TaxRate {
    pub fn zero() -> Self {
        Self(BigDecimal::zero().with_scale(2))
    }

    pub fn parse(input: &DecimalInput) -> Result<Self, String> {
        let value = Self::parse_any(input)?;
        if value.0 < BigDecimal::zero() || value.0 > 100 {
            return Err("must be a percentage from 0 to 100".into());
        }
        Ok(value)
    }
}

/// A line's derived amounts, as the database computes them in its
/// generated columns: rounded half away from zero to cents, per line.
pub fn line_amounts(
    quantity: &Quantity,
    unit_price: &Money,
    tax_rate: &TaxRate,
) -> (BigDecimal, BigDecimal) {
    let subtotal = (&quantity.0 * &unit_price.0).with_scale_round(2, RoundingMode::HalfUp);
    let tax =
        (&subtotal * &tax_rate.0 / BigDecimal::from(100)).with_scale_round(2, RoundingMode::HalfUp);
    (subtotal, tax)
}

/// A currency: three upper-case letters (ISO 4217), like `EUR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(value.to_owned()))
        } else {
            Err("must be three upper-case letters (ISO 4217), like EUR".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Result<String, String> {
        Money::parse_non_negative(&DecimalInput::new(text)).map(|m| m.to_string())
    }

    #[test]
    fn money_is_read_exactly_and_shown_with_two_decimals() {
        assert_eq!(money("12.5").unwrap(), "12.50");
        assert_eq!(money("0").unwrap(), "0.00");
        assert_eq!(money(" 7 ").unwrap(), "7.00");
        assert_eq!(money("1e2").unwrap(), "100.00");
        assert_eq!(
            money("12.500").unwrap(),
            "12.50",
            "trailing zeros are not extra decimals"
        );
        assert_eq!(money("999999999999.99").unwrap(), "999999999999.99");
        assert!(
            money("19.990000000000002")
                .unwrap_err()
                .contains("decimal places")
        );
        assert!(money("1.005").unwrap_err().contains("decimal places"));
        assert!(money("1000000000000").unwrap_err().contains("less than"));
        assert!(money("1e1000000").unwrap_err().contains("less than"));
        assert!(money("-0.01").unwrap_err().contains("negative"));
        for bad in ["", "abc", "1,5", "0x10", "NaN", "Infinity", "1.2.3", "--1"] {
            assert!(money(bad).is_err(), "{bad}");
        }
        assert!(money(&"1".repeat(41)).is_err());
    }

    #[test]
    fn json_numbers_keep_their_digits() {
        let input: DecimalInput = serde_json::from_str("19.990000000000002").unwrap();
        assert!(Money::parse_non_negative(&input).is_err());
        let input: DecimalInput = serde_json::from_str("0.1").unwrap();
        assert_eq!(
            Money::parse_non_negative(&input).unwrap().to_string(),
            "0.10"
        );
        let input: DecimalInput = serde_json::from_str("\"12.50\"").unwrap();
        assert_eq!(
            Money::parse_non_negative(&input).unwrap().to_string(),
            "12.50"
        );
        assert!(serde_json::from_str::<DecimalInput>("true").is_err());
        assert!(serde_json::from_str::<DecimalInput>("[1]").is_err());
    }

    #[test]
    fn quantities_and_rates_have_their_own_rules() {
        let quantity = |t: &str| Quantity::parse(&DecimalInput::new(t)).map(|q| q.to_string());
        assert_eq!(quantity("1.5").unwrap(), "1.500");
        assert!(quantity("0").is_err());
        assert!(quantity("-1").is_err());
        assert!(quantity("0.0001").is_err());
        assert!(quantity("1000000000").is_err());
        let rate = |t: &str| TaxRate::parse(&DecimalInput::new(t)).map(|r| r.to_string());
        assert_eq!(rate("19").unwrap(), "19.00");
        assert_eq!(rate("100").unwrap(), "100.00");
        assert!(rate("100.01").is_err());
        assert!(rate("-1").is_err());
        assert!(rate("7.125").is_err());
    }

    #[test]
    fn line_amounts_round_half_away_from_zero_per_line() {
        let q = |t: &str| Quantity::parse(&DecimalInput::new(t)).unwrap();
        let m = |t: &str| Money::parse_non_negative(&DecimalInput::new(t)).unwrap();
        let r = |t: &str| TaxRate::parse(&DecimalInput::new(t)).unwrap();
        let (subtotal, tax) = line_amounts(&q("1.5"), &m("0.05"), &r("19"));
        assert_eq!(
            (plain(&subtotal, 2), plain(&tax, 2)),
            ("0.08".into(), "0.02".into())
        );
        let (subtotal, tax) = line_amounts(&q("0.333"), &m("10.00"), &r("50"));
        assert_eq!(
            (plain(&subtotal, 2), plain(&tax, 2)),
            ("3.33".into(), "1.67".into())
        );
    }

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert!(Currency::parse("EUR").is_ok());
        for bad in ["eur", "EU", "EURO", "E1R", "ÄÖÜ", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }
}
