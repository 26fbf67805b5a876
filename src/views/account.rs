use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Address, Locale, NumberReset, TaxRounding};
use crate::models::account::Profile;

/// The account's own profile: the seller on its invoices, and how it
/// numbers, rounds and words them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    /// The seller's legal name, as invoices show it.
    pub legal_name: Option<String>,
    pub address: Option<Address>,
    pub vat_id: Option<String>,
    /// A national tax number, for sellers without a VAT id.
    pub tax_number: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    /// The language of its documents, unless a customer or the request says otherwise.
    pub locale: Locale,
    pub default_currency: Option<String>,
    /// Days from issue to the due date (default 14).
    pub payment_terms_days: i32,
    pub tax_rounding: TaxRounding,
    pub invoice_number_format: String,
    pub credit_note_number_format: String,
    pub number_reset: NumberReset,
    /// The sequence value the next invoice gets (in the current year, with a yearly reset).
    pub next_invoice_sequence: i64,
    pub next_credit_note_sequence: i64,
    /// Whether every invoice it issues must make a valid e-invoice.
    pub require_einvoice: bool,
    /// The time zone "today" is taken in (an IANA name; default UTC).
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AccountView {
    pub fn new(
        profile: Profile,
        next_invoice_sequence: i64,
        next_credit_note_sequence: i64,
    ) -> Self {
        Self {
            address: profile.address(),
            id: profile.id,
            name: profile.name,
            legal_name: profile.legal_name,
            vat_id: profile.vat_id,
            tax_number: profile.tax_number,
            email: profile.email,
            phone: profile.phone,
            iban: profile.iban,
            bic: profile.bic,
            locale: profile.locale,
            default_currency: profile.default_currency,
            payment_terms_days: profile.payment_terms_days,
            tax_rounding: profile.tax_rounding,
            invoice_number_format: profile.invoice_number_format,
            credit_note_number_format: profile.credit_note_number_format,
            number_reset: profile.number_reset,
            next_invoice_sequence,
            next_credit_note_sequence,
            require_einvoice: profile.require_einvoice,
            timezone: profile.timezone,
            created_at: profile.created_at,
            updated_at: profile.updated_at,
        }
    }
}
