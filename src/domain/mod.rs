//! Domain types: request values are parsed into these before any handler or
//! query sees them, so each rule lives in one constructor.

mod account_id;
mod ids;
mod text;
mod validation;

pub use account_id::AccountId;
pub use ids::{ApiKeyId, CustomerId, InvoiceId, ItemId, PaymentId, RowId};
pub use text::{Email, Name, OptionalText};
pub use validation::{FieldError, Validation, ValidationErrors};
