use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{
    BreakdownEntry, CreditNoteKind, Money, Quantity, TaxCategory, TaxRate, TaxRounding,
};
use crate::models::credit_note::{Full, Line, Tax};

/// A line of a credit note.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreditNoteLineView {
    pub id: i64,
    pub position: i32,
    /// The invoice item it credits; null for a free line.
    pub item_id: Option<i64>,
    pub description: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub tax_rate: TaxRate,
    pub tax_category: TaxCategory,
    pub tax_exemption_reason: Option<String>,
    pub subtotal: Money,
    pub tax: Money,
    pub total: Money,
}

impl From<Line> for CreditNoteLineView {
    fn from(row: Line) -> Self {
        let subtotal = Money::from_db(row.subtotal);
        let tax = Money::from_db(row.tax);
        Self {
            id: row.id,
            position: row.position,
            item_id: row.item_id,
            description: row.description,
            quantity: Quantity::from_db(row.quantity),
            unit_price: Money::from_db(row.unit_price),
            tax_rate: TaxRate::from_db(row.tax_rate),
            tax_category: row.tax_category,
            tax_exemption_reason: row.tax_exemption_reason,
            total: &subtotal + &tax,
            subtotal,
            tax,
        }
    }
}

fn entry(tax: Tax) -> BreakdownEntry {
    BreakdownEntry {
        category: tax.tax_category,
        rate: TaxRate::from_db(tax.tax_rate),
        taxable_amount: Money::from_db(tax.taxable_amount),
        tax_amount: Money::from_db(tax.tax_amount),
        exemption_reason: tax.exemption_reason,
    }
}

/// A credit note: issued when created, and never changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreditNoteView {
    pub id: i64,
    /// From the account's credit-note series.
    pub number: String,
    /// The invoice it corrects (EN 16931 BT-25, BT-26).
    pub invoice_id: i64,
    pub invoice_number: Option<String>,
    pub invoice_issue_date: Option<NaiveDate>,
    /// `lines`, `full` (everything left), or `cancellation` (a voided invoice's).
    pub kind: CreditNoteKind,
    pub reason: String,
    /// Always `issued`.
    pub status: &'static str,
    pub currency: String,
    pub issue_date: NaiveDate,
    pub tax_rounding: TaxRounding,
    pub lines: Vec<CreditNoteLineView>,
    pub subtotal: Money,
    pub tax_total: Money,
    pub total: Money,
    pub tax_breakdown: Vec<BreakdownEntry>,
    pub created_at: DateTime<Utc>,
}

impl CreditNoteView {
    /// With the invoice's number and issue date, which it refers to.
    pub fn new(
        full: Full,
        invoice_number: Option<String>,
        invoice_issue_date: Option<NaiveDate>,
    ) -> Self {
        let mut taxes = full.taxes;
        taxes.sort_by(|a, b| {
            a.tax_category
                .rank()
                .cmp(&b.tax_category.rank())
                .then_with(|| b.tax_rate.cmp(&a.tax_rate))
        });
        let breakdown: Vec<BreakdownEntry> = taxes.into_iter().map(entry).collect();
        let subtotal = breakdown
            .iter()
            .fold(Money::zero(), |sum, e| &sum + &e.taxable_amount);
        let tax_total = breakdown
            .iter()
            .fold(Money::zero(), |sum, e| &sum + &e.tax_amount);
        let note = full.note;
        Self {
            id: note.id,
            number: note.number,
            invoice_id: note.invoice_id,
            invoice_number,
            invoice_issue_date,
            kind: note.kind,
            reason: note.reason,
            status: "issued",
            currency: note.currency,
            issue_date: note.issue_date,
            tax_rounding: note.tax_rounding,
            lines: full
                .lines
                .into_iter()
                .map(CreditNoteLineView::from)
                .collect(),
            total: &subtotal + &tax_total,
            subtotal,
            tax_total,
            tax_breakdown: breakdown,
            created_at: note.created_at,
        }
    }
}
