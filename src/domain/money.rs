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

/// A decimal as the client wrote it: a string of plain digits (`"12.50"`)
/// or a JSON number (`12.5`, `1.25e1`), kept as its own text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalInput {
    text: String,
    quoted: bool,
}

/// Longer inputs are refused before parsing (no column needs more).
const MAX_INPUT_LEN: usize = 40;

impl<'de> Deserialize<'de> for DecimalInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(deserializer)?;
        let text = raw.get().trim();
        if text.starts_with('"') {
            let text = serde_json::from_str::<String>(text).map_err(de::Error::custom)?;
            Ok(Self::string(text))
        } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            Ok(Self::number(text))
        } else {
            Err(de::Error::custom(
                "must be a decimal number or a string holding one",
            ))
        }
    }
}

/// `digits` or `digits.digits`: the documented string form.
fn is_plain_decimal(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "1"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

impl DecimalInput {
    /// What a JSON string held.
    pub fn string(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            quoted: true,
        }
    }

    /// A JSON number's text (JSON's grammar, exponents included).
    pub fn number(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            quoted: false,
        }
    }

    /// Parses into a decimal of at most `scale` decimals whose magnitude
    /// stays below 10^`integer_digits`.
    fn parse(&self, scale: i64, integer_digits: u32) -> Result<BigDecimal, String> {
        let text = self.text.as_str();
        if text.len() > MAX_INPUT_LEN {
            return Err(format!(
                "must be a decimal number of at most {MAX_INPUT_LEN} characters"
            ));
        }
        if self.quoted && !is_plain_decimal(text) {
            return Err(format!(
                "must be a decimal like \"12.50\" (digits, a point, digits), not {text:?}"
            ));
        }
        let value = BigDecimal::from_str(text)
            .map_err(|_| format!("must be a decimal number, not {text}"))?;
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

/// The schema of a decimal input: a string of plain digits or a JSON
/// number, in [minimum, maximum] (exclusive at 0 when `positive`), with at
/// most `scale` decimals and `integer_digits` digits before the point.
fn input_schema(
    integer_digits: usize,
    scale: usize,
    positive: bool,
    maximum: f64,
    what: &str,
) -> Schema {
    let number = ObjectBuilder::new()
        .schema_type(Type::Number)
        .maximum(Some(maximum));
    let number = if positive {
        number.exclusive_minimum(Some(0))
    } else {
        number.minimum(Some(0))
    };
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!(
                    "^0*[0-9]{{1,{integer_digits}}}(\\.[0-9]{{1,{scale}}}0*)?$"
                ))),
        )
        .item(number)
        .description(Some(format!(
            "{what}: a string (\"12.50\") or a JSON number, read exactly; at most {scale} decimals \
             (more are refused, not rounded)."
        )))
        .into()
}

/// Schema of a quantity input (more than 0, 3 decimals).
pub fn quantity_input_schema() -> Schema {
    input_schema(9, 3, true, 999_999_999.999, "More than 0")
}

/// Schema of a price input (0 or more, 2 decimals).
pub fn price_input_schema() -> Schema {
    input_schema(12, 2, false, 999_999_999_999.99, "0 or more")
}

/// Schema of a payment amount input (more than 0, 2 decimals).
pub fn amount_input_schema() -> Schema {
    input_schema(12, 2, true, 999_999_999_999.99, "More than 0")
}

/// Schema of a tax rate input (percent, 0 to 100, 2 decimals).
pub fn tax_rate_input_schema() -> Schema {
    input_schema(3, 2, false, 100.0, "Percent, 0 to 100")
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

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
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
    let tax = super::tax::document_tax(&subtotal, &tax_rate.0);
    (subtotal, tax)
}

/// The ISO 4217 codes the official EN 16931 Schematron (1.3.16) accepts
/// (BR-CL-04), sorted.
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHE", "CHF", "CHW", "CLF", "CLP", "CNH", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK",
    "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD",
    "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD",
    "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT",
    "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
    "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP",
    "STD", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS",
    "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST",
    "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF",
    "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG",
];

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

    /// Whether `code` is a current ISO 4217 code (what an e-invoice needs;
    /// the API takes any three letters, as it always has).
    pub fn is_iso_4217(code: &str) -> bool {
        ISO_4217.binary_search(&code).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Result<String, String> {
        Money::parse_non_negative(&DecimalInput::string(text)).map(|m| m.to_string())
    }

    fn money_number(text: &str) -> Result<String, String> {
        Money::parse_non_negative(&DecimalInput::number(text)).map(|m| m.to_string())
    }

    #[test]
    fn money_is_read_exactly_and_shown_with_two_decimals() {
        assert_eq!(money("12.5").unwrap(), "12.50");
        assert_eq!(money("0").unwrap(), "0.00");
        assert_eq!(money("007.50").unwrap(), "7.50");
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
        // Strings hold plain digits only; JSON numbers follow JSON's grammar.
        for bad in [
            "", " 7 ", "1e2", "+5", ".5", "5.", "-0.01", "abc", "1,5", "0x10", "NaN", "Infinity",
            "1.2.3",
        ] {
            assert!(money(bad).is_err(), "{bad:?}");
        }
        assert!(money(&"1".repeat(41)).is_err());
        assert_eq!(money_number("1e2").unwrap(), "100.00");
        assert_eq!(money_number("1.25E1").unwrap(), "12.50");
        assert!(money_number("1e1000000").unwrap_err().contains("less than"));
        assert!(money_number("-0.01").unwrap_err().contains("negative"));
        assert_eq!(money_number("-0").unwrap(), "0.00");
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
        let quantity = |t: &str| Quantity::parse(&DecimalInput::string(t)).map(|q| q.to_string());
        assert_eq!(quantity("1.5").unwrap(), "1.500");
        assert!(quantity("0").is_err());
        assert!(Quantity::parse(&DecimalInput::number("-1")).is_err());
        assert!(quantity("0.0001").is_err());
        assert!(quantity("1000000000").is_err());
        let rate = |t: &str| TaxRate::parse(&DecimalInput::string(t)).map(|r| r.to_string());
        assert_eq!(rate("19").unwrap(), "19.00");
        assert_eq!(rate("100").unwrap(), "100.00");
        assert!(rate("100.01").is_err());
        assert!(TaxRate::parse(&DecimalInput::number("-1")).is_err());
        assert!(rate("7.125").is_err());
    }

    #[test]
    fn line_amounts_round_half_away_from_zero_per_line() {
        let q = |t: &str| Quantity::parse(&DecimalInput::string(t)).unwrap();
        let m = |t: &str| Money::parse_non_negative(&DecimalInput::string(t)).unwrap();
        let r = |t: &str| TaxRate::parse(&DecimalInput::string(t)).unwrap();
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
    fn iso_4217_codes_are_known() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
        assert!(Currency::is_iso_4217("EUR") && Currency::is_iso_4217("CHF"));
        assert!(!Currency::is_iso_4217("XYZ"));
    }

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert!(Currency::parse("EUR").is_ok());
        for bad in ["eur", "EU", "EURO", "E1R", "ÄÖÜ", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }
}
