//! What a document needs to be one a business may send, and what it needs
//! beyond that to make a valid EN 16931 e-invoice: each gap named by the
//! field that would fill it.
//!
//! These are the rules of the official CEN EN 16931 Schematron that the
//! service's data can break; the rest (the syntax, the sums, the code
//! lists it writes itself) the renderers keep by construction, and the
//! tests check every document against the official rules.

use crate::domain::{Currency, TaxCategory, TaxGroup};

use super::model::{BuyerParty, SellerParty};

/// A field whose value a document lacks, and why it needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// Where to fill it: `account.legal_name`, `customer.billing_address.country`, …
    pub field: String,
    pub message: String,
}

impl Missing {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// What the law needs on every invoice the service issues (EU VAT
/// Directive Art. 226): the seller's legal name and address with its
/// country, the buyer's billing address with its country, and the buyer's
/// VAT id where the tax is the buyer's to pay (AE, K).
pub fn legal_gaps(seller: &SellerParty, buyer: &BuyerParty, groups: &[TaxGroup]) -> Vec<Missing> {
    let mut gaps = Vec::new();
    if seller.legal_name.is_none() {
        gaps.push(Missing::new(
            "account.legal_name",
            "the seller's legal name is needed on an invoice",
        ));
    }
    if seller
        .address
        .as_ref()
        .and_then(|a| a.country.as_ref())
        .is_none()
    {
        gaps.push(Missing::new(
            "account.address.country",
            "the seller's address, with its country, is needed on an invoice",
        ));
    }
    if buyer
        .address
        .as_ref()
        .and_then(|a| a.country.as_ref())
        .is_none()
    {
        gaps.push(Missing::new(
            "customer.billing_address.country",
            "the customer's billing address, with its country, is needed on an invoice",
        ));
    }
    if let Some(group) = groups.iter().find(|g| g.category.needs_buyer_vat_id())
        && buyer.vat_id().is_none()
    {
        gaps.push(Missing::new(
            "customer.vat_id",
            format!(
                "lines of tax category {} (the buyer pays the VAT) need the customer's VAT id",
                group.category
            ),
        ));
    }
    for group in groups {
        if group.reasons.len() > 1 {
            gaps.push(Missing::new(
                "items.tax_exemption_reason",
                format!(
                    "the lines of tax category {} at {} % give different exemption reasons ({}); \
                     one breakdown entry states one reason",
                    group.category,
                    group.rate,
                    group.reasons.join("; ")
                ),
            ));
        }
    }
    gaps
}

/// What an EN 16931 e-invoice needs beyond [`legal_gaps`], for the data the
/// service holds. `has_delivery_period`: a service date or period is set.
pub fn einvoice_gaps(
    seller: &SellerParty,
    buyer: &BuyerParty,
    currency: &str,
    groups: &[TaxGroup],
    has_delivery_period: bool,
) -> Vec<Missing> {
    let mut gaps = legal_gaps(seller, buyer, groups);
    if !Currency::is_iso_4217(currency) {
        gaps.push(Missing::new(
            "currency",
            format!("{currency} is not an ISO 4217 currency code (BR-CL-04)"),
        ));
    }
    let has = |category: TaxCategory| groups.iter().any(|g| g.category == category);
    let outside_scope = has(TaxCategory::O);
    if outside_scope && groups.iter().any(|g| g.category != TaxCategory::O) {
        gaps.push(Missing::new(
            "items.tax_category",
            "lines outside the scope of VAT (O) cannot share an e-invoice with other categories \
             (BR-O-11): issue them on an invoice of their own",
        ));
    }
    if !outside_scope {
        // BR-S-02, BR-Z-02, BR-E-02, BR-AE-02 (a VAT id or a tax number),
        // BR-G-02, BR-IC-02 (a VAT id), BR-CO-26.
        let needs_vat_id = has(TaxCategory::G) || has(TaxCategory::K);
        if needs_vat_id && seller.vat_id.is_none() {
            gaps.push(Missing::new(
                "account.vat_id",
                "exports (G) and intra-community supplies (K) need the seller's VAT id",
            ));
        } else if seller.vat_id.is_none() && seller.tax_number.is_none() {
            gaps.push(Missing::new(
                "account.vat_id",
                "an e-invoice needs the seller's VAT id, or at least its tax number (account.tax_number)",
            ));
        }
    } else if seller.tax_number.is_none() {
        // Out of scope: no VAT id may appear (BR-O-02), so the seller is
        // identified by its tax number, given as its identifier (BT-29, as
        // BR-CO-26 asks).
        gaps.push(Missing::new(
            "account.tax_number",
            "an e-invoice outside the scope of VAT carries no VAT id, so it needs the seller's tax number",
        ));
    }
    if has(TaxCategory::K) && !has_delivery_period {
        gaps.push(Missing::new(
            "service_date",
            "an intra-community supply (K) needs the delivery date or period (BR-IC-11): set \
             service_date or service_period",
        ));
    }
    gaps
}

/// What an XRechnung 3.0 invoice needs beyond EN 16931 (the German CIUS,
/// rules BR-DE-*), which the UBL of a buyer with a buyer reference claims
/// to be: the seller's contact (phone and e-mail), both parties' postal
/// code and city, both parties' electronic addresses (their e-mail), and on
/// an invoice the account to pay to.
pub fn xrechnung_gaps(seller: &SellerParty, buyer: &BuyerParty, invoice: bool) -> Vec<Missing> {
    let mut gaps = Vec::new();
    if buyer.buyer_reference.is_none() {
        return gaps;
    }
    let why = "an XRechnung (the customer has a buyer_reference) needs";
    if seller.phone.is_none() {
        gaps.push(Missing::new(
            "account.phone",
            format!("{why} the seller's telephone number (BR-DE-6)"),
        ));
    }
    if seller.email.is_none() {
        gaps.push(Missing::new(
            "account.email",
            format!("{why} the seller's e-mail address (BR-DE-7, BT-34)"),
        ));
    }
    for (field, party, address) in [
        ("account.address", "seller", seller.address.as_ref()),
        ("customer.billing_address", "buyer", buyer.address.as_ref()),
    ] {
        if address.and_then(|a| a.city.as_ref()).is_none() {
            gaps.push(Missing::new(
                &format!("{field}.city"),
                format!("{why} the {party}'s city (BR-DE-3, BR-DE-8)"),
            ));
        }
        if address.and_then(|a| a.postal_code.as_ref()).is_none() {
            gaps.push(Missing::new(
                &format!("{field}.postal_code"),
                format!("{why} the {party}'s postal code (BR-DE-4, BR-DE-9)"),
            ));
        }
    }
    if buyer.email.is_none() {
        gaps.push(Missing::new(
            "customer.email",
            format!("{why} the buyer's e-mail as its electronic address (BT-49)"),
        ));
    }
    if invoice && seller.iban.is_none() {
        gaps.push(Missing::new(
            "account.iban",
            format!("{why} payment instructions: the account's IBAN (BR-DE-1)"),
        ));
    }
    gaps
}
