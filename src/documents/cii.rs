//! The UN/CEFACT Cross Industry Invoice (D16B) as Factur-X / ZUGFeRD write
//! it in their EN 16931 profile: the XML embedded in the PDF, and what
//! `/xml?syntax=cii` answers (the same bytes).
//!
//! Which business term each element carries is noted where it is not
//! obvious from its name; element order is the schema's.

use super::model::{Delivery, Document, DocumentKind};
use super::xml::XmlWriter;
use crate::domain::TaxCategory;

/// The EN 16931 profile of Factur-X (BT-24).
pub const GUIDELINE: &str = "urn:cen.eu:en16931:2017";

const NAMESPACES: [(&str, &str); 4] = [
    (
        "xmlns:rsm",
        "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    ),
    (
        "xmlns:qdt",
        "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    ),
    (
        "xmlns:ram",
        "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    ),
    (
        "xmlns:udt",
        "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    ),
];

fn date_102(date: chrono::NaiveDate) -> String {
    date.format("%Y%m%d").to_string()
}

fn udt_date(xml: &mut XmlWriter, element: &'static str, date: chrono::NaiveDate) {
    xml.open(element, &[])
        .text_with("udt:DateTimeString", &[("format", "102")], &date_102(date))
        .close();
}

/// The document as CII. The caller has checked that it can make a valid
/// e-invoice (see `requirements`).
pub fn render(document: &Document) -> Vec<u8> {
    let mut xml = XmlWriter::new();
    xml.open("rsm:CrossIndustryInvoice", &NAMESPACES);

    xml.open("rsm:ExchangedDocumentContext", &[])
        .open("ram:GuidelineSpecifiedDocumentContextParameter", &[])
        .text("ram:ID", GUIDELINE)
        .close()
        .close();

    xml.open("rsm:ExchangedDocument", &[])
        .text("ram:ID", document.number_or_draft())
        .text("ram:TypeCode", document.kind.type_code());
    if let Some(date) = document.issue_date {
        udt_date(&mut xml, "ram:IssueDateTime", date);
    }
    for note in notes(document) {
        xml.open("ram:IncludedNote", &[])
            .text("ram:Content", &note)
            .close();
    }
    xml.close();

    xml.open("rsm:SupplyChainTradeTransaction", &[]);
    for line in &document.lines {
        xml.open("ram:IncludedSupplyChainTradeLineItem", &[])
            .open("ram:AssociatedDocumentLineDocument", &[])
            .text("ram:LineID", &line.position.to_string())
            .close()
            .open("ram:SpecifiedTradeProduct", &[])
            .text("ram:Name", &line.description)
            .close()
            .open("ram:SpecifiedLineTradeAgreement", &[])
            .open("ram:NetPriceProductTradePrice", &[])
            .text("ram:ChargeAmount", &line.unit_price.to_string())
            .close()
            .close()
            .open("ram:SpecifiedLineTradeDelivery", &[])
            .text_with(
                "ram:BilledQuantity",
                &[("unitCode", super::UNIT_CODE)],
                &line.quantity.to_string(),
            )
            .close()
            .open("ram:SpecifiedLineTradeSettlement", &[])
            .open("ram:ApplicableTradeTax", &[])
            .text("ram:TypeCode", "VAT")
            .text("ram:CategoryCode", line.tax_category.as_str());
        if line.tax_category != TaxCategory::O {
            xml.text("ram:RateApplicablePercent", &line.tax_rate.to_string());
        }
        xml.close()
            .open("ram:SpecifiedTradeSettlementLineMonetarySummation", &[])
            .text("ram:LineTotalAmount", &line.net_amount.to_string())
            .close()
            .close()
            .close();
    }

    agreement(&mut xml, document);
    delivery(&mut xml, document);
    settlement(&mut xml, document);
    xml.close().close();
    xml.finish()
}

/// The notes (BT-22): the invoice's, or a credit note's reason.
fn notes(document: &Document) -> Vec<String> {
    document
        .notes
        .iter()
        .chain(document.reason.iter())
        .cloned()
        .collect()
}

fn agreement(xml: &mut XmlWriter, document: &Document) {
    let seller = &document.seller;
    let buyer = &document.buyer;
    let vat_ids = document.shows_vat_ids();
    xml.open("ram:ApplicableHeaderTradeAgreement", &[]);
    xml.optional("ram:BuyerReference", buyer.buyer_reference.as_deref());

    xml.open("ram:SellerTradeParty", &[]);
    if let Some(id) = super::seller_identifier(document) {
        xml.text("ram:ID", id);
    }
    xml.text("ram:Name", seller.registered_name());
    if let Some(trading) = seller.trading_name() {
        xml.open("ram:SpecifiedLegalOrganization", &[])
            .text("ram:TradingBusinessName", trading)
            .close();
    }
    if seller.phone.is_some() || seller.email.is_some() {
        // BG-6: the contact point; the account's name stands for the person.
        xml.open("ram:DefinedTradeContact", &[])
            .text("ram:PersonName", &seller.name);
        if let Some(phone) = &seller.phone {
            xml.open("ram:TelephoneUniversalCommunication", &[])
                .text("ram:CompleteNumber", phone)
                .close();
        }
        if let Some(email) = &seller.email {
            xml.open("ram:EmailURIUniversalCommunication", &[])
                .text("ram:URIID", email)
                .close();
        }
        xml.close();
    }
    address(xml, seller.address.as_ref());
    electronic_address(xml, seller.email.as_deref());
    if vat_ids && let Some(vat_id) = &seller.vat_id {
        tax_registration(xml, "VA", vat_id);
    }
    if let Some(number) = &seller.tax_number {
        tax_registration(xml, "FC", number);
    }
    xml.close();

    xml.open("ram:BuyerTradeParty", &[])
        .text("ram:Name", &buyer.name);
    address(xml, buyer.address.as_ref());
    electronic_address(xml, buyer.email.as_deref());
    if vat_ids && let Some(vat_id) = buyer.vat_id() {
        tax_registration(xml, "VA", &vat_id);
    }
    xml.close();
    xml.close();
}

fn address(xml: &mut XmlWriter, address: Option<&crate::domain::Address>) {
    let Some(address) = address else { return };
    let Some(country) = &address.country else {
        return;
    };
    xml.open("ram:PostalTradeAddress", &[])
        .optional("ram:PostcodeCode", address.postal_code.as_deref())
        .optional("ram:LineOne", address.line1.as_deref())
        .optional("ram:LineTwo", address.line2.as_deref())
        .optional("ram:CityName", address.city.as_deref())
        .text("ram:CountryID", country)
        .close();
}

/// BT-34 / BT-49: the party's electronic address, its e-mail ("EM").
fn electronic_address(xml: &mut XmlWriter, email: Option<&str>) {
    if let Some(email) = email {
        xml.open("ram:URIUniversalCommunication", &[])
            .text_with("ram:URIID", &[("schemeID", "EM")], email)
            .close();
    }
}

/// A VAT id ("VA", BT-31/BT-48) or a tax number ("FC", BT-32).
fn tax_registration(xml: &mut XmlWriter, scheme: &str, id: &str) {
    xml.open("ram:SpecifiedTaxRegistration", &[])
        .text_with("ram:ID", &[("schemeID", scheme)], id)
        .close();
}

fn delivery(xml: &mut XmlWriter, document: &Document) {
    xml.open("ram:ApplicableHeaderTradeDelivery", &[]);
    if let Some(country) = super::deliver_to_country(document) {
        // BT-80: an intra-community supply names where it went (BR-IC-12).
        xml.open("ram:ShipToTradeParty", &[])
            .open("ram:PostalTradeAddress", &[])
            .text("ram:CountryID", country)
            .close()
            .close();
    }
    if let Some(Delivery::Date(date)) = document.delivery {
        xml.open("ram:ActualDeliverySupplyChainEvent", &[]);
        udt_date(xml, "ram:OccurrenceDateTime", date);
        xml.close();
    }
    xml.close();
}

fn settlement(xml: &mut XmlWriter, document: &Document) {
    let currency = document.currency.as_str();
    xml.open("ram:ApplicableHeaderTradeSettlement", &[]);
    if document.kind == DocumentKind::Invoice {
        xml.optional("ram:PaymentReference", document.number.as_deref());
    }
    xml.text("ram:InvoiceCurrencyCode", currency);
    let means = super::payment_means(document);
    xml.open("ram:SpecifiedTradeSettlementPaymentMeans", &[])
        .text("ram:TypeCode", means.code);
    if let Some(iban) = means.iban {
        xml.open("ram:PayeePartyCreditorFinancialAccount", &[])
            .text("ram:IBANID", iban)
            .close();
        if let Some(bic) = means.bic {
            xml.open("ram:PayeeSpecifiedCreditorFinancialInstitution", &[])
                .text("ram:BICID", bic)
                .close();
        }
    }
    xml.close();

    for entry in &document.breakdown {
        xml.open("ram:ApplicableTradeTax", &[])
            .text("ram:CalculatedAmount", &entry.tax_amount.to_string())
            .text("ram:TypeCode", "VAT");
        let reason = super::exemption_reason(entry);
        if let Some(text) = reason.text {
            xml.text("ram:ExemptionReason", text);
        }
        xml.text("ram:BasisAmount", &entry.taxable_amount.to_string())
            .text("ram:CategoryCode", entry.category.as_str());
        if let Some(code) = reason.code {
            xml.text("ram:ExemptionReasonCode", code);
        }
        if entry.category != TaxCategory::O {
            xml.text("ram:RateApplicablePercent", &entry.rate.to_string());
        }
        xml.close();
    }

    if let Some(Delivery::Period { start, end }) = document.delivery {
        xml.open("ram:BillingSpecifiedPeriod", &[]);
        udt_date(xml, "ram:StartDateTime", start);
        udt_date(xml, "ram:EndDateTime", end);
        xml.close();
    }

    let terms = super::payment_terms(document);
    if terms.is_some() || document.due_date.is_some() {
        xml.open("ram:SpecifiedTradePaymentTerms", &[]);
        xml.optional("ram:Description", terms.as_deref());
        if let Some(due) = document.due_date {
            udt_date(xml, "ram:DueDateDateTime", due);
        }
        xml.close();
    }

    xml.open("ram:SpecifiedTradeSettlementHeaderMonetarySummation", &[])
        .text("ram:LineTotalAmount", &document.subtotal.to_string())
        .text("ram:TaxBasisTotalAmount", &document.subtotal.to_string())
        .text_with(
            "ram:TaxTotalAmount",
            &[("currencyID", currency)],
            &document.tax_total.to_string(),
        )
        .text("ram:GrandTotalAmount", &document.total.to_string())
        .text("ram:DuePayableAmount", &document.total.to_string())
        .close();

    if let Some(preceding) = &document.preceding
        && let Some(number) = &preceding.number
    {
        xml.open("ram:InvoiceReferencedDocument", &[])
            .text("ram:IssuerAssignedID", number);
        if let Some(date) = preceding.issue_date {
            xml.open("ram:FormattedIssueDateTime", &[])
                .text_with("qdt:DateTimeString", &[("format", "102")], &date_102(date))
                .close();
        }
        xml.close();
    }
    xml.close();
}
