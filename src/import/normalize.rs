//! Turning the legacy file's loosely typed values into ours, where that
//! needs no guess; everything else is an error for the row.
//!
//! What the legacy application wrote (see legacy/schema.sql): dates and
//! timestamps as text in several shapes or as integer epoch seconds; amounts
//! as REAL (with binary noise), INTEGER or TEXT; statuses in any letter case
//! and under legacy names; empty strings where NULL was meant.

use std::str::FromStr;

use bigdecimal::{BigDecimal, RoundingMode};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::domain::{InvoiceStatus, PaymentMethod};

/// One value as SQLite holds it: its storage class and its text form
/// (`CAST(x AS TEXT)`; REAL renders with 15 significant digits, which drops
/// binary noise such as 19.990000000000002), borrowed from the batch it
/// was read into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyValue<'a> {
    pub kind: Kind,
    pub text: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Integer,
    Real,
    Text,
    /// TEXT whose bytes are not UTF-8 (SQLite does not check): read with
    /// replacement characters, so never imported as text.
    InvalidText,
    Blob,
}

impl<'a> LegacyValue<'a> {
    #[cfg(test)]
    pub fn null() -> Self {
        Self {
            kind: Kind::Null,
            text: None,
        }
    }

    /// The value as it appears in a report.
    pub fn shown(&self) -> String {
        self.text.unwrap_or_default().to_owned()
    }

    /// Trimmed text; `None` for NULL and for empty or blank strings.
    pub fn trimmed(&self) -> Option<&'a str> {
        match self.kind {
            Kind::Null => None,
            _ => self.text.map(str::trim).filter(|t| !t.is_empty()),
        }
    }
}

/// Optional text: trimmed, empty → NULL; at most `max` characters.
pub fn text(value: &LegacyValue, max: usize) -> Result<Option<String>, String> {
    match value.kind {
        Kind::Blob => return Err("is binary data, not text".into()),
        Kind::InvalidText => return Err("is not valid UTF-8 text".into()),
        _ => {}
    }
    match value.trimmed() {
        None => Ok(None),
        Some(text) if text.contains('\0') => Err("contains a NUL character".into()),
        Some(text) if text.chars().count() > max => Err(format!(
            "is longer than {max} characters ({})",
            text.chars().count()
        )),
        Some(text) => Ok(Some(text.to_owned())),
    }
}

/// A decimal rounded (half away from zero) to `scale`: REAL, INTEGER, or
/// TEXT holding plain decimal digits (`' 7 '`, `'12.50'`, `'-3'`).
pub fn amount(value: &LegacyValue, scale: i64) -> Result<Option<BigDecimal>, String> {
    let Some(text) = value.trimmed() else {
        return Ok(None);
    };
    if matches!(value.kind, Kind::Integer | Kind::Real | Kind::Text)
        && let Some((mantissa, digits_scale)) = small_plain_decimal(text)
    {
        return small_amount(mantissa, digits_scale, scale).map(Some);
    }
    let parsed = match value.kind {
        Kind::Integer | Kind::Real => BigDecimal::from_str(text).ok(),
        Kind::Text => {
            let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
            let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
            let plain = !whole.is_empty()
                && !fraction.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && fraction.bytes().all(|b| b.is_ascii_digit())
                && text.len() <= 40;
            if plain {
                BigDecimal::from_str(text).ok()
            } else {
                None
            }
        }
        Kind::Null | Kind::InvalidText | Kind::Blob => None,
    };
    let parsed = parsed.ok_or_else(|| "is not a number".to_owned())?;
    if parsed.abs() >= 10u64.pow(15) {
        return Err("is too large".into());
    }
    Ok(Some(parsed.with_scale_round(scale, RoundingMode::HalfUp)))
}

/// Plain decimal text (`-12.50`, `7`; digits on both sides of a point)
/// of at most 30 digits, as an integer and its scale: what nearly every
/// legacy amount is, decided without a big-number parse. Anything else
/// (exponents, more digits) is `None` and goes the general way.
fn small_plain_decimal(text: &str) -> Option<(i128, u32)> {
    let (negative, digits) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        all => (false, all),
    };
    let (whole, fraction) = match digits.iter().position(|b| *b == b'.') {
        Some(point) => (&digits[..point], &digits[point + 1..]),
        None => (digits, &[][..]),
    };
    let has_point = whole.len() < digits.len();
    if whole.is_empty() || (has_point && fraction.is_empty()) || whole.len() + fraction.len() > 30 {
        return None;
    }
    let mut mantissa: i128 = 0;
    for byte in whole.iter().chain(fraction) {
        if !byte.is_ascii_digit() {
            return None;
        }
        mantissa = mantissa * 10 + i128::from(byte - b'0');
    }
    Some((
        if negative { -mantissa } else { mantissa },
        fraction.len() as u32,
    ))
}

