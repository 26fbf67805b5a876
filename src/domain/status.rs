//! The closed vocabularies: invoice statuses, payment methods, tax
//! categories, rounding modes, languages. TEXT columns with a CHECK in the
//! database, enums here.

use std::fmt;
use std::io::Write;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! text_enum {
    // The serde names are the variants' in the case written out here (not
    // a literal passed in: utoipa would not see it in the schema).
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, AsExpression, FromSqlRow)]
        #[serde(rename_all = "snake_case")]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($variant),+
        }
        text_enum!(@impl $name { $($variant => $text),+ });
    };
    (upper $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, AsExpression, FromSqlRow)]
        #[serde(rename_all = "UPPERCASE")]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($variant),+
        }
        text_enum!(@impl $name { $($variant => $text),+ });
    };
    (@impl $name:ident { $($variant:ident => $text:literal),+ }) => {

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let text = std::str::from_utf8(bytes.as_bytes())?;
                Self::parse(text).ok_or_else(|| format!("unknown {} {text:?}", stringify!($name)).into())
            }
        }
    };
}

text_enum!(InvoiceStatus {
    Draft => "draft",
    Issued => "issued",
    Paid => "paid",
    Void => "void",
});

text_enum!(PaymentMethod {
    Card => "card",
    BankTransfer => "bank_transfer",
    Cash => "cash",
    Check => "check",
    Other => "other",
});

text_enum!(upper TaxCategory {
    S => "S",
    Z => "Z",
    E => "E",
    AE => "AE",
    K => "K",
    G => "G",
    O => "O",
});

impl TaxCategory {
    /// The UNCL 5305 category's meaning, in English and German, for the PDF.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::S => ("Standard rate", "Normalsatz"),
            Self::Z => ("Zero rated", "Nullsatz"),
            Self::E => ("Exempt from VAT", "Steuerbefreit"),
            Self::AE => (
                "Reverse charge",
                "Steuerschuldnerschaft des Leistungsempfängers",
            ),
            Self::K => ("Intra-community supply", "Innergemeinschaftliche Lieferung"),
            Self::G => ("Export outside the EU", "Ausfuhrlieferung"),
            Self::O => ("Not subject to VAT", "Nicht steuerbar"),
        }
    }

    /// Whether lines of this category carry a rate above 0 (only `S`).
    pub fn is_taxed(self) -> bool {
        self == Self::S
    }

    /// Whether it needs an exemption reason (all but `S` and `Z`).
    pub fn needs_exemption_reason(self) -> bool {
        !matches!(self, Self::S | Self::Z)
    }

    /// Whether it needs the buyer's VAT id (reverse charge, intra-community).
    pub fn needs_buyer_vat_id(self) -> bool {
        matches!(self, Self::AE | Self::K)
    }

    /// The order breakdowns list categories in.
    pub fn rank(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

text_enum!(CreditNoteKind {
    Lines => "lines",
    Full => "full",
    Cancellation => "cancellation",
});

text_enum!(TaxRounding {
    Line => "line",
    Document => "document",
});

text_enum!(Locale {
    En => "en",
    De => "de",
});

text_enum!(NumberReset {
    Never => "never",
    Yearly => "yearly",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_database_texts() {
        for category in TaxCategory::ALL {
            assert_eq!(
                serde_json::to_string(category).unwrap(),
                format!("\"{category}\"")
            );
        }
        for text in [
            serde_json::to_string(&PaymentMethod::BankTransfer).unwrap(),
            serde_json::to_string(&TaxRounding::Document).unwrap(),
            serde_json::to_string(&CreditNoteKind::Cancellation).unwrap(),
            serde_json::to_string(&Locale::De).unwrap(),
            serde_json::to_string(&NumberReset::Yearly).unwrap(),
        ] {
            assert!(
                [
                    "\"bank_transfer\"",
                    "\"document\"",
                    "\"cancellation\"",
                    "\"de\"",
                    "\"yearly\""
                ]
                .contains(&text.as_str()),
                "{text}"
            );
        }
    }

    #[test]
    fn text_forms_round_trip() {
        for status in InvoiceStatus::ALL {
            assert_eq!(InvoiceStatus::parse(status.as_str()), Some(*status));
            assert_eq!(
                serde_json::to_string(status).unwrap(),
                format!("\"{status}\"")
            );
        }
        assert_eq!(
            PaymentMethod::parse("bank_transfer"),
            Some(PaymentMethod::BankTransfer)
        );
        assert_eq!(InvoiceStatus::parse("Draft"), None);
    }
}
