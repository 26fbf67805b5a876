//! `credit_notes`, their lines and their tax breakdown: written once, when
//! a credit note is issued, and never changed.

use std::collections::HashMap;

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::{Page, PageRequest};
use crate::db::TenantConn;
use crate::domain::{
    CreditNoteId, CreditNoteKind, InvoiceId, RowId, TaxCategory, TaxLine, TaxRounding,
};
use crate::schema::{credit_note_lines, credit_note_taxes, credit_notes};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = credit_notes, primary_key(account_id, id), check_for_backend(diesel::pg::Pg))]
pub struct CreditNote {
    pub account_id: String,
    pub id: i64,
    pub invoice_id: i64,
    pub number: String,
    pub kind: CreditNoteKind,
    pub reason: String,
    pub currency: String,
    pub issue_date: NaiveDate,
    pub tax_rounding: TaxRounding,
    pub created_at: DateTime<Utc>,
}

impl CreditNote {
    pub fn credit_note_id(&self) -> CreditNoteId {
        CreditNoteId::from_db(self.id)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = credit_note_lines, check_for_backend(diesel::pg::Pg))]
pub struct Line {
    pub id: i64,
    pub credit_note_id: i64,
    pub position: i32,
    pub item_id: Option<i64>,
    pub description: String,
    pub quantity: BigDecimal,
    pub unit_price: BigDecimal,
    pub tax_rate: BigDecimal,
    pub tax_category: TaxCategory,
    pub tax_exemption_reason: Option<String>,
    pub subtotal: BigDecimal,
    pub tax: BigDecimal,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = credit_note_taxes, check_for_backend(diesel::pg::Pg))]
pub struct Tax {
    pub credit_note_id: i64,
    pub tax_category: TaxCategory,
    pub tax_rate: BigDecimal,
    pub taxable_amount: BigDecimal,
    pub tax_amount: BigDecimal,
    pub exemption_reason: Option<String>,
}

/// A credit note about to be written.
#[derive(Debug, Clone)]
pub struct NewCreditNote {
    pub invoice: InvoiceId,
    pub number: String,
    pub kind: CreditNoteKind,
    pub reason: String,
    pub currency: String,
    pub issue_date: NaiveDate,
    pub tax_rounding: TaxRounding,
}

/// A line about to be written: its amounts already worked out.
#[derive(Debug, Clone)]
pub struct NewLine {
    pub item_id: Option<i64>,
    pub description: String,
    pub quantity: BigDecimal,
    pub unit_price: BigDecimal,
    pub tax_rate: BigDecimal,
    pub tax_category: TaxCategory,
    pub tax_exemption_reason: Option<String>,
    pub subtotal: BigDecimal,
    pub tax: BigDecimal,
}

/// A stored line and a line about to be written meet the tax breakdown
/// the same way: one mapping for both, so that they cannot drift apart.
macro_rules! tax_line_of {
    ($($line:ty),+) => {$(
        impl $line {
            /// The line as the tax breakdown sees it.
            pub fn tax_line(&self) -> TaxLine {
                TaxLine {
                    category: self.tax_category,
                    rate: self.tax_rate.clone(),
                    subtotal: self.subtotal.clone(),
                    tax: self.tax.clone(),
                    exemption_reason: self.tax_exemption_reason.clone(),
                }
            }
        }
    )+};
}
tax_line_of!(Line, NewLine);

/// A breakdown entry about to be written.
#[derive(Debug, Clone)]
pub struct NewTax {
    pub tax_category: TaxCategory,
    pub tax_rate: BigDecimal,
    pub taxable_amount: BigDecimal,
    pub tax_amount: BigDecimal,
    pub exemption_reason: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = credit_notes)]
struct CreditNoteRow<'a> {
    account_id: &'a str,
    invoice_id: i64,
    number: &'a str,
    kind: CreditNoteKind,
    reason: &'a str,
    currency: &'a str,
    issue_date: NaiveDate,
    tax_rounding: TaxRounding,
}

#[derive(Insertable)]
#[diesel(table_name = credit_note_lines, treat_none_as_default_value = false)]
struct LineRow<'a> {
    account_id: &'a str,
    credit_note_id: i64,
    invoice_id: i64,
    position: i32,
    item_id: Option<i64>,
    description: &'a str,
    quantity: &'a BigDecimal,
    unit_price: &'a BigDecimal,
    tax_rate: &'a BigDecimal,
    tax_category: TaxCategory,
    tax_exemption_reason: Option<&'a str>,
    subtotal: &'a BigDecimal,
    tax: &'a BigDecimal,
}

