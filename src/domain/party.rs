//! Who is on an invoice: countries, postal addresses, VAT ids, bank
//! accounts. The rules are the ones EN 16931 and the payment networks
//! apply, so that an address or an IBAN accepted here is one an e-invoice
//! and a bank accept too.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::text::{Name, OptionalText};
use super::validation::Validation;

/// ISO 3166-1 alpha-2, the officially assigned codes (from Debian's
/// iso-codes).
const COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// A country: an ISO 3166-1 alpha-2 code, upper case (`DE`).
pub fn parse_country(value: &str) -> Result<String, String> {
    let code = value.trim().to_ascii_uppercase();
    if code.len() == 2 && COUNTRIES.binary_search(&code.as_str()).is_ok() {
        Ok(code)
    } else {
        Err(format!(
            "must be an ISO 3166-1 alpha-2 country code like DE or FR, not {value:?}"
        ))
    }
}

/// A structured postal address, as an account (the seller) and a
/// customer's billing address have it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Address {
    #[schema(max_length = 200)]
    pub line1: Option<String>,
    #[schema(max_length = 200)]
    pub line2: Option<String>,
    #[schema(max_length = 20)]
    pub postal_code: Option<String>,
    #[schema(max_length = 100)]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    #[schema(pattern = "^[A-Za-z]{2}$", example = "DE")]
    pub country: Option<String>,
}

/// An address as a request sends it: every part optional, unknown parts refused.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    #[schema(max_length = 200)]
    pub line1: Option<String>,
    #[schema(max_length = 200)]
    pub line2: Option<String>,
    #[schema(max_length = 20)]
    pub postal_code: Option<String>,
    #[schema(max_length = 100)]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    #[schema(pattern = "^([A-Za-z]{2})?$", example = "DE")]
    pub country: Option<String>,
}

impl AddressInput {
    /// Parses into `v` under `field` (`address`, `billing_address`).
    /// An address with no part at all is no address.
    pub fn parse_into(self, v: &mut Validation, field: &str) -> Option<Option<Address>> {
        let part = |name: &str| format!("{field}.{name}");
        let line1 = v.check(
            &part("line1"),
            OptionalText::<200>::parse(self.line1.as_deref()).map(OptionalText::into_inner),
        );
        let line2 = v.check(
            &part("line2"),
            OptionalText::<200>::parse(self.line2.as_deref()).map(OptionalText::into_inner),
        );
        let postal_code = v.check(
            &part("postal_code"),
            OptionalText::<20>::parse(self.postal_code.as_deref()).map(OptionalText::into_inner),
        );
        let city = v.check(
            &part("city"),
            OptionalText::<100>::parse(self.city.as_deref()).map(OptionalText::into_inner),
        );
        let country = v.check(
            &part("country"),
            match self.country.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(code) => parse_country(code).map(Some),
            },
        );
        let address = Address {
            line1: line1?,
            line2: line2?,
            postal_code: postal_code?,
            city: city?,
            country: country?,
        };
        Some((address != Address::default()).then_some(address))
    }
}

/// Normalises an identifier as people write it: upper case, without the
/// spaces, dots and dashes used to group its characters.
fn compact(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-'))
        .collect::<String>()
        .to_ascii_uppercase()
}

