//! UBL 2.1 `Invoice` and `CreditNote` as the EN 16931 UBL binding writes
//! them: XRechnung 3.0 when the buyer gives a buyer reference (a German
//! Leitweg-ID, or any reference the buyer asked to see), plain EN 16931
//! otherwise. Element order is the schema's.

use super::model::{Delivery, Document, DocumentKind};
use super::xml::XmlWriter;
use crate::domain::{Address, Money, TaxCategory};

/// BT-24 of a plain EN 16931 invoice.
pub const EN16931: &str = "urn:cen.eu:en16931:2017";
/// BT-24 of an XRechnung 3.0 invoice.
pub const XRECHNUNG: &str = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0";
/// BT-23 that XRechnung asks for (the Peppol billing process).
const XRECHNUNG_PROCESS: &str = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0";

const CAC: (&str, &str) = (
    "xmlns:cac",
    "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
);
const CBC: (&str, &str) = (
    "xmlns:cbc",
    "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
);

/// Whether the document is written as XRechnung.
pub fn is_xrechnung(document: &Document) -> bool {
    document.buyer.buyer_reference.is_some()
}

fn amount<'a>(
    xml: &'a mut XmlWriter,
    element: &'static str,
    currency: &str,
    value: &Money,
) -> &'a mut XmlWriter {
    xml.text_with(element, &[("currencyID", currency)], &value.to_string())
}

/// The document as UBL. The caller has checked that it can make a valid
/// e-invoice (see `requirements`).
pub fn render(document: &Document) -> Vec<u8> {
    let invoice = document.kind == DocumentKind::Invoice;
    let (root, namespace) = if invoice {
        (
            "Invoice",
            "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
        )
    } else {
        (
            "CreditNote",
            "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
        )
    };
    let currency = document.currency.as_str();
    let mut xml = XmlWriter::new();
    xml.open(root, &[("xmlns", namespace), CAC, CBC]);
    if is_xrechnung(document) {
        xml.text("cbc:CustomizationID", XRECHNUNG)
            .text("cbc:ProfileID", XRECHNUNG_PROCESS);
    } else {
        xml.text("cbc:CustomizationID", EN16931);
    }
    xml.text("cbc:ID", document.number_or_draft());
    if let Some(date) = document.issue_date {
        xml.text("cbc:IssueDate", &date.to_string());
    }
    if invoice {
        if let Some(due) = document.due_date {
            xml.text("cbc:DueDate", &due.to_string());
        }
        xml.text("cbc:InvoiceTypeCode", document.kind.type_code());
    } else {
        xml.text("cbc:CreditNoteTypeCode", document.kind.type_code());
    }
    for note in document.notes.iter().chain(document.reason.iter()) {
        xml.text("cbc:Note", note);
    }
    xml.text("cbc:DocumentCurrencyCode", currency);
    xml.optional(
        "cbc:BuyerReference",
        document.buyer.buyer_reference.as_deref(),
    );
    if let Some(Delivery::Period { start, end }) = document.delivery {
        xml.open("cac:InvoicePeriod", &[])
            .text("cbc:StartDate", &start.to_string())
            .text("cbc:EndDate", &end.to_string())
            .close();
    }
    if let Some(preceding) = &document.preceding
        && let Some(number) = &preceding.number
    {
        xml.open("cac:BillingReference", &[])
            .open("cac:InvoiceDocumentReference", &[])
            .text("cbc:ID", number);
        if let Some(date) = preceding.issue_date {
            xml.text("cbc:IssueDate", &date.to_string());
        }
        xml.close().close();
    }

    supplier(&mut xml, document);
    customer(&mut xml, document);
    delivery(&mut xml, document);
    payment(&mut xml, document);

    xml.open("cac:TaxTotal", &[]);
    amount(&mut xml, "cbc:TaxAmount", currency, &document.tax_total);
    for entry in &document.breakdown {
        xml.open("cac:TaxSubtotal", &[]);
        amount(
            &mut xml,
            "cbc:TaxableAmount",
            currency,
            &entry.taxable_amount,
        );
        amount(&mut xml, "cbc:TaxAmount", currency, &entry.tax_amount);
        xml.open("cac:TaxCategory", &[])
            .text("cbc:ID", entry.category.as_str());
        if entry.category != TaxCategory::O {
            xml.text("cbc:Percent", &entry.rate.to_string());
        }
        let reason = super::exemption_reason(entry);
        xml.optional("cbc:TaxExemptionReasonCode", reason.code);
        xml.optional("cbc:TaxExemptionReason", reason.text);
        vat_scheme(&mut xml);
        xml.close().close();
    }
    xml.close();

    xml.open("cac:LegalMonetaryTotal", &[]);
    amount(
        &mut xml,
        "cbc:LineExtensionAmount",
        currency,
        &document.subtotal,
    );
    amount(
        &mut xml,
        "cbc:TaxExclusiveAmount",
        currency,
        &document.subtotal,
    );
    amount(
        &mut xml,
        "cbc:TaxInclusiveAmount",
        currency,
        &document.total,
    );
    amount(&mut xml, "cbc:PayableAmount", currency, &document.total);
    xml.close();

    let (line_element, quantity_element) = if invoice {
        ("cac:InvoiceLine", "cbc:InvoicedQuantity")
    } else {
        ("cac:CreditNoteLine", "cbc:CreditedQuantity")
    };
    for line in &document.lines {
        xml.open(line_element, &[])
            .text("cbc:ID", &line.position.to_string())
            .text_with(
                quantity_element,
                &[("unitCode", super::UNIT_CODE)],
                &line.quantity.to_string(),
            );
        amount(
            &mut xml,
            "cbc:LineExtensionAmount",
            currency,
            &line.net_amount,
        );
        xml.open("cac:Item", &[])
            .text("cbc:Name", &line.description)
            .open("cac:ClassifiedTaxCategory", &[])
            .text("cbc:ID", line.tax_category.as_str());
        if line.tax_category != TaxCategory::O {
            xml.text("cbc:Percent", &line.tax_rate.to_string());
        }
        vat_scheme(&mut xml);
        xml.close().close().open("cac:Price", &[]);
        amount(&mut xml, "cbc:PriceAmount", currency, &line.unit_price);
        xml.close().close();
    }
    xml.close();
    xml.finish()
}

