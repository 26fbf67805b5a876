//! Deciding each legacy row: imported as normalised, or rejected with every
//! reason. An invoice is imported whole or not at all: when it, one of its
//! items or one of its payments is rejected, the others are rejected with
//! it, so that no imported invoice ever shows a total it did not have.

use std::collections::HashSet;

use bigdecimal::{BigDecimal, Zero};
use chrono::{DateTime, Utc};

use super::legacy::{LegacyCustomer, LegacyInvoice, LegacyItem, LegacyPayment};
use super::normalize::{self, LegacyValue};
use crate::domain::{
    AccountId, InvoiceStatus, Money, PaymentMethod, Quantity, TaxRate, TaxRounding, line_amounts,
};
// Imported rows are the tables' own rows, as the service reads them.
use crate::models::customer::Customer;
use crate::models::invoice::Invoice;

/// One reason a row is not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub table: &'static str,
    pub legacy_id: i64,
    /// The row's account, when it can be told (for the report).
    pub account: Option<String>,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// Collects a row's problems.
struct Problems {
    table: &'static str,
    legacy_id: i64,
    account: Option<String>,
    found: Vec<Reject>,
}

impl Problems {
    fn new(table: &'static str, legacy_id: i64, account: Option<String>) -> Self {
        Self {
            table,
            legacy_id,
            account,
            found: Vec::new(),
        }
    }

    fn add(&mut self, column: &str, value: String, reason: impl Into<String>) {
        self.found.push(Reject {
            table: self.table,
            legacy_id: self.legacy_id,
            account: self.account.clone(),
            column: column.to_owned(),
            value,
            reason: reason.into(),
        });
    }

    /// SQLite allows any integer key; the schema only ids above 0
    /// (`*_id_positive`), which the service hands out.
    fn positive_id(&mut self) {
        if self.legacy_id <= 0 {
            let id = self.legacy_id.to_string();
            self.add("id", id, "is not above 0 (ids start at 1)");
        }
    }

    /// The parsed value, or `None` with the problem recorded.
    fn check<T>(
        &mut self,
        column: &str,
        value: &LegacyValue,
        parsed: Result<T, String>,
    ) -> Option<T> {
        match parsed {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.add(column, value.shown(), reason);
                None
            }
        }
    }
}

/// What decisions share.
pub struct Context<'a> {
    pub default_currency: Option<&'a str>,
    /// Customers already rejected (their invoices go with them).
    pub rejected_customers: &'a HashSet<i64>,
    /// When the import runs: the timestamp of rows that have none.
    pub now: DateTime<Utc>,
}

fn account(problems: &mut Problems, value: &LegacyValue) -> Option<String> {
    let text = value.trimmed().unwrap_or_default();
    problems.check(
        "account_id",
        value,
        AccountId::parse(text).map(|id| id.as_str().to_owned()),
    )
}

/// The account of a legacy account_id, for reporting rows that are rejected.
pub fn account_label(value: &LegacyValue) -> Option<String> {
    value.trimmed().map(str::to_owned)
}

fn created_and_updated(
    problems: &mut Problems,
    created: &LegacyValue,
    updated: &LegacyValue,
    now: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let created_at = problems
        .check("created_at", created, normalize::timestamp(created))
        .map(|at| at.unwrap_or(now));
    let updated_at = problems
        .check("updated_at", updated, normalize::timestamp(updated))
        .map(|at| at.or(created_at).unwrap_or(now));
    (created_at, updated_at)
}

pub fn customer(legacy: &LegacyCustomer, now: DateTime<Utc>) -> Result<Customer, Vec<Reject>> {
    let mut p = Problems::new("customers", legacy.id, account_label(&legacy.account_id));
    p.positive_id();
    let account_id = account(&mut p, &legacy.account_id);
    let name = p
        .check("name", &legacy.name, normalize::text(&legacy.name, 200))
        .and_then(|name| {
            if name.is_none() {
                p.add("name", legacy.name.shown(), "is missing");
            }
            name
        });
    let email = p.check("email", &legacy.email, normalize::text(&legacy.email, 254));
    let phone = p.check("phone", &legacy.phone, normalize::text(&legacy.phone, 100));
    let address = p.check(
        "address",
        &legacy.address,
        normalize::text(&legacy.address, 1000),
    );
    let tax_id = p.check(
        "tax_id",
        &legacy.tax_id,
        normalize::text(&legacy.tax_id, 100),
    );
    let (created_at, updated_at) =
        created_and_updated(&mut p, &legacy.created_at, &legacy.updated_at, now);
    match (
        account_id, name, email, phone, address, tax_id, created_at, updated_at,
    ) {
        (
            Some(account_id),
            Some(name),
            Some(email),
            Some(phone),
            Some(address),
            Some(tax_id),
            Some(created_at),
            Some(updated_at),
        ) if p.found.is_empty() => Ok(Customer {
            account_id,
            id: legacy.id,
            name,
            email,
            phone,
            address,
            tax_id,
            created_at,
            updated_at,
            billing_line1: None,
            billing_line2: None,
            billing_postal_code: None,
            billing_city: None,
            billing_country: None,
            buyer_reference: None,
            locale: None,
        }),
        _ => Err(p.found),
    }
}

