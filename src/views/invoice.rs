use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    BreakdownEntry, InvoiceStatus, Money, Quantity, TaxCategory, TaxLine, TaxRate, TaxRounding,
    breakdown,
};
use crate::models::invoice::{Invoice, Totals};
use crate::models::invoice_item::Item;

/// A line of an invoice with its derived amounts (rounded half away from
/// zero, per line).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemView {
    pub id: i64,
    /// 1-based; the invoice's lines are always numbered 1..n.
    pub position: i32,
    pub description: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub tax_rate: TaxRate,
    pub tax_category: TaxCategory,
    pub tax_exemption_reason: Option<String>,
    /// round(quantity × unit_price)
    pub subtotal: Money,
    /// round(subtotal × tax_rate / 100)
    pub tax: Money,
    /// subtotal + tax
    pub total: Money,
}

impl From<Item> for ItemView {
    fn from(row: Item) -> Self {
        let subtotal = Money::from_db(row.subtotal);
        let tax = Money::from_db(row.tax);
        Self {
            id: row.id,
            position: row.position,
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

/// The lines as the tax breakdown sees them.
pub fn tax_lines(items: &[Item]) -> Vec<TaxLine> {
    items
        .iter()
        .map(|item| TaxLine {
            category: item.tax_category,
            rate: item.tax_rate.clone(),
            subtotal: item.subtotal.clone(),
            tax: item.tax.clone(),
            exemption_reason: item.tax_exemption_reason.clone(),
        })
        .collect()
}

/// When the service was delivered over a span of days (EN 16931 BG-14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServicePeriod {
    #[schema(value_type = String, format = Date)]
    pub start: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub end: NaiveDate,
}

/// An invoice, with its derived amounts (always consistent with its items,
/// payments and credit notes). Lists leave out `items`, `tax_breakdown`
/// and `credit_note_ids`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceView {
    pub id: i64,
    /// Assigned from the account's series when it is issued, unless given.
    pub number: Option<String>,
    pub customer_id: i64,
    pub status: InvoiceStatus,
    pub currency: String,
    pub issue_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    /// The day the goods or service were delivered (BT-72), when one day.
    pub service_date: Option<NaiveDate>,
    /// The span they were delivered over (BG-14), when a span.
    pub service_period: Option<ServicePeriod>,
    pub notes: Option<String>,
    /// How tax is rounded: per line, or per breakdown entry (fixed at issue).
    pub tax_rounding: TaxRounding,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemView>>,
    /// One entry per tax category and rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_breakdown: Option<Vec<BreakdownEntry>>,
    /// Σ line subtotals
    pub subtotal: Money,
    /// Σ of the breakdown's taxes
    pub tax_total: Money,
    /// subtotal + tax_total
    pub total: Money,
    /// Σ payments
    pub amount_paid: Money,
    /// Σ credit notes
    pub amount_credited: Money,
    /// total − amount_paid − amount_credited (never below 0)
    pub balance_due: Money,
    /// Paid and credited beyond the total: owed back to the customer.
    pub amount_refundable: Money,
    /// Its credit notes, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_note_ids: Option<Vec<i64>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl InvoiceView {
    /// A list entry: the invoice and its amounts, without its lines.
    pub fn summary(invoice: Invoice, totals: &Totals) -> Self {
        Self {
            id: invoice.id,
            number: invoice.number,
            customer_id: invoice.customer_id,
            status: invoice.status,
            currency: invoice.currency,
            issue_date: invoice.issue_date,
            due_date: invoice.due_date,
            service_date: invoice.service_date,
            service_period: invoice
                .service_period_start
                .zip(invoice.service_period_end)
                .map(|(start, end)| ServicePeriod { start, end }),
            notes: invoice.notes,
            tax_rounding: invoice.tax_rounding,
            items: None,
            tax_breakdown: None,
            subtotal: totals.subtotal.clone(),
            tax_total: totals.tax_total.clone(),
            total: totals.total(),
            amount_paid: totals.amount_paid.clone(),
            amount_credited: totals.amount_credited.clone(),
            balance_due: totals.balance_due(),
            amount_refundable: totals.amount_refundable(),
            credit_note_ids: None,
            created_at: invoice.created_at,
            updated_at: invoice.updated_at,
        }
    }

    /// The whole invoice: its lines, breakdown and credit notes too.
    pub fn full(
        invoice: Invoice,
        totals: &Totals,
        items: Vec<Item>,
        credit_note_ids: Vec<i64>,
    ) -> Self {
        let entries = breakdown(&tax_lines(&items), invoice.tax_rounding);
        Self {
            items: Some(items.into_iter().map(ItemView::from).collect()),
            tax_breakdown: Some(entries),
            credit_note_ids: Some(credit_note_ids),
            ..Self::summary(invoice, totals)
        }
    }
}
