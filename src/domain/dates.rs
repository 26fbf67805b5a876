use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// The earliest year a date or timestamp may have: anything before is a
/// typo (`0026-03-01`), not an invoice.
pub const MIN_YEAR: i32 = 1900;

fn in_range(year: i32) -> Result<(), String> {
    if (MIN_YEAR..=9999).contains(&year) {
        Ok(())
    } else {
        Err(format!("must be between {MIN_YEAR}-01-01 and 9999-12-31"))
    }
}

/// A point in time, RFC 3339 (`2026-03-01T14:05:00Z`), from 1900 to 9999.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let at = DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            format!("must be an RFC 3339 timestamp like 2026-03-01T14:05:00Z, not {text:?}")
        })?;
    in_range(at.year())?;
    Ok(at)
}

/// A business date, strictly `YYYY-MM-DD`, real (no 2026-02-30), from
/// 1900-01-01 to 9999-12-31.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(format!("must be a date as YYYY-MM-DD, not {text:?}"));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text} is not a date that exists"))?;
    in_range(date.year())?;
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::{parse_date, parse_timestamp};

    #[test]
    fn timestamps_are_rfc3339_within_the_years_of_invoices() {
        assert!(parse_timestamp("2026-03-01T14:05:00+02:00").is_ok());
        assert!(parse_timestamp("1900-01-01T00:00:00Z").is_ok());
        for bad in [
            "0001-01-01T00:00:00Z",
            "1899-12-31T23:59:59Z",
            "2026-03-01",
            "now",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_real_iso_dates_are_dates() {
        assert!(parse_date("2024-02-29").is_ok());
        for bad in [
            "2023-02-29",
            "2026-02-30",
            "2026-13-01",
            "2026-1-1",
            "26-01-01",
            "2026/01/01",
            "2026-01-01T00:00:00Z",
            "",
            "0000-01-01",
            "1899-12-31",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }
}