/// The shape of a VAT id after its prefix, per country, as the VIES
/// service documents it: `d` a digit, `a` a letter, `x` either.
fn vat_shapes(prefix: &str) -> Option<&'static [&'static str]> {
    Some(match prefix {
        "AT" => &["Udddddddd"],
        "BE" => &["dddddddddd"],
        "BG" => &["ddddddddd", "dddddddddd"],
        "CY" => &["dddddddda"],
        "CZ" => &["dddddddd", "ddddddddd", "dddddddddd"],
        "DE" => &["ddddddddd"],
        "DK" => &["dddddddd"],
        "EE" => &["ddddddddd"],
        "EL" => &["ddddddddd"],
        "ES" => &["xddddddda", "adddddddd", "dddddddda", "adddddddx"],
        "FI" => &["dddddddd"],
        "FR" => &["xxddddddddd"],
        "HR" => &["ddddddddddd"],
        "HU" => &["dddddddd"],
        "IE" => &["dddddddaa", "ddddddda", "dxddddda"],
        "IT" => &["ddddddddddd"],
        "LT" => &["ddddddddd", "dddddddddddd"],
        "LU" => &["dddddddd"],
        "LV" => &["ddddddddddd"],
        "MT" => &["dddddddd"],
        "NL" => &["dddddddddBdd"],
        "PL" => &["dddddddddd"],
        "PT" => &["ddddddddd"],
        "RO" => &[
            "dd",
            "ddd",
            "dddd",
            "ddddd",
            "dddddd",
            "ddddddd",
            "dddddddd",
            "ddddddddd",
            "dddddddddd",
        ],
        "SE" => &["dddddddddd01"],
        "SI" => &["dddddddd"],
        "SK" => &["dddddddddd"],
        "XI" | "GB" => &["ddddddddd", "dddddddddddd", "GDddd", "HAddd"],
        "CH" => &[
            "EdddddddddMWST",
            "EdddddddddTVA",
            "EdddddddddIVA",
            "Eddddddddd",
        ],
        "NO" => &["dddddddddMVA", "ddddddddd"],
        // Greece's VAT ids carry EL, not its ISO code.
        "GR" => &[],
        _ => return None,
    })
}

fn matches_shape(rest: &str, shape: &str) -> bool {
    rest.len() == shape.len()
        && rest.bytes().zip(shape.bytes()).all(|(c, s)| match s {
            b'd' => c.is_ascii_digit(),
            b'a' => c.is_ascii_uppercase(),
            b'x' => c.is_ascii_alphanumeric(),
            literal => c == literal,
        })
}

/// A VAT identifier: a country prefix (ISO 3166-1, or `EL` for Greece and
/// `XI` for Northern Ireland, as EN 16931 BR-CO-9 allows) and the shape
/// that country's VAT ids have; other countries' ids are 2 to 13 letters
/// and digits after the prefix. Stored compact: `DE 123 456 789` is
/// `DE123456789`.
pub fn parse_vat_id(value: &str) -> Result<String, String> {
    let id = compact(value);
    let refuse = || {
        format!(
            "must be a VAT id: a country prefix and the country's digits, like DE123456789, not {value:?}"
        )
    };
    // ASCII only, so the prefix split below is at a character boundary.
    if id.len() < 4 || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(refuse());
    }
    let (prefix, rest) = id.split_at(2);
    let known_prefix = matches!(prefix, "EL" | "XI") || parse_country(prefix).is_ok();
    if !known_prefix {
        return Err(refuse());
    }
    let shaped = match vat_shapes(prefix) {
        Some(shapes) => shapes.iter().any(|shape| matches_shape(rest, shape)),
        None => (2..=13).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric()),
    };
    if shaped { Ok(id) } else { Err(refuse()) }
}

/// An IBAN: a country, two check digits and the account, checked with ISO
/// 7064 mod 97 (the check every bank applies). Stored compact.
pub fn parse_iban(value: &str) -> Result<String, String> {
    let iban = compact(value);
    let refuse = |why: &str| format!("must be an IBAN like DE89370400440532013000: {why}");
    if !(15..=34).contains(&iban.len()) || !iban.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(refuse("15 to 34 letters and digits"));
    }
    let (country, check) = (&iban[..2], &iban[2..4]);
    if parse_country(country).is_err() || !check.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse("a country code and two check digits first"));
    }
    let rearranged = iban[4..].bytes().chain(iban[..4].bytes());
    let remainder = rearranged.fold(0u32, |acc, b| {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        if value >= 10 {
            (acc * 100 + value) % 97
        } else {
            (acc * 10 + value) % 97
        }
    });
    if remainder == 1 {
        Ok(iban)
    } else {
        Err(refuse("its check digits do not match (mod 97)"))
    }
}