#[derive(Debug, Clone)]
pub struct ItemRow {
    pub id: i64,
    pub position: i32,
    pub description: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub tax_rate: TaxRate,
    /// subtotal + tax, as the database will derive them.
    pub total: BigDecimal,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct PaymentRow {
    pub id: i64,
    pub amount: Money,
    pub paid_at: DateTime<Utc>,
    pub method: Option<PaymentMethod>,
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An invoice with everything that belongs to it.
#[derive(Debug, Clone)]
pub struct InvoiceGroup<'a> {
    pub invoice: LegacyInvoice<'a>,
    pub items: Vec<LegacyItem<'a>>,
    pub payments: Vec<LegacyPayment<'a>>,
}

impl InvoiceGroup<'_> {
    /// Whether an item's or payment's legacy invoice_id names this invoice.
    pub fn owns(&self, invoice_id: &LegacyValue<'_>) -> bool {
        normalize::id(invoice_id) == Ok(self.invoice.id)
    }
}

#[derive(Debug, Clone)]
pub struct AcceptedInvoice {
    pub invoice: Invoice,
    pub items: Vec<ItemRow>,
    pub payments: Vec<PaymentRow>,
}

/// A quantity: present, more than zero at 3 decimals, within NUMERIC(12,3).
fn required_quantity(value: &LegacyValue) -> Result<Quantity, String> {
    match normalize::amount(value, 3)? {
        None => Err("is missing".into()),
        Some(q) if q < BigDecimal::zero() => Err("is negative".into()),
        Some(q) if q.is_zero() => Err("is zero (or rounds to zero at 3 decimals)".into()),
        Some(q) if q >= 1_000_000_000u64 => Err("does not fit NUMERIC(12,3)".into()),
        Some(q) => Ok(Quantity::from_db(q)),
    }
}

/// An amount of money: present, not `too_small`, within NUMERIC(14,2).
fn required_money(
    value: &LegacyValue,
    too_small: impl FnOnce(&BigDecimal) -> Option<&'static str>,
) -> Result<Money, String> {
    let amount = normalize::amount(value, 2)?.ok_or("is missing")?;
    if let Some(reason) = too_small(&amount) {
        return Err(reason.into());
    }
    if !Money::fits_column(&amount) {
        return Err("does not fit NUMERIC(14,2)".into());
    }
    Ok(Money::from_db(amount))
}

/// A tax rate from 0 to 100; none is 0.
fn tax_rate(value: &LegacyValue) -> Result<TaxRate, String> {
    match normalize::amount(value, 2)? {
        None => Ok(TaxRate::zero()),
        Some(rate) if rate < BigDecimal::zero() || rate > 100 => {
            Err("is not a percentage from 0 to 100".into())
        }
        Some(rate) => Ok(TaxRate::from_db(rate)),
    }
}

