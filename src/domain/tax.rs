//! Tax: exemption reasons (free text, or a code of the CEF VATEX list), and
//! the VAT breakdown of a document's lines, one entry per category and rate,
//! in either rounding mode.
//!
//! `line` rounding (what every line shows): an entry's tax is the sum of its
//! lines' taxes, each rounded. `document` rounding: round(Σ subtotals ×
//! rate / 100) per entry. Half away from zero to the cent, either way, as
//! PostgreSQL's numeric round() does (the list query computes the same
//! sums in SQL).

use bigdecimal::{BigDecimal, RoundingMode, Zero};
use serde::Serialize;
use utoipa::ToSchema;

use super::money::{Money, TaxRate};
use super::status::{TaxCategory, TaxRounding};

/// The VATEX codes, as the official EN 16931 Schematron (1.3.16) lists
/// them (BR-CL-22), sorted.
const VATEX_CODES: &[&str] = &[
    "VATEX-EU-132",
    "VATEX-EU-132-1A",
    "VATEX-EU-132-1B",
    "VATEX-EU-132-1C",
    "VATEX-EU-132-1D",
    "VATEX-EU-132-1E",
    "VATEX-EU-132-1F",
    "VATEX-EU-132-1G",
    "VATEX-EU-132-1H",
    "VATEX-EU-132-1I",
    "VATEX-EU-132-1J",
    "VATEX-EU-132-1K",
    "VATEX-EU-132-1L",
    "VATEX-EU-132-1M",
    "VATEX-EU-132-1N",
    "VATEX-EU-132-1O",
    "VATEX-EU-132-1P",
    "VATEX-EU-132-1Q",
    "VATEX-EU-135-1",
    "VATEX-EU-143",
    "VATEX-EU-143-1A",
    "VATEX-EU-143-1B",
    "VATEX-EU-143-1C",
    "VATEX-EU-143-1D",
    "VATEX-EU-143-1E",
    "VATEX-EU-143-1F",
    "VATEX-EU-143-1FA",
    "VATEX-EU-143-1G",
    "VATEX-EU-143-1H",
    "VATEX-EU-143-1I",
    "VATEX-EU-143-1J",
    "VATEX-EU-143-1K",
    "VATEX-EU-143-1L",
    "VATEX-EU-144",
    "VATEX-EU-146-1E",
    "VATEX-EU-148",
    "VATEX-EU-148-A",
    "VATEX-EU-148-B",
    "VATEX-EU-148-C",
    "VATEX-EU-148-D",
    "VATEX-EU-148-E",
    "VATEX-EU-148-F",
    "VATEX-EU-148-G",
    "VATEX-EU-151",
    "VATEX-EU-151-1A",
    "VATEX-EU-151-1AA",
    "VATEX-EU-151-1B",
    "VATEX-EU-151-1C",
    "VATEX-EU-151-1D",
    "VATEX-EU-151-1E",
    "VATEX-EU-153",
    "VATEX-EU-159",
    "VATEX-EU-309",
    "VATEX-EU-79-C",
    "VATEX-EU-AE",
    "VATEX-EU-D",
    "VATEX-EU-F",
    "VATEX-EU-G",
    "VATEX-EU-I",
    "VATEX-EU-IC",
    "VATEX-EU-J",
    "VATEX-EU-O",
    "VATEX-FR-298SEXDECIESA",
    "VATEX-FR-AE",
    "VATEX-FR-CGI261-1",
    "VATEX-FR-CGI261-2",
    "VATEX-FR-CGI261-3",
    "VATEX-FR-CGI261-4",
    "VATEX-FR-CGI261-5",
    "VATEX-FR-CGI261-7",
    "VATEX-FR-CGI261-8",
    "VATEX-FR-CGI261A",
    "VATEX-FR-CGI261B",
    "VATEX-FR-CGI261C-1",
    "VATEX-FR-CGI261C-2",
    "VATEX-FR-CGI261C-3",
    "VATEX-FR-CGI261D-1",
    "VATEX-FR-CGI261D-1BIS",
    "VATEX-FR-CGI261D-2",
    "VATEX-FR-CGI261D-3",
    "VATEX-FR-CGI261D-4",
    "VATEX-FR-CGI261E-1",
    "VATEX-FR-CGI261E-2",
    "VATEX-FR-CGI275",
    "VATEX-FR-CGI277A",
    "VATEX-FR-CGI295",
    "VATEX-FR-CNWVAT",
    "VATEX-FR-FRANCHISE",
];

/// What a line of an exempt, reverse-charge, intra-community, export or
/// out-of-scope category says about why it carries no VAT: text up to
/// 1000 characters, or a VATEX code (`VATEX-EU-AE`), stored as written
/// (codes in upper case).
pub fn parse_exemption_reason(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed
        .get(..6)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("VATEX-"))
    {
        let code = trimmed.to_ascii_uppercase();
        return if VATEX_CODES.binary_search(&code.as_str()).is_ok() {
            Ok(code)
        } else {
            Err(format!(
                "{trimmed} is not a code of the VATEX list (EN 16931); give a known code, like VATEX-EU-AE, or a text"
            ))
        };
    }
    super::text::Name::<1000>::parse(value).map(super::text::Name::into_inner)
}

/// The reason's VATEX code, when it is one.
pub fn vatex_code(reason: &str) -> Option<&str> {
    VATEX_CODES
        .binary_search(&reason)
        .ok()
        .map(|index| VATEX_CODES[index])
}

/// One line as the breakdown sees it.
#[derive(Debug, Clone)]
pub struct TaxLine {
    pub category: TaxCategory,
    pub rate: BigDecimal,
    pub subtotal: BigDecimal,
    /// The line's own tax: round(subtotal × rate / 100).
    pub tax: BigDecimal,
    pub exemption_reason: Option<String>,
}

