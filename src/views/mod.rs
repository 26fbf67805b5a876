//! The resources as the API shows them: what every response carries, and
//! what an event's `data` holds, so the two cannot differ. Built from the
//! rows (`From`), never queried themselves.

mod account;
mod credit_note;
mod customer;
mod event;
pub mod invoice;
mod payment;
mod webhook;

pub use account::AccountView;
pub use credit_note::{CreditNoteLineView, CreditNoteView};
pub use customer::CustomerView;
pub use event::EventView;
pub use invoice::{InvoiceView, ItemView, ServicePeriod};
pub use payment::PaymentView;
pub use webhook::{DeliveryAttemptView, DeliveryView, WebhookEndpointView};