fn item(
    legacy: &LegacyItem,
    position: i32,
    account: Option<String>,
    now: DateTime<Utc>,
) -> Result<ItemRow, Vec<Reject>> {
    let mut p = Problems::new("invoice_items", legacy.id, account);
    p.positive_id();
    // A NULL description is stored as empty text: the column cannot be NULL.
    let description = p
        .check(
            "description",
            &legacy.description,
            normalize::text(&legacy.description, 1000),
        )
        .map(Option::unwrap_or_default);
    let quantity = p.check(
        "quantity",
        &legacy.quantity,
        required_quantity(&legacy.quantity),
    );
    let unit_price = p.check(
        "unit_price",
        &legacy.unit_price,
        required_money(&legacy.unit_price, |price| {
            (*price < BigDecimal::zero()).then_some("is negative")
        }),
    );
    let tax_rate = p.check("tax_rate", &legacy.tax_rate, tax_rate(&legacy.tax_rate));
    let created_at = p
        .check(
            "created_at",
            &legacy.created_at,
            normalize::timestamp(&legacy.created_at),
        )
        .map(|at| at.unwrap_or(now));
    let (Some(description), Some(quantity), Some(unit_price), Some(tax_rate), Some(created_at)) =
        (description, quantity, unit_price, tax_rate, created_at)
    else {
        return Err(p.found);
    };
    if !p.found.is_empty() {
        return Err(p.found);
    }
    let (subtotal, tax) = line_amounts(&quantity, &unit_price, &tax_rate);
    if !Money::fits_column(&subtotal) {
        p.add(
            "unit_price",
            legacy.unit_price.shown(),
            "quantity × unit_price does not fit NUMERIC(14,2)",
        );
        return Err(p.found);
    }
    Ok(ItemRow {
        id: legacy.id,
        position,
        description,
        quantity,
        unit_price,
        tax_rate,
        total: subtotal + tax,
        created_at,
    })
}

fn payment(
    legacy: &LegacyPayment,
    account: Option<String>,
    now: DateTime<Utc>,
) -> Result<PaymentRow, Vec<Reject>> {
    let mut p = Problems::new("payments", legacy.id, account);
    p.positive_id();
    let amount = p.check(
        "amount",
        &legacy.amount,
        required_money(&legacy.amount, |amount| {
            (*amount <= BigDecimal::zero()).then_some("is not more than 0")
        }),
    );
    let paid_at = p
        .check(
            "paid_at",
            &legacy.paid_at,
            normalize::timestamp(&legacy.paid_at),
        )
        .and_then(|at| {
            if at.is_none() {
                p.add("paid_at", legacy.paid_at.shown(), "is missing");
            }
            at
        });
    let method = p.check("method", &legacy.method, normalize::method(&legacy.method));
    let reference = p.check(
        "reference",
        &legacy.reference,
        normalize::text(&legacy.reference, 200),
    );
    let created_at = p
        .check(
            "created_at",
            &legacy.created_at,
            normalize::timestamp(&legacy.created_at),
        )
        .map(|at| at.unwrap_or(now));
    match (amount, paid_at, method, reference, created_at) {
        (Some(amount), Some(paid_at), Some(method), Some(reference), Some(created_at))
            if p.found.is_empty() =>
        {
            Ok(PaymentRow {
                id: legacy.id,
                amount,
                paid_at,
                method,
                reference,
                created_at,
            })
        }
        _ => Err(p.found),
    }
}

fn invoice_fields(legacy: &LegacyInvoice, context: &Context<'_>) -> Result<Invoice, Vec<Reject>> {
    let mut p = Problems::new("invoices", legacy.id, account_label(&legacy.account_id));
    p.positive_id();
    let account_id = account(&mut p, &legacy.account_id);
    let customer_id = p.check(
        "customer_id",
        &legacy.customer_id,
        normalize::id(&legacy.customer_id),
    );
    if let Some(customer) = customer_id {
        match (&legacy.customer_account, &account_id) {
            (None, _) => p.add(
                "customer_id",
                legacy.customer_id.shown(),
                "references a customer that does not exist",
            ),
            (Some(_), _) if context.rejected_customers.contains(&customer) => p.add(
                "customer_id",
                legacy.customer_id.shown(),
                format!("depends on rejected customers row {customer}"),
            ),
            (Some(theirs), Some(ours)) if theirs.trim() != ours => p.add(
                "account_id",
                legacy.account_id.shown(),
                format!("differs from its customer's account ({})", theirs.trim()),
            ),
            _ => {}
        }
    }
    let number = p
        .check(
            "number",
            &legacy.number,
            normalize::text(&legacy.number, 100),
        )
        .flatten();
    let status = p.check("status", &legacy.status, normalize::status(&legacy.status));
    let currency = p.check(
        "currency",
        &legacy.currency,
        normalize::currency(&legacy.currency, context.default_currency),
    );
    let issue_date = p.check(
        "issue_date",
        &legacy.issue_date,
        normalize::date(&legacy.issue_date),
    );
    let due_date = p.check(
        "due_date",
        &legacy.due_date,
        normalize::date(&legacy.due_date),
    );
    if let (Some(Some(issue)), Some(Some(due))) = (issue_date, due_date)
        && due < issue
    {
        p.add(
            "due_date",
            legacy.due_date.shown(),
            format!("is before the issue date ({issue})"),
        );
    }
    let notes = p.check("notes", &legacy.notes, normalize::text(&legacy.notes, 5000));
    let (created_at, updated_at) =
        created_and_updated(&mut p, &legacy.created_at, &legacy.updated_at, context.now);
    match (
        account_id,
        customer_id,
        status,
        currency,
        issue_date,
        due_date,
        notes,
        created_at,
        updated_at,
    ) {
        (
            Some(account_id),
            Some(customer_id),
            Some(status),
            Some(currency),
            Some(issue_date),
            Some(due_date),
            Some(notes),
            Some(created_at),
            Some(updated_at),
        ) if p.found.is_empty() => Ok(Invoice {
            account_id,
            id: legacy.id,
            customer_id,
            number,
            status,
            currency,
            issue_date,
            due_date,
            notes,
            created_at,
            updated_at,
            tax_rounding: TaxRounding::Line,
            service_date: None,
            service_period_start: None,
            service_period_end: None,
            seller: None,
            buyer: None,
        }),
        _ => Err(p.found),
    }
}

