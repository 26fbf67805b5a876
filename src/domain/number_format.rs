//! Document number formats: text with the tokens `{YYYY}`, `{YY}`, `{MM}`
//! and exactly one `{SEQ}` or `{SEQ:n}` (the sequence, zero-padded to `n`
//! digits), e.g. `{YYYY}-{SEQ:5}` → `2026-00042`.

use chrono::{Datelike, NaiveDate};

use super::status::NumberReset;

/// The longest a rendered number may be (the number columns' limit).
pub const MAX_NUMBER_LEN: usize = 100;

/// The most digits `{SEQ:n}` may pad to.
const MAX_PAD: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Year,
    ShortYear,
    Month,
    Sequence { width: usize },
}

/// A parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberFormat {
    text: String,
    parts: Vec<Part>,
}

impl NumberFormat {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(start) = rest.find(['{', '}']) {
            literal.push_str(&rest[..start]);
            if rest[start..].starts_with('}') {
                return Err("has a '}' without its '{'".into());
            }
            let end = rest[start..]
                .find('}')
                .map(|n| start + n)
                .ok_or("has a '{' without its '}'")?;
            let token = &rest[start + 1..end];
            let part = match token {
                "YYYY" => Part::Year,
                "YY" => Part::ShortYear,
                "MM" => Part::Month,
                "SEQ" => Part::Sequence { width: 1 },
                other => match other.strip_prefix("SEQ:") {
                    Some(width) => {
                        let width: usize = width
                            .parse()
                            .ok()
                            .filter(|w| (1..=MAX_PAD).contains(w))
                            .ok_or(format!("{{{other}}}: pad to 1 to {MAX_PAD} digits"))?;
                        Part::Sequence { width }
                    }
                    None => {
                        return Err(format!(
                            "{{{other}}} is not a token: use {{YYYY}}, {{YY}}, {{MM}}, {{SEQ}} or {{SEQ:n}}"
                        ));
                    }
                },
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = &rest[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        let sequences = parts
            .iter()
            .filter(|p| matches!(p, Part::Sequence { .. }))
            .count();
        if sequences != 1 {
            return Err("must hold exactly one {SEQ} or {SEQ:n}".into());
        }
        let literal_ok = parts.iter().all(|part| match part {
            Part::Literal(text) => text
                .chars()
                .all(|c| !c.is_control() && (c == ' ' || !c.is_whitespace())),
            _ => true,
        });
        if !literal_ok {
            return Err("must not hold control characters, tabs or line breaks".into());
        }
        let format = Self {
            text: text.to_owned(),
            parts,
        };
        // The longest number it could render: a 12-digit sequence.
        let longest = format.render(
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap(),
            999_999_999_999,
        );
        if longest.chars().count() > MAX_NUMBER_LEN || longest.trim() != longest {
            return Err(format!(
                "must render numbers of at most {MAX_NUMBER_LEN} characters, without leading or trailing spaces"
            ));
        }
        Ok(format)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it names the year (which a yearly reset needs, so that the
    /// numbers of two years differ).
    pub fn has_year(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Year | Part::ShortYear))
    }

    /// Checks the format can serve `reset`.
    pub fn check_reset(&self, reset: NumberReset) -> Result<(), String> {
        if reset == NumberReset::Yearly && !self.has_year() {
            return Err(
                "must hold {YYYY} or {YY} when number_reset is yearly, so that numbers of two years differ"
                    .into(),
            );
        }
        Ok(())
    }

    /// The number of sequence value `sequence` for a document dated `date`.
    pub fn render(&self, date: NaiveDate, sequence: i64) -> String {
        let mut number = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => number.push_str(text),
                Part::Year => number.push_str(&format!("{:04}", date.year())),
                Part::ShortYear => number.push_str(&format!("{:02}", date.year() % 100)),
                Part::Month => number.push_str(&format!("{:02}", date.month())),
                Part::Sequence { width } => number.push_str(&format!("{sequence:0width$}")),
            }
        }
        number
    }