#[derive(Insertable)]
#[diesel(table_name = credit_note_taxes, treat_none_as_default_value = false)]
struct TaxRow<'a> {
    account_id: &'a str,
    credit_note_id: i64,
    invoice_id: i64,
    tax_category: TaxCategory,
    tax_rate: &'a BigDecimal,
    taxable_amount: &'a BigDecimal,
    tax_amount: &'a BigDecimal,
    exemption_reason: Option<&'a str>,
}

/// A credit note with its lines and breakdown.
#[derive(Debug, Clone)]
pub struct Full {
    pub note: CreditNote,
    pub lines: Vec<Line>,
    pub taxes: Vec<Tax>,
}

/// Writes a credit note, its lines (positions 1..n in the order given) and
/// its breakdown: three statements.
pub fn insert(
    conn: &mut TenantConn<'_>,
    note: &NewCreditNote,
    lines: &[NewLine],
    taxes: &[NewTax],
) -> QueryResult<Full> {
    let account_id = conn.account_id().to_owned();
    let written: CreditNote = diesel::insert_into(credit_notes::table)
        .values(CreditNoteRow {
            account_id: &account_id,
            invoice_id: note.invoice.get(),
            number: &note.number,
            kind: note.kind,
            reason: &note.reason,
            currency: &note.currency,
            issue_date: note.issue_date,
            tax_rounding: note.tax_rounding,
        })
        .returning(CreditNote::as_returning())
        .get_result(conn.pg())?;
    let line_rows: Vec<LineRow<'_>> = lines
        .iter()
        .zip(1..)
        .map(|(line, position)| LineRow {
            account_id: &account_id,
            credit_note_id: written.id,
            invoice_id: written.invoice_id,
            position,
            item_id: line.item_id,
            description: &line.description,
            quantity: &line.quantity,
            unit_price: &line.unit_price,
            tax_rate: &line.tax_rate,
            tax_category: line.tax_category,
            tax_exemption_reason: line.tax_exemption_reason.as_deref(),
            subtotal: &line.subtotal,
            tax: &line.tax,
        })
        .collect();
    let mut written_lines: Vec<Line> = diesel::insert_into(credit_note_lines::table)
        .values(&line_rows)
        .returning(Line::as_returning())
        .get_results(conn.pg())?;
    written_lines.sort_by_key(|line| line.position);
    let tax_rows: Vec<TaxRow<'_>> = taxes
        .iter()
        .map(|tax| TaxRow {
            account_id: &account_id,
            credit_note_id: written.id,
            invoice_id: written.invoice_id,
            tax_category: tax.tax_category,
            tax_rate: &tax.tax_rate,
            taxable_amount: &tax.taxable_amount,
            tax_amount: &tax.tax_amount,
            exemption_reason: tax.exemption_reason.as_deref(),
        })
        .collect();
    let written_taxes: Vec<Tax> = diesel::insert_into(credit_note_taxes::table)
        .values(&tax_rows)
        .returning(Tax::as_returning())
        .get_results(conn.pg())?;
    Ok(Full {
        note: written,
        lines: written_lines,
        taxes: written_taxes,
    })
}

/// Credit notes with their lines and breakdowns: three statements for any
/// number of them.
fn with_details(conn: &mut TenantConn<'_>, notes: Vec<CreditNote>) -> QueryResult<Vec<Full>> {
    if notes.is_empty() {
        return Ok(Vec::new());
    }
    let account_id = conn.account_id().to_owned();
    let ids: Vec<i64> = notes.iter().map(|n| n.id).collect();
    let lines: Vec<Line> = credit_note_lines::table
        .filter(credit_note_lines::account_id.eq(&account_id))
        .filter(credit_note_lines::credit_note_id.eq_any(&ids))
        .order((
            credit_note_lines::credit_note_id,
            credit_note_lines::position,
        ))
        .select(Line::as_select())
        .load(conn.pg())?;
    let taxes: Vec<Tax> = credit_note_taxes::table
        .filter(credit_note_taxes::account_id.eq(&account_id))
        .filter(credit_note_taxes::credit_note_id.eq_any(&ids))
        .select(Tax::as_select())
        .load(conn.pg())?;
    let mut lines_of: HashMap<i64, Vec<Line>> = HashMap::new();
    for line in lines {
        lines_of.entry(line.credit_note_id).or_default().push(line);
    }
    let mut taxes_of: HashMap<i64, Vec<Tax>> = HashMap::new();
    for tax in taxes {
        taxes_of.entry(tax.credit_note_id).or_default().push(tax);
    }
    Ok(notes
        .into_iter()
        .map(|note| Full {
            lines: lines_of.remove(&note.id).unwrap_or_default(),
            taxes: taxes_of.remove(&note.id).unwrap_or_default(),
            note,
        })
        .collect())
}