/// The status the payments allow. An issued invoice whose payments cover
/// its total is paid (the service would have marked it so); every other
/// disagreement would need a guess.
fn settled_status(
    status: InvoiceStatus,
    total: &BigDecimal,
    paid: &BigDecimal,
) -> Result<InvoiceStatus, String> {
    if paid > total {
        return Err(format!("its payments ({paid}) exceed its total ({total})"));
    }
    match status {
        InvoiceStatus::Draft | InvoiceStatus::Void if !paid.is_zero() => {
            Err(format!("is {status} but has payments ({paid})"))
        }
        InvoiceStatus::Paid if paid < total => {
            Err(format!("is paid but {} of {total} is due", total - paid))
        }
        // Settled by its payments (a 0.00 invoice by none): paid, as the
        // service would have marked it.
        InvoiceStatus::Issued if paid == total => Ok(InvoiceStatus::Paid),
        other => Ok(other),
    }
}

/// Decides an invoice together with its items and payments.
pub fn invoice_group(
    group: &InvoiceGroup,
    context: &Context<'_>,
) -> Result<AcceptedInvoice, Vec<Reject>> {
    let invoice = invoice_fields(&group.invoice, context);
    let account = match &invoice {
        Ok(row) => Some(row.account_id.clone()),
        Err(_) => account_label(&group.invoice.account_id),
    };
    let mut rejects: Vec<Reject> = Vec::new();
    let mut items = Vec::with_capacity(group.items.len());
    for (position, legacy) in (1..).zip(&group.items) {
        match item(legacy, position, account.clone(), context.now) {
            Ok(row) => items.push(row),
            Err(found) => rejects.extend(found),
        }
    }
    let mut payments = Vec::with_capacity(group.payments.len());
    for legacy in &group.payments {
        match payment(legacy, account.clone(), context.now) {
            Ok(row) => payments.push(row),
            Err(found) => rejects.extend(found),
        }
    }
    let mut invoice = match invoice {
        Ok(invoice) => invoice,
        Err(found) => {
            rejects.splice(0..0, found);
            return Err(with_dependents(group, rejects, account));
        }
    };
    if !rejects.is_empty() {
        return Err(with_dependents(group, rejects, account));
    }
    let total: BigDecimal = items.iter().map(|item| &item.total).sum();
    let paid: BigDecimal = payments.iter().map(|payment| payment.amount.value()).sum();
    match settled_status(invoice.status, &total, &paid) {
        Ok(status) => invoice.status = status,
        Err(reason) => {
            let mut p = Problems::new("invoices", group.invoice.id, account.clone());
            p.add("status", group.invoice.status.shown(), reason);
            return Err(with_dependents(group, p.found, account));
        }
    }
    Ok(AcceptedInvoice {
        invoice,
        items,
        payments,
    })
}

/// What makes two invoice numbers the same for the schema's
/// `UNIQUE (account_id, number)`: the account and the number as they are
/// imported (normalised).
pub type NumberKey = (String, String);

/// The key of an accepted invoice's number, if it has one.
pub fn number_key(accepted: &AcceptedInvoice) -> Option<NumberKey> {
    let invoice = &accepted.invoice;
    let number = invoice.number.clone()?;
    Some((invoice.account_id.clone(), number))
}

