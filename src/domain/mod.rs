//! Domain types: request values are parsed into these before any handler or
//! query sees them, so each rule lives in one constructor.

mod account_id;
mod dates;
mod event_type;
mod ids;
mod money;
mod number_format;
mod party;
mod status;
mod tax;
mod text;
mod validation;

pub use account_id::AccountId;
pub use dates::{MIN_YEAR, parse_date, parse_timestamp};
pub use event_type::{EventSelection, EventType};
pub use ids::{
    ApiKeyId, CreditNoteId, CustomerId, EventId, InvoiceId, ItemId, PaymentId, RowId,
    WebhookEndpointId,
};
pub use money::{
    Currency, DecimalInput, Money, Quantity, TaxRate, amount_input_schema, line_amounts,
    price_input_schema, quantity_input_schema, tax_rate_input_schema,
};
pub use number_format::{
    DEFAULT_CREDIT_NOTE_FORMAT, DEFAULT_INVOICE_FORMAT, MAX_NUMBER_LEN, NumberFormat,
};
pub use party::{
    Address, AddressInput, parse_bic, parse_country, parse_iban, parse_party_name, parse_vat_id,
};
pub use status::{
    CreditNoteKind, InvoiceStatus, Locale, NumberReset, PaymentMethod, TaxCategory, TaxRounding,
};
pub use tax::{
    BreakdownEntry, Group as TaxGroup, TaxLine, breakdown, document_tax, groups as tax_groups,
    parse_exemption_reason, vatex_code,
};
pub use text::{Email, NAME_PATTERN, Name, OptionalText, TEXT_PATTERN};
pub use validation::{FieldError, Validation, ValidationErrors};
