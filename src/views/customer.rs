use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Address, Locale};
use crate::models::customer::Customer;

/// A customer of the account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Free text, as it always was.
    pub address: Option<String>,
    /// The buyer's tax or VAT id; the same value as `vat_id`.
    pub tax_id: Option<String>,
    /// The buyer's VAT id (EN 16931 BT-48); the same value as `tax_id`.
    pub vat_id: Option<String>,
    /// The structured address invoices are addressed to.
    pub billing_address: Option<Address>,
    /// EN 16931 BT-10, e.g. a German Leitweg-ID (its invoices are then XRechnung).
    pub buyer_reference: Option<String>,
    /// The language of the documents it receives (else the account's).
    pub locale: Option<Locale>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Customer> for CustomerView {
    fn from(row: Customer) -> Self {
        Self {
            billing_address: row.billing_address(),
            id: row.id,
            name: row.name,
            email: row.email,
            phone: row.phone,
            address: row.address,
            vat_id: row.tax_id.clone(),
            tax_id: row.tax_id,
            buyer_reference: row.buyer_reference,
            locale: row.locale,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