/// A BIC (ISO 9362): 4 letters for the bank, the country, 2 letters or
/// digits for the location, and optionally 3 for the branch.
pub fn parse_bic(value: &str) -> Result<String, String> {
    let bic = compact(value);
    let shaped = (bic.len() == 8 || bic.len() == 11)
        && bic.is_ascii()
        && bic[..4].bytes().all(|b| b.is_ascii_uppercase())
        && parse_country(&bic[4..6]).is_ok()
        && bic[6..].bytes().all(|b| b.is_ascii_alphanumeric());
    if shaped {
        Ok(bic)
    } else {
        Err(format!(
            "must be a BIC like COBADEFFXXX (8 or 11 characters), not {value:?}"
        ))
    }
}

/// A legal or display name of a party: 1 to 200 characters.
pub fn parse_party_name(value: &str) -> Result<String, String> {
    Name::<200>::parse(value).map(Name::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_iso_3166_codes() {
        assert_eq!(COUNTRIES.len(), 249);
        assert!(
            COUNTRIES.windows(2).all(|w| w[0] < w[1]),
            "sorted, for the binary search"
        );
        assert_eq!(parse_country("de").unwrap(), "DE");
        for bad in ["XX", "D", "DEU", "", "EL", "UK"] {
            assert!(parse_country(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn vat_ids_have_their_countrys_shape() {
        for (input, stored) in [
            ("DE123456789", "DE123456789"),
            ("de 123 456 789", "DE123456789"),
            ("ATU12345678", "ATU12345678"),
            ("FRXX123456789", "FRXX123456789"),
            ("NL123456789B01", "NL123456789B01"),
            ("EL123456789", "EL123456789"),
            ("CHE-123.456.789 MWST", "CHE123456789MWST"),
            ("US12-3456789", "US123456789"),
        ] {
            assert_eq!(parse_vat_id(input).unwrap(), stored, "{input}");
        }
        for bad in [
            "DE12345678",
            "DE1234567890",
            "ATU1234567",
            "XX123456789",
            "123456789",
            "GR123456789",
            "NL123456789",
            // Not cut in the middle of a character.
            "\u{1e6}\u{135}\u{106}\u{101}",
            "Dé123456789",
        ] {
            assert!(parse_vat_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ibans_are_checked_mod_97() {
        assert_eq!(
            parse_iban("DE89 3704 0044 0532 0130 00").unwrap(),
            "DE89370400440532013000"
        );
        assert!(parse_iban("GB82WEST12345698765432").is_ok());
        assert!(
            parse_iban("DE89370400440532013001").is_err(),
            "one digit off"
        );
        assert!(parse_iban("DE8937040044").is_err());
        assert!(parse_iban("XX89370400440532013000").is_err());
    }

    #[test]
    fn bics_have_eight_or_eleven_characters() {
        assert_eq!(parse_bic("cobadeffxxx").unwrap(), "COBADEFFXXX");
        assert!(parse_bic("DEUTDEFF").is_ok());
        for bad in [
            "DEUTDE",
            "DEUTXXFF",
            "1EUTDEFF",
            "DEUTDEFFX",
            "DEUTDÉF",
            "ĞĞĞĞDEF",
        ] {
            assert!(parse_bic(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_address_without_any_part_is_none() {
        let mut v = Validation::new();
        let empty = AddressInput::default().parse_into(&mut v, "address");
        assert_eq!(empty, Some(None));
        let given = AddressInput {
            city: Some("Berlin".into()),
            country: Some("de".into()),
            ..AddressInput::default()
        }
        .parse_into(&mut v, "address");
        assert_eq!(given.unwrap().unwrap().country.as_deref(), Some("DE"));
        let bad = AddressInput {
            country: Some("Germany".into()),
            ..AddressInput::default()
        }
        .parse_into(&mut v, "address");
        assert!(bad.is_none());
        assert_eq!(v.into_errors().0[0].field, "address.country");
    }
}
