//! Tax exemption reasons: free text, or a code of the CEF VATEX list.

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
    if trimmed.len() > 6 && trimmed[..6].eq_ignore_ascii_case("VATEX-") {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