/// One entry of a VAT breakdown: the lines of one category and rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BreakdownEntry {
    pub category: TaxCategory,
    pub rate: TaxRate,
    pub taxable_amount: Money,
    pub tax_amount: Money,
    /// Why the category carries no VAT (E, AE, K, G, O): text or a VATEX code.
    pub exemption_reason: Option<String>,
}

/// A group of lines of one category and rate, before rounding is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub category: TaxCategory,
    pub rate: BigDecimal,
    pub taxable: BigDecimal,
    /// Σ of the lines' own taxes.
    pub line_tax: BigDecimal,
    /// The distinct exemption reasons its lines give (one, or none).
    pub reasons: Vec<String>,
}

impl Group {
    /// round(taxable × rate / 100): the entry's tax in `document` rounding,
    /// and what EN 16931 (BR-CO-17) holds `line` rounding to, within 1.00.
    pub fn document_tax(&self) -> BigDecimal {
        document_tax(&self.taxable, &self.rate)
    }

    pub fn tax(&self, mode: TaxRounding) -> BigDecimal {
        match mode {
            TaxRounding::Line => self.line_tax.clone(),
            TaxRounding::Document => self.document_tax(),
        }
    }

    /// Whether the line taxes stray 1.00 or more from the entry's own
    /// computation: an e-invoice with them would break BR-CO-17.
    pub fn breaks_br_co_17(&self) -> bool {
        (&self.line_tax - self.document_tax()).abs() >= 1
    }
}

/// round(taxable × rate / 100), half away from zero to the cent. The
/// division by 100 moves the decimal point, which is exact; a BigDecimal
/// division would work to 100 digits first (it was a tenth of the
/// importer's deciding, which computes this for every line).
pub fn document_tax(taxable: &BigDecimal, rate: &BigDecimal) -> BigDecimal {
    let (digits, scale) = (taxable * rate).into_bigint_and_scale();
    BigDecimal::new(digits, scale + 2).with_scale_round(2, RoundingMode::HalfUp)
}

/// The lines grouped by category and rate, in a stable order: by category
/// (S, Z, E, AE, K, G, O), then rate, highest first.
pub fn groups(lines: &[TaxLine]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for line in lines {
        let rate = line.rate.with_scale_round(2, RoundingMode::HalfUp);
        let group = match groups
            .iter_mut()
            .find(|g| g.category == line.category && g.rate == rate)
        {
            Some(group) => group,
            None => {
                groups.push(Group {
                    category: line.category,
                    rate: rate.clone(),
                    taxable: BigDecimal::zero(),
                    line_tax: BigDecimal::zero(),
                    reasons: Vec::new(),
                });
                groups.last_mut().expect("just pushed")
            }
        };
        group.taxable += &line.subtotal;
        group.line_tax += &line.tax;
        if let Some(reason) = &line.exemption_reason
            && !group.reasons.contains(reason)
        {
            group.reasons.push(reason.clone());
        }
    }
    groups.sort_by(|a, b| {
        a.category
            .rank()
            .cmp(&b.category.rank())
            .then_with(|| b.rate.cmp(&a.rate))
    });
    groups
}

/// The VAT breakdown of `lines` in `mode`.
pub fn breakdown(lines: &[TaxLine], mode: TaxRounding) -> Vec<BreakdownEntry> {
    groups(lines)
        .into_iter()
        .map(|group| BreakdownEntry {
            category: group.category,
            rate: TaxRate::from_db(group.rate.clone()),
            taxable_amount: Money::from_db(group.taxable.clone()),
            tax_amount: Money::from_db(group.tax(mode)),
            exemption_reason: group.reasons.first().cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentage_moves_the_point_as_dividing_by_100_does() {
        let amounts = [
            "0.00",
            "0.01",
            "0.05",
            "1.25",
            "19.99",
            "-3.33",
            "12345678.91",
            "0.005",
        ];
        let rates = [
            "0.00", "5.50", "7.00", "19.00", "20.00", "2.50", "100.00", "0.01",
        ];
        for amount in amounts {
            for rate in rates {
                let (a, r): (BigDecimal, BigDecimal) =
                    (amount.parse().unwrap(), rate.parse().unwrap());
                let divided =
                    (&a * &r / BigDecimal::from(100)).with_scale_round(2, RoundingMode::HalfUp);
                let shifted = document_tax(&a, &r);
                assert_eq!(shifted, divided, "{amount} × {rate} %");
                assert_eq!(shifted.to_plain_string(), divided.to_plain_string());
            }
        }
    }

    #[test]
    fn reasons_are_text_or_known_vatex_codes() {
        assert!(VATEX_CODES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            parse_exemption_reason("vatex-eu-ae").unwrap(),
            "VATEX-EU-AE"
        );
        assert_eq!(vatex_code("VATEX-EU-IC"), Some("VATEX-EU-IC"));
        assert_eq!(
            parse_exemption_reason(" Kleinunternehmer, § 19 UStG ").unwrap(),
            "Kleinunternehmer, § 19 UStG"
        );
        assert_eq!(vatex_code("Kleinunternehmer, § 19 UStG"), None);
        assert!(parse_exemption_reason("VATEX-EU-NOPE").is_err());
        assert!(parse_exemption_reason("  ").is_err());
        // Not cut in the middle of a character.
        assert_eq!(
            parse_exemption_reason("P\u{11a}\u{109}ünf").unwrap(),
            "P\u{11a}\u{109}ünf"
        );
    }
}
