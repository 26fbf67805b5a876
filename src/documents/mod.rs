//! The documents a customer receives: one model of what an invoice or a
//! credit note says (parties, lines, tax breakdown, totals), of which the
//! PDF and both EN 16931 syntaxes are views, so they cannot disagree; and
//! what that model needs before it makes a valid e-invoice.

pub mod cii;
pub mod issued;
pub mod model;
pub mod pdf;
pub mod requirements;
pub mod ubl;
mod xml;

pub use model::{BuyerParty, Document, DocumentKind, SellerParty};
pub use requirements::{Missing, einvoice_gaps, xrechnung_gaps};

use crate::domain::{BreakdownEntry, TaxCategory, vatex_code};

/// The unit every quantity is in (UN/ECE Recommendation 20 "C62": one).
/// The service does not record units of measure.
const UNIT_CODE: &str = "C62";

/// How the buyer pays (BG-16).
struct PaymentMeans<'a> {
    /// UNTDID 4461: 58 SEPA credit transfer (to the seller's IBAN), or 1
    /// (not defined) when the document names no account.
    code: &'static str,
    iban: Option<&'a str>,
    bic: Option<&'a str>,
}

fn payment_means(document: &Document) -> PaymentMeans<'_> {
    let seller = &document.seller;
    match (&document.kind, &seller.iban) {
        (DocumentKind::Invoice, Some(iban)) => PaymentMeans {
            code: "58",
            iban: Some(iban),
            bic: seller.bic.as_deref(),
        },
        _ => PaymentMeans {
            code: "1",
            iban: None,
            bic: None,
        },
    }
}

/// The payment terms (BT-20), where a due date (BT-9) does not say it all:
/// a credit note says what it credits; an invoice without a due date (only
/// imported ones) is due on receipt.
fn payment_terms(document: &Document) -> Option<String> {
    match document.kind {
        DocumentKind::CreditNote => {
            let preceding = document.preceding.as_ref();
            Some(match preceding.and_then(|p| p.number.as_deref()) {
                Some(number) => format!("Credited against invoice {number}"),
                None => "Credit note".to_owned(),
            })
        }
        DocumentKind::Invoice if document.due_date.is_none() => Some("Due on receipt".to_owned()),
        DocumentKind::Invoice => None,
    }
}

/// The seller's identifier (BT-29), given where its VAT id may not appear
/// (outside the scope of VAT): its tax number, so that the buyer can still
/// tell who the seller is (BR-CO-26 asks for BT-29, BT-30 or BT-31).
fn seller_identifier(document: &Document) -> Option<&str> {
    (!document.shows_vat_ids())
        .then_some(document.seller.tax_number.as_deref())
        .flatten()
}

/// Where an intra-community supply (K) went (BT-80): the buyer's country.
fn deliver_to_country(document: &Document) -> Option<&str> {
    document
        .breakdown
        .iter()
        .any(|entry| entry.category == TaxCategory::K)
        .then(|| document.buyer.address.as_ref()?.country.as_deref())
        .flatten()
}

/// A breakdown entry's exemption reason as the syntaxes carry it: a VATEX
/// code (BT-121) or a text (BT-120). Standard and zero-rated entries carry
/// none (BR-S-10, BR-Z-10).
struct ExemptionReason<'a> {
    code: Option<&'a str>,
    text: Option<&'a str>,
}

fn exemption_reason(entry: &BreakdownEntry) -> ExemptionReason<'_> {
    let reason = match entry.category {
        TaxCategory::S | TaxCategory::Z => None,
        _ => entry.exemption_reason.as_deref(),
    };
    match reason {
        Some(reason) if vatex_code(reason).is_some() => ExemptionReason {
            code: Some(reason),
            text: None,
        },
        Some(reason) => ExemptionReason {
            code: None,
            text: Some(reason),
        },
        None => ExemptionReason {
            code: None,
            text: None,
        },
    }
}

#[cfg(test)]
pub(crate) mod samples {
    //! Documents built by hand, for the renderers' unit tests.
    use bigdecimal::BigDecimal;
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::model::{Delivery, DocumentLine, Preceding};
    use super::*;
    use crate::domain::{
        Address, Locale, Money, Quantity, TaxLine, TaxRate, TaxRounding, breakdown, tax_groups,
    };

    fn decimal(text: &str) -> BigDecimal {
        text.parse().unwrap()
    }