/// `mantissa` / 10^`digits_scale`, checked as `amount` checks and rounded
/// half away from zero to `scale`.
fn small_amount(mantissa: i128, digits_scale: u32, scale: i64) -> Result<BigDecimal, String> {
    let magnitude = mantissa.unsigned_abs();
    // 10^15 at the digits' scale; beyond a u128 it is more than 30 digits.
    if 10u128
        .checked_pow(15 + digits_scale)
        .is_some_and(|limit| magnitude >= limit)
    {
        return Err("is too large".into());
    }
    let target = scale as u32;
    let rounded = if digits_scale > target {
        let divisor = 10u128.pow(digits_scale - target);
        let (quotient, remainder) = (magnitude / divisor, magnitude % divisor);
        quotient + u128::from(remainder * 2 >= divisor)
    } else {
        magnitude * 10u128.pow(target - digits_scale)
    };
    let signed = i128::try_from(rounded).expect("under 10^31") * mantissa.signum();
    Ok(BigDecimal::new(signed.into(), scale))
}

/// Epoch seconds (INTEGER, REAL or digits in TEXT) as an instant.
fn from_epoch(text: &str) -> Option<DateTime<Utc>> {
    let seconds = f64::from_str(text).ok()?;
    if !seconds.is_finite() || seconds.abs() > 253_402_300_799.0 {
        return None;
    }
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9).round() as u32;
    Utc.timestamp_opt(whole as i64, nanos.min(999_999_999))
        .single()
}

