//! What a document says, independent of how it is rendered: one model of
//! an invoice or a credit note (parties, lines, tax breakdown, totals), of
//! which the PDF and both e-invoice syntaxes are views.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::parse_vat_id;
use crate::domain::{
    Address, BreakdownEntry, Locale, Money, Quantity, TaxCategory, TaxGroup, TaxLine, TaxRate,
    breakdown, tax_groups,
};
use crate::models::account::Profile;
use crate::models::credit_note::Full as FullCreditNote;
use crate::models::customer::Customer;
use crate::models::invoice::{Invoice, Totals};
use crate::models::invoice_item::Item;
use crate::views::CreditNoteView;
use crate::views::invoice::tax_lines;

/// The seller, as an issued document shows it: the account's profile at
/// the moment of issue (kept with the invoice, see the tax_categories
/// migration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerParty {
    pub name: String,
    pub legal_name: Option<String>,
    pub address: Option<Address>,
    pub vat_id: Option<String>,
    pub tax_number: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
}

impl SellerParty {
    /// The name it is registered under (BT-27): its legal name.
    pub fn registered_name(&self) -> &str {
        self.legal_name.as_deref().unwrap_or(&self.name)
    }

    /// The name it trades under (BT-28), when it differs from the legal one.
    pub fn trading_name(&self) -> Option<&str> {
        (self.legal_name.is_some() && self.legal_name.as_deref() != Some(&self.name))
            .then_some(self.name.as_str())
    }
}

impl From<&Profile> for SellerParty {
    fn from(profile: &Profile) -> Self {
        Self {
            name: profile.name.clone(),
            legal_name: profile.legal_name.clone(),
            address: profile.address(),
            vat_id: profile.vat_id.clone(),
            tax_number: profile.tax_number.clone(),
            email: profile.email.clone(),
            phone: profile.phone.clone(),
            iban: profile.iban.clone(),
            bic: profile.bic.clone(),
        }
    }
}

/// The buyer, as an issued document shows it: the customer at issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerParty {
    pub name: String,
    pub address: Option<Address>,
    /// The customer's tax or VAT id, as it was given.
    pub tax_id: Option<String>,
    pub buyer_reference: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub locale: Option<Locale>,
}

impl BuyerParty {
    /// The buyer's VAT id (BT-48), when its tax id has a VAT id's shape.
    pub fn vat_id(&self) -> Option<String> {
        self.tax_id.as_deref().and_then(|id| parse_vat_id(id).ok())
    }
}

impl From<&Customer> for BuyerParty {
    fn from(customer: &Customer) -> Self {
        Self {
            name: customer.name.clone(),
            address: customer.billing_address(),
            tax_id: customer.tax_id.clone(),
            buyer_reference: customer.buyer_reference.clone(),
            email: customer.email.clone(),
            phone: customer.phone.clone(),
            locale: customer.locale,
        }
    }
}

/// An invoice or a credit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Invoice,
    CreditNote,
}

impl DocumentKind {
    /// The UNTDID 1001 document type code (BT-3): commercial invoice or
    /// credit note.
    pub fn type_code(self) -> &'static str {
        match self {
            Self::Invoice => "380",
            Self::CreditNote => "381",
        }
    }
}

/// When the goods or services were delivered (BT-72, BG-14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Date(NaiveDate),
    Period { start: NaiveDate, end: NaiveDate },
}

/// A document line.
#[derive(Debug, Clone)]
pub struct DocumentLine {
    pub position: i32,
    pub description: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub tax_category: TaxCategory,
    pub tax_rate: TaxRate,
    /// The line net amount (BT-131): round(quantity × unit price).
    pub net_amount: Money,
}

/// The invoice a credit note corrects (BT-25, BT-26).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preceding {
    pub number: Option<String>,
    pub issue_date: Option<NaiveDate>,
}

/// What a document says.
#[derive(Debug, Clone)]
pub struct Document {
    pub kind: DocumentKind,
    /// A draft's preview: no number, not a document anyone may rely on.
    pub draft: bool,
    pub number: Option<String>,
    pub issue_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub delivery: Option<Delivery>,
    pub currency: String,
    pub seller: SellerParty,
    pub buyer: BuyerParty,
    pub lines: Vec<DocumentLine>,
    pub breakdown: Vec<BreakdownEntry>,
    /// The lines grouped by category and rate, with every exemption reason
    /// they give (what the e-invoice rules are checked on).
    pub tax_groups: Vec<TaxGroup>,
    pub subtotal: Money,
    pub tax_total: Money,
    /// What the document asks to be paid (an invoice) or credits (a
    /// credit note). A document shows the invoice as issued: payments and
    /// credit notes that follow are records of their own, with documents
    /// of their own, and change no document of it.
    pub total: Money,
    pub notes: Option<String>,
    /// A credit note's reason.
    pub reason: Option<String>,
    /// A credit note's invoice.
    pub preceding: Option<Preceding>,
    /// When it was issued (or last changed, for a draft): the PDF's dates.
    pub produced_at: DateTime<Utc>,
    /// The language its PDF is written in when none is asked for: the
    /// customer's, else the account's.
    pub default_language: Locale,
}