/// Rejects an otherwise importable invoice (and its rows) whose number an
/// invoice with a lower legacy id already holds.
pub fn duplicate_number(group: &InvoiceGroup, number: &str, keeper: i64) -> Vec<Reject> {
    let account = account_label(&group.invoice.account_id);
    let mut p = Problems::new("invoices", group.invoice.id, account.clone());
    p.add(
        "number",
        number.to_owned(),
        format!("duplicates the number of invoices row {keeper}, which keeps it"),
    );
    with_dependents(group, p.found, account)
}

/// The money of a legacy item (subtotal + tax, as the database derives
/// it), when its values can be read as numbers at all: what the
/// verification counts as the source's, rejected or not.
pub fn item_money(legacy: &LegacyItem) -> Option<BigDecimal> {
    let quantity = normalize::amount(&legacy.quantity, 3).ok()??;
    let unit_price = normalize::amount(&legacy.unit_price, 2).ok()??;
    let rate = normalize::amount(&legacy.tax_rate, 2)
        .ok()?
        .unwrap_or_default();
    let (subtotal, tax) = line_amounts(
        &Quantity::from_db(quantity),
        &Money::from_db(unit_price),
        &TaxRate::from_db(rate),
    );
    Some(subtotal + tax)
}

/// The amount of a legacy payment, when it can be read as a number.
pub fn payment_money(legacy: &LegacyPayment) -> Option<BigDecimal> {
    normalize::amount(&legacy.amount, 2).ok()?
}

/// Adds a reject for every row of the group that has none yet: the
/// invoice, items and payments that go because another row of theirs went.
fn with_dependents(
    group: &InvoiceGroup,
    mut rejects: Vec<Reject>,
    account: Option<String>,
) -> Vec<Reject> {
    let already = |table: &str, id: i64, rejects: &[Reject]| {
        rejects
            .iter()
            .any(|r| r.table == table && r.legacy_id == id)
    };
    let cause = rejects
        .first()
        .map(|r| format!("{} row {}", r.table, r.legacy_id))
        .unwrap_or_default();
    let mut dependents = Vec::new();
    let invoice = group.invoice.id;
    if !already("invoices", invoice, &rejects) {
        dependents.push(Reject {
            table: "invoices",
            legacy_id: invoice,
            account: account.clone(),
            column: "id".into(),
            value: invoice.to_string(),
            reason: format!(
                "goes with rejected {cause}: an invoice is imported whole or not at all"
            ),
        });
    }
    for (table, id) in group
        .items
        .iter()
        .map(|i| ("invoice_items", i.id))
        .chain(group.payments.iter().map(|p| ("payments", p.id)))
    {
        if !already(table, id, &rejects) {
            dependents.push(Reject {
                table,
                legacy_id: id,
                account: account.clone(),
                column: "invoice_id".into(),
                value: invoice.to_string(),
                reason: format!("depends on rejected invoices row {invoice}"),
            });
        }
    }
    rejects.extend(dependents);
    rejects
}

/// An item or payment whose invoice is not in the file.
pub fn orphan(table: &'static str, legacy_id: i64, invoice_id: &LegacyValue) -> Reject {
    Reject {
        table,
        legacy_id,
        account: None,
        column: "invoice_id".into(),
        value: invoice_id.shown(),
        reason: "references an invoice that does not exist".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> BigDecimal {
        text.parse().unwrap()
    }

    #[test]
    fn statuses_must_agree_with_payments() {
        let ok = |s, t: &str, p: &str| settled_status(s, &money(t), &money(p));
        assert_eq!(
            ok(InvoiceStatus::Issued, "100", "100"),
            Ok(InvoiceStatus::Paid)
        );
        assert_eq!(
            ok(InvoiceStatus::Issued, "100", "40"),
            Ok(InvoiceStatus::Issued)
        );
        assert_eq!(
            ok(InvoiceStatus::Issued, "0", "0"),
            Ok(InvoiceStatus::Paid),
            "a 0.00 invoice is paid once issued, as the service marks it"
        );
        assert_eq!(
            ok(InvoiceStatus::Paid, "100", "100"),
            Ok(InvoiceStatus::Paid)
        );
        assert_eq!(ok(InvoiceStatus::Void, "100", "0"), Ok(InvoiceStatus::Void));
        assert!(ok(InvoiceStatus::Paid, "100", "40").is_err());
        assert!(ok(InvoiceStatus::Draft, "100", "10").is_err());
        assert!(ok(InvoiceStatus::Void, "100", "10").is_err());
        assert!(ok(InvoiceStatus::Issued, "100", "100.01").is_err());
    }
}