fn looks_like_epoch(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// `n` ASCII digits at `at`, as a number.
fn digits(bytes: &[u8], at: usize, n: usize) -> Option<u32> {
    let slice = bytes.get(at..at + n)?;
    slice.iter().try_fold(0u32, |value, b| {
        b.is_ascii_digit().then(|| value * 10 + u32::from(b - b'0'))
    })
}

/// The shapes of text timestamps the legacy application wrote:
/// `YYYY-MM-DD`, then optionally `T` or a space, `HH:MM`, `:SS`, a fraction,
/// and `Z` or `±HH:MM`. Those without an offset are UTC (what SQLite's
/// CURRENT_TIMESTAMP gives). Parsed by hand: this runs for every
/// timestamp of the file.
fn parse_text_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    if b.len() == 10 {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc());
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let (hour, minute) = (digits(b, 11, 2)?, digits(b, 14, 2)?);
    let mut at = 16;
    let (mut second, mut nanos) = (0, 0);
    if b.get(at) == Some(&b':') {
        second = digits(b, at + 1, 2)?;
        at += 3;
        if b.get(at) == Some(&b'.') {
            let count = b[at + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if count == 0 || count > 9 {
                return None;
            }
            nanos = digits(b, at + 1, count)? * 10u32.pow(9 - count as u32);
            at += 1 + count;
        }
    }
    let naive = date.and_time(NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?);
    let offset_seconds = match b.get(at..) {
        Some([]) | Some([b'Z' | b'z']) => 0,
        Some([sign @ (b'+' | b'-'), _, _, b':', _, _]) => {
            let magnitude = (digits(b, at + 1, 2)? * 3600 + digits(b, at + 4, 2)? * 60) as i64;
            if *sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return None,
    };
    Some((naive - Duration::seconds(offset_seconds)).and_utc())
}

/// A point in time, from any of the legacy shapes.
pub fn timestamp(value: &LegacyValue) -> Result<Option<DateTime<Utc>>, String> {
    let Some(text) = value.trimmed() else {
        return Ok(None);
    };
    let parsed = match value.kind {
        Kind::Integer | Kind::Real => from_epoch(text),
        Kind::Text if looks_like_epoch(text) => from_epoch(text),
        Kind::Text => parse_text_timestamp(text),
        Kind::Null | Kind::InvalidText | Kind::Blob => None,
    };
    parsed
        .map(Some)
        .ok_or_else(|| "is not a date and time".to_owned())
}

/// A business date. Text keeps the date as written (`2024-03-01T23:30-05:00`
/// is March 1st), after checking the whole value is a valid timestamp;
/// epoch seconds are dated in UTC.
pub fn date(value: &LegacyValue) -> Result<Option<NaiveDate>, String> {
    let Some(text) = value.trimmed() else {
        return Ok(None);
    };
    let parsed = match value.kind {
        Kind::Integer | Kind::Real => from_epoch(text).map(|at| at.date_naive()),
        Kind::Text if looks_like_epoch(text) => from_epoch(text).map(|at| at.date_naive()),
        // The whole value was checked; its first ten bytes are the day.
        Kind::Text => parse_text_timestamp(text).and_then(|_| {
            let b = text.as_bytes();
            NaiveDate::from_ymd_opt(digits(b, 0, 4)? as i32, digits(b, 5, 2)?, digits(b, 8, 2)?)
        }),
        Kind::Null | Kind::InvalidText | Kind::Blob => None,
    };
    parsed.map(Some).ok_or_else(|| "is not a date".to_owned())
}

/// A status in any letter case, legacy names included.
pub fn status(value: &LegacyValue) -> Result<InvoiceStatus, String> {
    let text = value.trimmed().ok_or_else(|| "is missing".to_owned())?;
    match text.to_lowercase().as_str() {
        "draft" => Ok(InvoiceStatus::Draft),
        "issued" | "sent" | "overdue" => Ok(InvoiceStatus::Issued),
        "paid" => Ok(InvoiceStatus::Paid),
        "void" | "voided" | "cancelled" | "canceled" => Ok(InvoiceStatus::Void),
        _ => Err("is not a known invoice status".into()),
    }
}

/// A payment method in any letter case and spelling of its separators.
pub fn method(value: &LegacyValue) -> Result<Option<PaymentMethod>, String> {
    let Some(text) = value.trimmed() else {
        return Ok(None);
    };
    let normalized: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect();
    match normalized.as_str() {
        "card" | "credit_card" | "debit_card" => Ok(Some(PaymentMethod::Card)),
        "bank_transfer" | "transfer" | "wire" | "wire_transfer" => {
            Ok(Some(PaymentMethod::BankTransfer))
        }
        "cash" => Ok(Some(PaymentMethod::Cash)),
        "check" | "cheque" => Ok(Some(PaymentMethod::Check)),
        "other" => Ok(Some(PaymentMethod::Other)),
        _ => Err("is not a known payment method".into()),
    }
}

/// A currency in any letter case; missing → the default, when one was given.
pub fn currency(value: &LegacyValue, default: Option<&str>) -> Result<String, String> {
    let text = match (value.trimmed(), default) {
        (Some(text), _) => text.to_uppercase(),
        (None, Some(default)) => return Ok(default.to_owned()),
        (None, None) => return Err("is missing (pass --default-currency to fill it in)".into()),
    };
    if text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(text)
    } else {
        Err("is not a three-letter currency code".into())
    }
}

/// A legacy row id held in a loosely typed column.
pub fn id(value: &LegacyValue) -> Result<i64, String> {
    let text = value.trimmed().ok_or_else(|| "is missing".to_owned())?;
    match value.kind {
        Kind::Integer | Kind::Text => text.parse::<i64>().ok().filter(|id| *id > 0),
        _ => None,
    }
    .ok_or_else(|| "is not a row id".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v<'a>(kind: &str, text: &'a str) -> LegacyValue<'a> {
        let kind = match kind {
            "integer" => Kind::Integer,
            "real" => Kind::Real,
            "text" => Kind::Text,
            "blob" => Kind::Blob,
            other => panic!("no storage class {other}"),
        };
        LegacyValue {
            kind,
            text: Some(text),
        }
    }

    #[test]
    fn every_timestamp_shape_is_the_same_instant() {
        let expected = Utc.with_ymd_and_hms(2024, 3, 1, 14, 5, 0).unwrap();
        for value in [
            v("text", "2024-03-01 14:05:00"),
            v("text", "2024-03-01T14:05:00Z"),
            v("text", "2024-03-01T16:05:00+02:00"),
            v("text", "2024-03-01 16:05:00+02:00"),
            v("text", "2024-03-01 14:05"),
            v("integer", "1709301900"),
            v("text", " 1709301900 "),
            v("real", "1709301900.0"),
        ] {
            assert_eq!(timestamp(&value).unwrap(), Some(expected), "{value:?}");
        }
        let millis = timestamp(&v("text", "2024-03-01 14:05:00.123"))
            .unwrap()
            .unwrap();
        assert_eq!(millis.timestamp_subsec_millis(), 123);
        assert_eq!(
            timestamp(&v("text", "2024-03-01")).unwrap(),
            Some(Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(timestamp(&v("text", "")).unwrap(), None);
        assert_eq!(timestamp(&LegacyValue::null()).unwrap(), None);
        for bad in [
            "yesterday",
            "2024-02-30",
            "01/03/2024",
            "2024-03-01 25:00:00",
            "2024-3-1",
        ] {
            assert!(timestamp(&v("text", bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_keep_the_day_as_written() {
        let march_first = NaiveDate::from_ymd_opt(2024, 3, 1);
        for value in [
            v("text", "2024-03-01"),
            v("text", "2024-03-01 14:05:00"),
            v("text", "2024-03-01T23:30:00-05:00"),
            v("integer", "1709301900"),
        ] {
            assert_eq!(date(&value).unwrap(), march_first, "{value:?}");
        }
        assert!(date(&v("text", "2024-02-30")).is_err());
        assert!(date(&v("text", "2024-03-01 nonsense")).is_err());
    }

    #[test]
    fn amounts_of_every_storage_class_round_to_the_column() {
        let money = |value: LegacyValue| amount(&value, 2).map(|a| a.map(|a| a.to_plain_string()));
        assert_eq!(money(v("real", "19.99")).unwrap().unwrap(), "19.99");
        assert_eq!(money(v("real", "12.5")).unwrap().unwrap(), "12.50");
        assert_eq!(money(v("integer", "7")).unwrap().unwrap(), "7.00");
        assert_eq!(money(v("text", " 7 ")).unwrap().unwrap(), "7.00");
        assert_eq!(money(v("text", "12.50")).unwrap().unwrap(), "12.50");
        assert_eq!(
            money(v("text", "0.125")).unwrap().unwrap(),
            "0.13",
            "half away from zero"
        );
        assert_eq!(money(v("text", "-0.125")).unwrap().unwrap(), "-0.13");
        assert_eq!(money(v("text", "")).unwrap(), None);
        for bad in ["12,50", "$5", "1e3", "abc", "1.2.3"] {
            assert!(money(v("text", bad)).is_err(), "{bad}");
        }
        assert!(money(v("blob", "x")).is_err());
        assert_eq!(money(v("text", "+5")).unwrap().unwrap(), "5.00");
        for bad in ["5.", ".5", "-", "1 000"] {
            assert!(money(v("text", bad)).is_err(), "{bad}");
        }
        assert_eq!(money(v("real", "1.0e-05")).unwrap().unwrap(), "0.00");
        assert_eq!(money(v("real", "1.5e+3")).unwrap().unwrap(), "1500.00");
        assert!(money(v("real", "1.0e+15")).is_err());
        assert!(money(v("integer", "1000000000000000")).is_err());
        assert!(money(v("text", "-1000000000000000.00")).is_err());
        assert_eq!(
            money(v("text", "999999999999999.994")).unwrap().unwrap(),
            "999999999999999.99"
        );
    }

    #[test]
    fn small_amounts_round_as_big_decimals_do() {
        for text in [
            "0.005",
            "-0.005",
            "0.004999",
            "12.345",
            "-12.345",
            "7",
            "0",
            "-0",
            "0.1",
            "19.990000000000002",
            "123456.785",
            "99.995",
            "-99.995",
            "0.0000001",
        ] {
            for scale in [2, 3] {
                let general = BigDecimal::from_str(text)
                    .unwrap()
                    .with_scale_round(scale, RoundingMode::HalfUp);
                let (mantissa, digits_scale) = small_plain_decimal(text).unwrap();
                let small = small_amount(mantissa, digits_scale, scale).unwrap();
                assert_eq!(small, general, "{text} at {scale}");
                assert_eq!(small.to_plain_string(), general.to_plain_string());
            }
        }
    }

    #[test]
    fn statuses_methods_and_currencies_normalise_without_guessing() {
        for (legacy, expected) in [
            ("Draft", InvoiceStatus::Draft),
            ("SENT", InvoiceStatus::Issued),
            ("overdue", InvoiceStatus::Issued),
            ("Issued", InvoiceStatus::Issued),
            ("PAID", InvoiceStatus::Paid),
            ("cancelled", InvoiceStatus::Void),
            ("Canceled", InvoiceStatus::Void),
        ] {
            assert_eq!(status(&v("text", legacy)).unwrap(), expected, "{legacy}");
        }
        assert!(status(&v("text", "pending")).is_err());
        assert!(status(&v("text", "")).is_err());
        assert_eq!(
            method(&v("text", "Bank Transfer")).unwrap(),
            Some(PaymentMethod::BankTransfer)
        );
        assert_eq!(
            method(&v("text", "CHEQUE")).unwrap(),
            Some(PaymentMethod::Check)
        );
        assert_eq!(method(&v("text", "")).unwrap(), None);
        assert!(method(&v("text", "bitcoin")).is_err());
        assert_eq!(currency(&v("text", "eur"), None).unwrap(), "EUR");
        assert_eq!(currency(&v("text", ""), Some("USD")).unwrap(), "USD");
        assert!(currency(&LegacyValue::null(), None).is_err());
        assert!(currency(&v("text", "EURO"), None).is_err());
        assert_eq!(text(&v("text", "  "), 10).unwrap(), None);
        assert!(text(&v("text", "abc"), 2).is_err());
    }
}