    /// The sequence value of `number`, when this format could have
    /// rendered it (for any date): how an importer continues a series.
    pub fn sequence_of(&self, number: &str) -> Option<i64> {
        let mut rest = number;
        let mut sequence = None;
        for (index, part) in self.parts.iter().enumerate() {
            let digits = |rest: &str, n: usize| -> Option<usize> {
                (rest.len() >= n && rest.as_bytes()[..n].iter().all(|b| b.is_ascii_digit()))
                    .then_some(n)
            };
            match part {
                Part::Literal(text) => rest = rest.strip_prefix(text.as_str())?,
                Part::Year => rest = &rest[digits(rest, 4)?..],
                Part::ShortYear | Part::Month => rest = &rest[digits(rest, 2)?..],
                Part::Sequence { width } => {
                    // Greedy but fair to what follows: the digits up to the
                    // next literal (or the end).
                    let available = rest.bytes().take_while(u8::is_ascii_digit).count();
                    let needed_after: usize = self.parts[index + 1..]
                        .iter()
                        .map(|p| match p {
                            Part::Year => 4,
                            Part::ShortYear | Part::Month => 2,
                            _ => 0,
                        })
                        .sum();
                    let take = available.checked_sub(needed_after)?;
                    if take < *width || take == 0 {
                        return None;
                    }
                    sequence = rest[..take].parse::<i64>().ok();
                    rest = &rest[take..];
                }
            }
        }
        if rest.is_empty() { sequence } else { None }
    }
}

impl std::fmt::Display for NumberFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

pub const DEFAULT_INVOICE_FORMAT: &str = "{YYYY}-{SEQ:5}";
pub const DEFAULT_CREDIT_NOTE_FORMAT: &str = "CN-{YYYY}-{SEQ:5}";

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn formats_render_their_tokens() {
        let f = NumberFormat::parse(DEFAULT_INVOICE_FORMAT).unwrap();
        assert_eq!(f.render(day(2026, 3, 1), 42), "2026-00042");
        assert_eq!(f.render(day(2026, 3, 1), 1234567), "2026-1234567");
        let f = NumberFormat::parse("RE/{YY}{MM}/{SEQ}").unwrap();
        assert_eq!(f.render(day(2027, 1, 9), 7), "RE/2701/7");
        assert!(
            NumberFormat::parse("{SEQ}")
                .unwrap()
                .render(day(2026, 1, 1), 1)
                == "1"
        );
    }

    #[test]
    fn bad_formats_say_why() {
        for bad in [
            "INV-{YYYY}",
            "{SEQ}-{SEQ}",
            "{SEQ:0}",
            "{SEQ:13}",
            "{SEQ",
            "SEQ}",
            "{DD}-{SEQ}",
            "a\tb{SEQ}",
            " {SEQ}",
            &format!("{}{{SEQ}}", "x".repeat(90)),
        ] {
            assert!(NumberFormat::parse(bad).is_err(), "{bad}");
        }
        let never = NumberFormat::parse("INV-{SEQ:4}").unwrap();
        assert!(never.check_reset(NumberReset::Never).is_ok());
        assert!(never.check_reset(NumberReset::Yearly).is_err());
    }

    #[test]
    fn a_number_gives_back_its_sequence() {
        let f = NumberFormat::parse("{YYYY}-{SEQ:5}").unwrap();
        assert_eq!(f.sequence_of("2026-00042"), Some(42));
        assert_eq!(f.sequence_of("2019-123456"), Some(123456));
        assert_eq!(f.sequence_of("2026-42"), None, "narrower than the padding");
        assert_eq!(f.sequence_of("INV-2026-00042"), None);
        assert_eq!(
            f.sequence_of("20é6-00042"),
            None,
            "not cut in the middle of a character"
        );
        let f = NumberFormat::parse("{SEQ}{YY}").unwrap();
        assert_eq!(f.sequence_of("1726"), Some(17));
        assert_eq!(
            NumberFormat::parse("R{SEQ}").unwrap().sequence_of("R12x"),
            None
        );
    }
}