    /// An invoice of `lines` lines at 19 %, or a credit note.
    pub fn document(kind: DocumentKind, lines: usize) -> Document {
        let mut rows = Vec::new();
        let mut taxed = Vec::new();
        for n in 1..=lines {
            let quantity = decimal("1.500");
            let price = decimal(&format!("{}.25", 10 + n));
            let net = (&quantity * &price).with_scale_round(2, bigdecimal::RoundingMode::HalfUp);
            let tax = crate::domain::document_tax(&net, &decimal("19"));
            taxed.push(TaxLine {
                category: TaxCategory::S,
                rate: decimal("19.00"),
                subtotal: net.clone(),
                tax,
                exemption_reason: None,
            });
            rows.push(DocumentLine {
                position: n as i32,
                description: format!("Consulting & design <phase {n}> — Übergabe"),
                quantity: Quantity::from_db(quantity),
                unit_price: Money::from_db(price),
                tax_category: TaxCategory::S,
                tax_rate: TaxRate::from_db(decimal("19")),
                net_amount: Money::from_db(net),
            });
        }
        let entries = breakdown(&taxed, TaxRounding::Line);
        let subtotal = entries
            .iter()
            .fold(Money::zero(), |s, e| &s + &e.taxable_amount);
        let tax_total = entries
            .iter()
            .fold(Money::zero(), |s, e| &s + &e.tax_amount);
        let total = &subtotal + &tax_total;
        let invoice = kind == DocumentKind::Invoice;
        Document {
            kind,
            draft: false,
            number: Some(
                if invoice {
                    "2026-00042"
                } else {
                    "CN-2026-00007"
                }
                .into(),
            ),
            issue_date: NaiveDate::from_ymd_opt(2026, 12, 1),
            due_date: invoice.then(|| NaiveDate::from_ymd_opt(2026, 12, 15).unwrap()),
            delivery: Some(Delivery::Date(
                NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            )),
            currency: "EUR".into(),
            seller: SellerParty {
                name: "Acme".into(),
                legal_name: Some("Acme Software GmbH".into()),
                address: Some(Address {
                    line1: Some("Hauptstraße 1".into()),
                    line2: None,
                    postal_code: Some("10115".into()),
                    city: Some("Berlin".into()),
                    country: Some("DE".into()),
                }),
                vat_id: Some("DE123456789".into()),
                tax_number: Some("12/345/67890".into()),
                email: Some("billing@acme.example".into()),
                phone: Some("+49 30 1234567".into()),
                iban: Some("DE89370400440532013000".into()),
                bic: Some("COBADEFFXXX".into()),
            },
            buyer: BuyerParty {
                name: "Müller & Söhne KG".into(),
                address: Some(Address {
                    line1: Some("Marktplatz 5".into()),
                    line2: Some("Hinterhaus".into()),
                    postal_code: Some("80331".into()),
                    city: Some("München".into()),
                    country: Some("DE".into()),
                }),
                tax_id: Some("DE987654321".into()),
                buyer_reference: Some("04011000-12345-67".into()),
                email: Some("ap@mueller.example".into()),
                phone: None,
                locale: Some(Locale::De),
            },
            lines: rows,
            breakdown: entries,
            tax_groups: tax_groups(&taxed),
            subtotal,
            tax_total,
            total,
            notes: Some("Thank you for your business.".into()),
            reason: (!invoice).then(|| "Half a day less consulting".into()),
            preceding: (!invoice).then(|| Preceding {
                number: Some("2026-00042".into()),
                issue_date: NaiveDate::from_ymd_opt(2026, 12, 1),
            }),
            produced_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap(),
            default_language: Locale::De,
        }
    }

    /// Writes sample documents into $INVOICED_SAMPLES_DIR, for a look or a
    /// validator: `INVOICED_SAMPLES_DIR=/tmp/s cargo test --lib write_samples -- --ignored`.
    #[test]
    #[ignore]
    fn write_samples() {
        let dir = std::env::var("INVOICED_SAMPLES_DIR").expect("INVOICED_SAMPLES_DIR");
        for (name, kind) in [
            ("invoice", DocumentKind::Invoice),
            ("credit-note", DocumentKind::CreditNote),
        ] {
            for lines in [3, 120] {
                let document = document(kind, lines);
                let cii = cii::render(&document);
                std::fs::write(format!("{dir}/{name}-{lines}.cii.xml"), &cii).unwrap();
                std::fs::write(
                    format!("{dir}/{name}-{lines}.ubl.xml"),
                    ubl::render(&document),
                )
                .unwrap();
                for language in [Locale::En, Locale::De] {
                    let pdf = pdf::render(&document, language, Some(&cii));
                    std::fs::write(
                        format!("{dir}/{name}-{lines}-{}.pdf", language.as_str()),
                        pdf,
                    )
                    .unwrap();
                }
            }
            let mut draft = document(kind, 2);
            draft.draft = true;
            draft.number = None;
            for language in [Locale::En, Locale::De] {
                std::fs::write(
                    format!("{dir}/{name}-draft-{}.pdf", language.as_str()),
                    pdf::render(&draft, language, None),
                )
                .unwrap();
            }
        }
    }
}