pub fn find(conn: &mut TenantConn<'_>, id: CreditNoteId) -> QueryResult<Option<Full>> {
    let account_id = conn.account_id().to_owned();
    let note: Option<CreditNote> = credit_notes::table
        .find((account_id, id.get()))
        .select(CreditNote::as_select())
        .first(conn.pg())
        .optional()?;
    Ok(with_details(conn, note.into_iter().collect())?.pop())
}

/// Credit notes in id order, of one invoice or of all.
pub fn list(
    conn: &mut TenantConn<'_>,
    invoice: Option<InvoiceId>,
    page: &PageRequest,
) -> QueryResult<Page<Full>> {
    let account_id = conn.account_id().to_owned();
    let mut query = credit_notes::table
        .filter(credit_notes::account_id.eq(account_id))
        .filter(credit_notes::id.gt(page.after.unwrap_or(0)))
        .order(credit_notes::id)
        .limit(page.fetch_limit())
        .select(CreditNote::as_select())
        .into_boxed();
    if let Some(invoice) = invoice {
        query = query.filter(credit_notes::invoice_id.eq(invoice.get()));
    }
    let page_of_notes = Page::from_rows(query.load(conn.pg())?, page);
    Ok(Page {
        has_more: page_of_notes.has_more,
        rows: with_details(conn, page_of_notes.rows)?,
    })
}

/// What earlier credit notes credited of each item of an invoice:
/// (quantity, subtotal, tax) by item id.
pub fn credited_by_item(
    conn: &mut TenantConn<'_>,
    invoice: InvoiceId,
) -> QueryResult<HashMap<i64, (BigDecimal, BigDecimal, BigDecimal)>> {
    use diesel::dsl::sum;
    let account_id = conn.account_id().to_owned();
    type Sums = (
        Option<i64>,
        Option<BigDecimal>,
        Option<BigDecimal>,
        Option<BigDecimal>,
    );
    let rows: Vec<Sums> = credit_note_lines::table
        .filter(credit_note_lines::account_id.eq(account_id))
        .filter(credit_note_lines::invoice_id.eq(invoice.get()))
        .filter(credit_note_lines::item_id.is_not_null())
        .group_by(credit_note_lines::item_id)
        .select((
            credit_note_lines::item_id,
            sum(credit_note_lines::quantity),
            sum(credit_note_lines::subtotal),
            sum(credit_note_lines::tax),
        ))
        .load(conn.pg())?;
    Ok(rows
        .into_iter()
        .filter_map(|(item, quantity, subtotal, tax)| {
            Some((
                item?,
                (
                    quantity.unwrap_or_default(),
                    subtotal.unwrap_or_default(),
                    tax.unwrap_or_default(),
                ),
            ))
        })
        .collect())
}

/// What earlier credit notes credited of each breakdown entry of an
/// invoice: (taxable, tax) by (category, rate).
pub fn credited_by_group(
    conn: &mut TenantConn<'_>,
    invoice: InvoiceId,
) -> QueryResult<Vec<(TaxCategory, BigDecimal, BigDecimal, BigDecimal)>> {
    use diesel::dsl::sum;
    let account_id = conn.account_id().to_owned();
    let rows: Vec<(
        TaxCategory,
        BigDecimal,
        Option<BigDecimal>,
        Option<BigDecimal>,
    )> = credit_note_taxes::table
        .filter(credit_note_taxes::account_id.eq(account_id))
        .filter(credit_note_taxes::invoice_id.eq(invoice.get()))
        .group_by((credit_note_taxes::tax_category, credit_note_taxes::tax_rate))
        .select((
            credit_note_taxes::tax_category,
            credit_note_taxes::tax_rate,
            sum(credit_note_taxes::taxable_amount),
            sum(credit_note_taxes::tax_amount),
        ))
        .load(conn.pg())?;
    Ok(rows
        .into_iter()
        .map(|(category, rate, taxable, tax)| {
            (
                category,
                rate,
                taxable.unwrap_or_default(),
                tax.unwrap_or_default(),
            )
        })
        .collect())
}

/// Whether any credit note of the invoice has free lines (lines that
/// credit no item).
pub fn has_free_lines(conn: &mut TenantConn<'_>, invoice: InvoiceId) -> QueryResult<bool> {
    let account_id = conn.account_id().to_owned();
    diesel::select(diesel::dsl::exists(
        credit_note_lines::table
            .filter(credit_note_lines::account_id.eq(account_id))
            .filter(credit_note_lines::invoice_id.eq(invoice.get()))
            .filter(credit_note_lines::item_id.is_null()),
    ))
    .get_result(conn.pg())
}
