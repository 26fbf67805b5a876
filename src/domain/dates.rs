use chrono::NaiveDate;

/// A business date, strictly `YYYY-MM-DD` and real (no 2026-02-30).
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
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text} is not a date that exists"))
}

#[cfg(test)]
mod tests {
    use super::parse_date;

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
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }
}
