//! Domain types: request values are parsed into these before any handler or
//! query sees them, so each rule lives in one constructor.

mod account_id;
mod dates;
mod ids;
mod money;
mod status;
mod text;
mod validation;

pub use account_id::AccountId;
pub use dates::{MIN_YEAR, parse_date, parse_timestamp};
pub use ids::{ApiKeyId, CustomerId, InvoiceId, ItemId, PaymentId, RowId};
pub use money::{
    Currency, DecimalInput, Money, Quantity, TaxRate, amount_input_schema, line_amounts,
    price_input_schema, quantity_input_schema, tax_rate_input_schema,
};
pub use status::{InvoiceStatus, PaymentMethod};
pub use text::{Email, NAME_PATTERN, Name, OptionalText, TEXT_PATTERN};
pub use validation::{FieldError, Validation, ValidationErrors};