fn vat_scheme(xml: &mut XmlWriter) {
    xml.open("cac:TaxScheme", &[]).text("cbc:ID", "VAT").close();
}

fn postal_address(xml: &mut XmlWriter, address: Option<&Address>) {
    let Some(address) = address else { return };
    let Some(country) = &address.country else {
        return;
    };
    xml.open("cac:PostalAddress", &[])
        .optional("cbc:StreetName", address.line1.as_deref())
        .optional("cbc:AdditionalStreetName", address.line2.as_deref())
        .optional("cbc:CityName", address.city.as_deref())
        .optional("cbc:PostalZone", address.postal_code.as_deref())
        .open("cac:Country", &[])
        .text("cbc:IdentificationCode", country)
        .close()
        .close();
}

/// A party tax scheme: a VAT id ("VAT", BT-31/BT-48) or a tax number (BT-32).
fn party_tax_scheme(xml: &mut XmlWriter, id: &str, scheme: &str) {
    xml.open("cac:PartyTaxScheme", &[])
        .text("cbc:CompanyID", id)
        .open("cac:TaxScheme", &[])
        .text("cbc:ID", scheme)
        .close()
        .close();
}

fn supplier(xml: &mut XmlWriter, document: &Document) {
    let seller = &document.seller;
    xml.open("cac:AccountingSupplierParty", &[])
        .open("cac:Party", &[]);
    if let Some(email) = &seller.email {
        xml.text_with("cbc:EndpointID", &[("schemeID", "EM")], email);
    }
    if let Some(id) = super::seller_identifier(document) {
        xml.open("cac:PartyIdentification", &[])
            .text("cbc:ID", id)
            .close();
    }
    if let Some(trading) = seller.trading_name() {
        xml.open("cac:PartyName", &[])
            .text("cbc:Name", trading)
            .close();
    }
    postal_address(xml, seller.address.as_ref());
    if document.shows_vat_ids()
        && let Some(vat_id) = &seller.vat_id
    {
        party_tax_scheme(xml, vat_id, "VAT");
    }
    if let Some(number) = &seller.tax_number {
        party_tax_scheme(xml, number, "FC");
    }
    xml.open("cac:PartyLegalEntity", &[])
        .text("cbc:RegistrationName", seller.registered_name())
        .close();
    if seller.phone.is_some() || seller.email.is_some() {
        xml.open("cac:Contact", &[])
            .text("cbc:Name", &seller.name)
            .optional("cbc:Telephone", seller.phone.as_deref())
            .optional("cbc:ElectronicMail", seller.email.as_deref())
            .close();
    }
    xml.close().close();
}

fn customer(xml: &mut XmlWriter, document: &Document) {
    let buyer = &document.buyer;
    xml.open("cac:AccountingCustomerParty", &[])
        .open("cac:Party", &[]);
    if let Some(email) = &buyer.email {
        xml.text_with("cbc:EndpointID", &[("schemeID", "EM")], email);
    }
    postal_address(xml, buyer.address.as_ref());
    if document.shows_vat_ids()
        && let Some(vat_id) = buyer.vat_id()
    {
        party_tax_scheme(xml, &vat_id, "VAT");
    }
    xml.open("cac:PartyLegalEntity", &[])
        .text("cbc:RegistrationName", &buyer.name)
        .close();
    xml.close().close();
}

fn delivery(xml: &mut XmlWriter, document: &Document) {
    let date = match document.delivery {
        Some(Delivery::Date(date)) => Some(date),
        _ => None,
    };
    let country = super::deliver_to_country(document);
    if date.is_none() && country.is_none() {
        return;
    }
    xml.open("cac:Delivery", &[]);
    if let Some(date) = date {
        xml.text("cbc:ActualDeliveryDate", &date.to_string());
    }
    if let Some(country) = country {
        xml.open("cac:DeliveryLocation", &[])
            .open("cac:Address", &[])
            .open("cac:Country", &[])
            .text("cbc:IdentificationCode", country)
            .close()
            .close()
            .close();
    }
    xml.close();
}

fn payment(xml: &mut XmlWriter, document: &Document) {
    let means = super::payment_means(document);
    xml.open("cac:PaymentMeans", &[])
        .text("cbc:PaymentMeansCode", means.code);
    if document.kind == DocumentKind::CreditNote {
        // A credit note has no DueDate of its own in UBL.
        if let Some(due) = document.due_date {
            xml.text("cbc:PaymentDueDate", &due.to_string());
        }
    }
    if document.kind == DocumentKind::Invoice {
        xml.optional("cbc:PaymentID", document.number.as_deref());
    }
    if let Some(iban) = means.iban {
        xml.open("cac:PayeeFinancialAccount", &[])
            .text("cbc:ID", iban);
        if let Some(bic) = means.bic {
            xml.open("cac:FinancialInstitutionBranch", &[])
                .text("cbc:ID", bic)
                .close();
        }
        xml.close();
    }
    xml.close();
    if let Some(terms) = super::payment_terms(document) {
        xml.open("cac:PaymentTerms", &[])
            .text("cbc:Note", &terms)
            .close();
    }
}
