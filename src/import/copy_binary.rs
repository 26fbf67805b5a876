//! PostgreSQL's binary COPY format: each row a field count, then each field
//! as its length and its bytes in the type's binary form (-1 for NULL).
//!
//! Why binary: the server then takes numbers, dates and timestamps as they
//! are stored instead of parsing their text, and the importer skips
//! formatting them; together about a third of the load's CPU.

use bigdecimal::{BigDecimal, ToPrimitive};
use chrono::{DateTime, NaiveDate, Utc};

/// What a binary COPY stream starts with: the signature, no flags, no
/// header extension.
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// What it ends with: a row of -1 fields.
pub const TRAILER: &[u8] = &(-1i16).to_be_bytes();

/// Microseconds and days from the Unix epoch to PostgreSQL's (2000-01-01).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
const POSTGRES_EPOCH_DAYS: i32 = 10_957;

/// One row being appended to a table's COPY data.
pub struct Row<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Row<'a> {
    /// Starts a row of `fields` fields at the end of `out`.
    pub fn new(out: &'a mut Vec<u8>, fields: i16) -> Self {
        out.extend_from_slice(&fields.to_be_bytes());
        Self { out }
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        let length = i32::try_from(bytes.len()).expect("a field under 2 GB");
        self.out.extend_from_slice(&length.to_be_bytes());
        self.out.extend_from_slice(bytes);
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.out.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        self.field(value.as_bytes())
    }

    pub fn optional_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    pub fn int8(&mut self, value: i64) -> &mut Self {
        self.field(&value.to_be_bytes())
    }

    pub fn int4(&mut self, value: i32) -> &mut Self {
        self.field(&value.to_be_bytes())
    }

    pub fn date(&mut self, value: NaiveDate) -> &mut Self {
        let days = value
            .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date"))
            .num_days();
        let days = i32::try_from(days).expect("dates the service accepts") - POSTGRES_EPOCH_DAYS;
        self.field(&days.to_be_bytes())
    }

    pub fn optional_date(&mut self, value: Option<NaiveDate>) -> &mut Self {
        match value {
            Some(value) => self.date(value),
            None => self.null(),
        }
    }

    pub fn timestamptz(&mut self, value: &DateTime<Utc>) -> &mut Self {
        self.field(&(value.timestamp_micros() - POSTGRES_EPOCH_MICROS).to_be_bytes())
    }

    /// A numeric, keeping its scale. Straight from the decimal's integer
    /// and scale when they are small (every amount the schema holds):
    /// formatting it as text first was a tenth of the importer's time.
    pub fn decimal(&mut self, value: &BigDecimal) -> &mut Self {
        let (mantissa, scale) = value.as_bigint_and_scale();
        let Ok(scale) = u16::try_from(scale) else {
            return self.numeric(&value.to_plain_string());
        };
        // The fraction padded to whole base-10000 digits.
        let padding = (4 - u32::from(scale) % 4) % 4;
        let padded = mantissa
            .to_i128()
            .and_then(|m| m.unsigned_abs().checked_mul(10u128.pow(padding)));
        match padded {
            Some(padded) if scale <= 32 => self.numeric_digits(
                value.sign() == bigdecimal::num_bigint::Sign::Minus,
                padded,
                (u32::from(scale) + padding) as i16 / 4,
                scale,
            ),
            _ => self.numeric(&value.to_plain_string()),
        }
    }

    /// A numeric of `padded` / 10000^`fraction_digits` (base-10000 digits),
    /// shown with `scale` decimals.
    fn numeric_digits(
        &mut self,
        negative: bool,
        mut padded: u128,
        fraction_digits: i16,
        scale: u16,
    ) -> &mut Self {
        // Least significant first; a u128 has at most 10 base-10000 digits.
        let mut digits = [0i16; 10];
        let mut count = 0;
        while padded > 0 {
            digits[count] = (padded % 10_000) as i16;
            padded /= 10_000;
            count += 1;
        }
        // Normalised as PostgreSQL keeps it: no trailing zero digits (and
        // zero is no digits at all, of weight 0).
        let lowest = digits[..count].iter().take_while(|d| **d == 0).count();
        let kept = &digits[lowest..count];
        let (weight, sign) = if kept.is_empty() {
            (0, 0u16)
        } else {
            (
                count as i16 - 1 - fraction_digits,
                if negative { 0x4000 } else { 0 },
            )
        };
        let length = 8 + 2 * kept.len() as i32;
        self.out.extend_from_slice(&length.to_be_bytes());
        self.out
            .extend_from_slice(&(kept.len() as i16).to_be_bytes());
        self.out.extend_from_slice(&weight.to_be_bytes());
        self.out.extend_from_slice(&sign.to_be_bytes());
        self.out.extend_from_slice(&scale.to_be_bytes());
        for digit in kept.iter().rev() {
            self.out.extend_from_slice(&digit.to_be_bytes());
        }
        self
    }

    /// A numeric from its plain decimal text (`-1234.50`, as the domain
    /// types print), keeping its scale.
    pub fn numeric(&mut self, plain: &str) -> &mut Self {
        let (negative, digits) = match plain.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, plain),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let whole = whole.trim_start_matches('0');
        // Base-10000 digits: the whole part grouped from the point left,
        // the fraction from the point right.
        let mut groups: Vec<i16> = Vec::with_capacity(whole.len() / 4 + fraction.len() / 4 + 2);
        let lead = whole.len() % 4;
        if lead > 0 {
            groups.push(whole[..lead].parse().expect("digits"));
        }
        for chunk in whole.as_bytes()[lead..].chunks(4) {
            groups.push(
                std::str::from_utf8(chunk)
                    .expect("ASCII")
                    .parse()
                    .expect("digits"),
            );
        }
        let whole_groups = groups.len() as i16;
        for chunk in fraction.as_bytes().chunks(4) {
            let mut group: i16 = std::str::from_utf8(chunk)
                .expect("ASCII")
                .parse()
                .expect("digits");
            for _ in chunk.len()..4 {
                group *= 10;
            }
            groups.push(group);
        }
        let mut weight = whole_groups - 1;
        // Normalised as PostgreSQL keeps it: no leading or trailing zero
        // groups (zero is no groups at all).
        let leading = groups.iter().take_while(|g| **g == 0).count();
        groups.drain(..leading);
        weight -= leading as i16;
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        let sign: u16 = if negative && !groups.is_empty() {
            0x4000
        } else {
            0
        };
        let dscale = fraction.len() as u16;
        let mut bytes = Vec::with_capacity(8 + 2 * groups.len());
        bytes.extend_from_slice(&(groups.len() as i16).to_be_bytes());
        bytes.extend_from_slice(&weight.to_be_bytes());
        bytes.extend_from_slice(&sign.to_be_bytes());
        bytes.extend_from_slice(&dscale.to_be_bytes());
        for group in groups {
            bytes.extend_from_slice(&group.to_be_bytes());
        }
        self.field(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(plain: &str) -> Vec<u8> {
        let mut out = Vec::new();
        Row::new(&mut out, 1).numeric(plain);
        out[6..].to_vec()
    }

    fn words(values: &[i16]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    #[test]
    fn numerics_are_base_10000_digits_with_weight_sign_and_scale() {
        // ndigits, weight, sign, dscale, digits
        assert_eq!(numeric("1234.50"), words(&[2, 0, 0, 2, 1234, 5000]));
        assert_eq!(numeric("12345.678"), words(&[3, 1, 0, 3, 1, 2345, 6780]));
        assert_eq!(numeric("0.05"), words(&[1, -1, 0, 2, 500]));
        assert_eq!(numeric("0.00"), words(&[0, 0, 0, 2]));
        assert_eq!(numeric("-10000.00"), words(&[1, 1, 0x4000, 2, 1]));
        assert_eq!(numeric("19.00"), words(&[1, 0, 0, 2, 19]));
        assert_eq!(numeric("100"), words(&[1, 0, 0, 0, 100]));
        assert_eq!(numeric("0.000"), words(&[0, 0, 0, 3]));
    }

    #[test]
    fn decimals_encode_as_their_plain_text_does() {
        for plain in [
            "1234.50",
            "12345.678",
            "0.05",
            "0.00",
            "-10000.00",
            "19.00",
            "100",
            "0.000",
            "-0.125",
            "99999999999999.99",
            "0.0001",
            "123456789.123",
            "10000",
            "-1",
        ] {
            let value: BigDecimal = plain.parse().unwrap();
            let mut out = Vec::new();
            Row::new(&mut out, 1).decimal(&value);
            assert_eq!(out[6..], numeric(plain)[..], "{plain}");
        }
        // Beyond a u128: through the text.
        let huge: BigDecimal = "123456789012345678901234567890123456789012.5"
            .parse()
            .unwrap();
        let mut out = Vec::new();
        Row::new(&mut out, 1).decimal(&huge);
        assert_eq!(out[6..], numeric(&huge.to_plain_string())[..]);
    }

    #[test]
    fn dates_and_timestamps_count_from_2000() {
        let mut out = Vec::new();
        Row::new(&mut out, 2)
            .date(NaiveDate::from_ymd_opt(2000, 1, 2).unwrap())
            .timestamptz(&"2000-01-01T00:00:01Z".parse().unwrap());
        assert_eq!(&out[2..10], &[0, 0, 0, 4, 0, 0, 0, 1]);
        assert_eq!(&out[10..14], &[0, 0, 0, 8]);
        assert_eq!(&out[14..22], &1_000_000i64.to_be_bytes());
    }
}
