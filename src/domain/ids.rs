//! Row ids. Each is unique within its account and table, so a bare number
//! means nothing without its account; the newtypes keep a customer id from
//! being passed where an invoice id belongs.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// What every id type shares: a positive 64-bit integer, written in
/// canonical decimal (no sign, no leading zeros).
pub trait RowId: Sized + Copy {
    /// "customer", "invoice", ...: for messages.
    const NOUN: &'static str;

    fn from_i64(value: i64) -> Option<Self>;
    fn get(self) -> i64;

    /// Parses a path segment: `"42"` yes; `"042"`, `"+42"`, `"-1"`, `"0"`,
    /// `"4.2"`, `"9223372036854775808"` no.
    fn parse_segment(segment: &str) -> Option<Self> {
        let canonical = !segment.is_empty()
            && segment.len() <= 19
            && segment.bytes().all(|b| b.is_ascii_digit())
            && !segment.starts_with('0');
        if !canonical {
            return None;
        }
        segment.parse::<i64>().ok().and_then(Self::from_i64)
    }
}

macro_rules! row_id {
    ($name:ident, $noun:literal) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl RowId for $name {
            const NOUN: &'static str = $noun;

            fn from_i64(value: i64) -> Option<Self> {
                (value > 0).then_some(Self(value))
            }

            fn get(self) -> i64 {
                self.0
            }
        }

        impl $name {
            /// Wraps an id read from the database (always positive there).
            pub fn from_db(value: i64) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = i64::deserialize(deserializer)?;
                Self::from_i64(value).ok_or_else(|| {
                    serde::de::Error::custom(concat!("a ", $noun, " id is a positive integer"))
                })
            }
        }
    };
}

row_id!(CustomerId, "customer");
row_id!(InvoiceId, "invoice");
row_id!(ItemId, "item");
row_id!(PaymentId, "payment");
row_id!(ApiKeyId, "API key");
row_id!(CreditNoteId, "credit note");
row_id!(EventId, "event");
row_id!(WebhookEndpointId, "webhook endpoint");

#[cfg(test)]
mod tests {
    use super::{CustomerId, RowId};

    #[test]
    fn only_canonical_positive_integers_are_ids() {
        assert_eq!(CustomerId::parse_segment("42").map(RowId::get), Some(42));
        assert_eq!(
            CustomerId::parse_segment("9223372036854775807").map(RowId::get),
            Some(i64::MAX)
        );
        for bad in [
            "",
            "0",
            "042",
            "+42",
            "-1",
            "4.2",
            "4e2",
            "9223372036854775808",
            "99999999999999999999",
            "1 ",
            "%00",
            "1\0",
        ] {
            assert!(CustomerId::parse_segment(bad).is_none(), "{bad:?}");
        }
    }
}