/// Why a document cannot be assembled from what is stored.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the {0} snapshot stored with the invoice cannot be read: {1}")]
    Snapshot(&'static str, serde_json::Error),
}

fn delivery_of(
    date: Option<NaiveDate>,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
) -> Option<Delivery> {
    match (date, start.zip(end)) {
        (Some(date), _) => Some(Delivery::Date(date)),
        (None, Some((start, end))) => Some(Delivery::Period { start, end }),
        _ => None,
    }
}

/// The seller fixed on an invoice when it was issued (none on a draft, or
/// on an invoice issued before snapshots were kept, or imported).
pub fn fixed_seller(invoice: &Invoice) -> Result<Option<SellerParty>, ModelError> {
    invoice
        .seller
        .as_ref()
        .map(|value| {
            serde_json::from_value(value.clone()).map_err(|e| ModelError::Snapshot("seller", e))
        })
        .transpose()
}

/// The buyer fixed on an invoice when it was issued.
pub fn fixed_buyer(invoice: &Invoice) -> Result<Option<BuyerParty>, ModelError> {
    invoice
        .buyer
        .as_ref()
        .map(|value| {
            serde_json::from_value(value.clone()).map_err(|e| ModelError::Snapshot("buyer", e))
        })
        .transpose()
}

impl Document {
    /// An invoice, with its items and its amounts now.
    pub fn invoice(
        invoice: &Invoice,
        items: &[Item],
        totals: &Totals,
        seller: SellerParty,
        buyer: BuyerParty,
        account_locale: Locale,
    ) -> Self {
        let taxed = tax_lines(items);
        let breakdown = breakdown(&taxed, invoice.tax_rounding);
        let lines = items
            .iter()
            .map(|item| DocumentLine {
                position: item.position,
                description: item.description.clone(),
                quantity: Quantity::from_db(item.quantity.clone()),
                unit_price: Money::from_db(item.unit_price.clone()),
                tax_category: item.tax_category,
                tax_rate: TaxRate::from_db(item.tax_rate.clone()),
                net_amount: Money::from_db(item.subtotal.clone()),
            })
            .collect();
        let draft = invoice.status == crate::domain::InvoiceStatus::Draft;
        Self {
            kind: DocumentKind::Invoice,
            draft,
            number: invoice.number.clone().filter(|_| !draft),
            issue_date: invoice.issue_date,
            due_date: invoice.due_date,
            delivery: delivery_of(
                invoice.service_date,
                invoice.service_period_start,
                invoice.service_period_end,
            ),
            currency: invoice.currency.clone(),
            default_language: buyer.locale.unwrap_or(account_locale),
            seller,
            buyer,
            lines,
            breakdown,
            tax_groups: tax_groups(&taxed),
            subtotal: totals.subtotal.clone(),
            tax_total: totals.tax_total.clone(),
            total: totals.total(),
            notes: invoice.notes.clone(),
            reason: None,
            preceding: None,
            produced_at: invoice.updated_at,
        }
    }

    /// A credit note of `invoice`, whose parties it shows.
    pub fn credit_note(
        note: &FullCreditNote,
        invoice: &Invoice,
        seller: SellerParty,
        buyer: BuyerParty,
        account_locale: Locale,
    ) -> Self {
        let taxed: Vec<TaxLine> = note.lines.iter().map(|line| line.tax_line()).collect();
        let view = CreditNoteView::new(note.clone(), invoice.number.clone(), invoice.issue_date);
        let lines = view
            .lines
            .iter()
            .map(|line| DocumentLine {
                position: line.position,
                description: line.description.clone(),
                quantity: line.quantity.clone(),
                unit_price: line.unit_price.clone(),
                tax_category: line.tax_category,
                tax_rate: line.tax_rate.clone(),
                net_amount: line.subtotal.clone(),
            })
            .collect();
        Self {
            kind: DocumentKind::CreditNote,
            draft: false,
            number: Some(view.number.clone()),
            issue_date: Some(view.issue_date),
            due_date: None,
            delivery: delivery_of(
                invoice.service_date,
                invoice.service_period_start,
                invoice.service_period_end,
            ),
            currency: view.currency.clone(),
            default_language: buyer.locale.unwrap_or(account_locale),
            seller,
            buyer,
            lines,
            breakdown: view.tax_breakdown.clone(),
            tax_groups: tax_groups(&taxed),
            subtotal: view.subtotal.clone(),
            tax_total: view.tax_total.clone(),
            total: view.total.clone(),
            notes: None,
            reason: Some(view.reason.clone()),
            preceding: Some(Preceding {
                number: invoice.number.clone(),
                issue_date: invoice.issue_date,
            }),
            produced_at: view.created_at,
        }
    }

    /// The number, or what stands for it on a draft.
    pub fn number_or_draft(&self) -> &str {
        self.number.as_deref().unwrap_or("DRAFT")
    }

    /// Whether VAT ids may appear: not on a document outside the scope of
    /// VAT (EN 16931 BR-O-02 to BR-O-04).
    pub fn shows_vat_ids(&self) -> bool {
        !self
            .breakdown
            .iter()
            .any(|entry| entry.category == TaxCategory::O)
    }
}
