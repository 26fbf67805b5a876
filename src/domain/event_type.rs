//! What an event says happened: the types SPEC §11 lists, one per change a
//! client can hear of.

use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

macro_rules! event_types {
    ($($variant:ident => $name:literal,)+) => {
        /// The type of an event, as `noun.verb`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum EventType {
            $(#[serde(rename = $name)] $variant,)+
        }

        impl EventType {
            /// Every type, in the order SPEC lists them.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)+
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(EventType::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    CustomerCreated => "customer.created",
    CustomerUpdated => "customer.updated",
    CustomerDeleted => "customer.deleted",
    InvoiceCreated => "invoice.created",
    InvoiceUpdated => "invoice.updated",
    InvoiceDeleted => "invoice.deleted",
    InvoiceIssued => "invoice.issued",
    InvoicePaid => "invoice.paid",
    InvoiceVoided => "invoice.voided",
    PaymentCreated => "payment.created",
    CreditNoteCreated => "credit_note.created",
    AccountUpdated => "account.updated",
}

// By hand: the derive does not see the names given through the macro.
impl PartialSchema for EventType {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(EventType::ALL.iter().map(|t| t.as_str())))
            .description(Some("The type of an event, as `noun.verb`."))
            .into()
    }
}

impl ToSchema for EventType {}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a webhook endpoint subscribes to: every type, or some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSelection {
    All,
    Only(Vec<EventType>),
}

impl EventSelection {
    /// Parses the API's `events` list: `["*"]`, or 1–20 distinct known types.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        if names.is_empty() {
            return Err("must name at least one event type, or be [\"*\"] for all".into());
        }
        if names.iter().any(|n| n == "*") {
            return if names.len() == 1 {
                Ok(Self::All)
            } else {
                Err("is [\"*\"] alone when it subscribes to every type".into())
            };
        }
        let mut types = Vec::with_capacity(names.len());
        for name in names {
            let Some(kind) = EventType::parse(name) else {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                return Err(format!(
                    "names an unknown event type {name:?}; known: {}",
                    known.join(", ")
                ));
            };
            if types.contains(&kind) {
                return Err(format!("names {name:?} twice"));
            }
            types.push(kind);
        }
        Ok(Self::Only(types))
    }

    /// As stored: `{"*"}` or the type names.
    pub fn to_names(&self) -> Vec<String> {
        match self {
            Self::All => vec!["*".into()],
            Self::Only(types) => types.iter().map(|t| t.as_str().to_owned()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{EventSelection, EventType};
    use utoipa::PartialSchema;

    #[test]
    fn every_type_round_trips_through_its_name() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(*kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        assert_eq!(EventType::ALL.len(), 12);
        let schema = serde_json::to_value(EventType::schema()).unwrap();
        assert_eq!(schema["enum"][0], "customer.created");
        assert_eq!(schema["enum"].as_array().unwrap().len(), 12);
        assert_eq!(EventType::parse("invoice.Paid"), None);
    }

    #[test]
    fn a_selection_is_star_alone_or_distinct_known_types() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            EventSelection::parse(&names(&["*"])),
            Ok(EventSelection::All)
        );
        assert_eq!(
            EventSelection::parse(&names(&["invoice.paid", "payment.created"])),
            Ok(EventSelection::Only(vec![
                EventType::InvoicePaid,
                EventType::PaymentCreated
            ]))
        );
        for bad in [
            &[][..],
            &["*", "invoice.paid"],
            &["invoice.payed"],
            &["invoice.paid", "invoice.paid"],
        ] {
            assert!(EventSelection::parse(&names(bad)).is_err(), "{bad:?}");
        }
    }
}
