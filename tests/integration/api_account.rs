//! The seller profile (/v1/account and its admin twin) and the customers'
//! new fields: validated as SPEC §9 says, old clients unchanged.

use actix_web::http::Method;
use serde_json::json;

use crate::harness::spawn;

#[actix_web::test]
async fn an_account_reads_and_changes_its_own_profile() {
    let app = spawn().await;
    let acme = app.bare_tenant("acme").await;
    let profile = app.get(&acme, "/v1/account").await;
    let profile = profile.ok(200);
    assert_eq!(profile["id"], "acme");
    assert_eq!(profile["legal_name"], serde_json::Value::Null);
    assert_eq!(profile["payment_terms_days"], 14);
    assert_eq!(profile["tax_rounding"], "line");
    assert_eq!(profile["invoice_number_format"], "{YYYY}-{SEQ:5}");
    assert_eq!(profile["credit_note_number_format"], "CN-{YYYY}-{SEQ:5}");
    assert_eq!(profile["number_reset"], "never");
    assert_eq!(profile["next_invoice_sequence"], 1);
    assert_eq!(profile["require_einvoice"], false);
    assert_eq!(profile["timezone"], "UTC");

    let changed = app
        .patch(
            &acme,
            "/v1/account",
            json!({"legal_name": "Acme GmbH", "vat_id": "de 123 456 789",
                   "address": {"line1": "Musterweg 5", "city": "München", "country": "de"},
                   "iban": "DE89 3704 0044 0532 0130 00", "bic": "cobadeffxxx", "locale": "de",
                   "payment_terms_days": 30, "tax_rounding": "document", "timezone": "Europe/Berlin"}),
        )
        .await;
    let changed = changed.ok(200);
    assert_eq!(changed["vat_id"], "DE123456789");
    assert_eq!(changed["iban"], "DE89370400440532013000");
    assert_eq!(changed["bic"], "COBADEFFXXX");
    assert_eq!(
        changed["address"],
        json!({"line1": "Musterweg 5", "line2": null, "postal_code": null, "city": "München", "country": "DE"})
    );
    assert_eq!(changed["locale"], "de");
    assert_eq!(changed["timezone"], "Europe/Berlin");
    // Only what was sent changes; null clears.
    let cleared = app.patch(&acme, "/v1/account", json!({"bic": null})).await;
    assert_eq!(cleared.ok(200)["bic"], serde_json::Value::Null);
    assert_eq!(cleared.body["iban"], "DE89370400440532013000");

    // Administrators see and change the same profile.
    let admin = app.admin(Method::GET, "/admin/accounts/acme", None).await;
    assert_eq!(admin.ok(200)["legal_name"], "Acme GmbH");
    let admin = app
        .admin(
            Method::PATCH,
            "/admin/accounts/acme",
            Some(json!({"legal_name": "Acme AG"})),
        )
        .await;
    assert_eq!(admin.ok(200)["legal_name"], "Acme AG");
    app.admin(Method::GET, "/admin/accounts/nobody", None)
        .await
        .problem(404);
}

#[actix_web::test]
async fn bad_profile_values_are_422_naming_the_field_and_change_nothing() {
    let app = spawn().await;
    let acme = app.bare_tenant("acme").await;
    let before = app.get(&acme, "/v1/account").await.ok(200).clone();
    for (body, field) in [
        (json!({"iban": "DE89370400440532013001"}), "iban"),
        (json!({"iban": "not an iban"}), "iban"),
        (json!({"bic": "DEUT"}), "bic"),
        (json!({"vat_id": "DE12345"}), "vat_id"),
        (json!({"vat_id": "XX123456789"}), "vat_id"),
        (
            json!({"address": {"country": "Germany"}}),
            "address.country",
        ),
        (json!({"address": {"country": "XX"}}), "address.country"),
        (json!({"address": {"town": "Berlin"}}), "address.town"),
        (json!({"locale": "fr"}), "locale"),
        (json!({"payment_terms_days": 400}), "payment_terms_days"),
        (json!({"default_currency": "euro"}), "default_currency"),
        (
            json!({"invoice_number_format": "INV-{YYYY}"}),
            "invoice_number_format",
        ),
        (
            json!({"invoice_number_format": "{SEQ}-{SEQ}"}),
            "invoice_number_format",
        ),
        (
            json!({"invoice_number_format": "{DD}{SEQ}"}),
            "invoice_number_format",
        ),
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (
            json!({"number_reset": "yearly", "invoice_number_format": "INV-{SEQ:4}"}),
            "invoice_number_format",
        ),
        (json!({"next_invoice_sequence": 0}), "next_invoice_sequence"),
        (json!({"legal_name": "   "}), "legal_name"),
        (json!({"id": "other"}), "id"),
    ] {
        let reply = app.patch(&acme, "/v1/account", body.clone()).await;
        let problem = reply.problem(422);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: {problem}");
    }
    // A yearly reset needs a year in the formats (both defaults have one).
    let yearly = app
        .patch(
            &acme,
            "/v1/account",
            json!({"credit_note_number_format": "CN-{SEQ}"}),
        )
        .await;
    yearly.ok(200);
    app.patch(&acme, "/v1/account", json!({"number_reset": "yearly"}))
        .await
        .problem(422);
    let mut after = app.get(&acme, "/v1/account").await.ok(200).clone();
    assert_eq!(after["credit_note_number_format"], "CN-{SEQ}");
    after["credit_note_number_format"] = before["credit_note_number_format"].clone();
    after["updated_at"] = before["updated_at"].clone();
    assert_eq!(after, before);
}

#[actix_web::test]
async fn customers_gain_a_billing_address_a_vat_id_a_buyer_reference_and_a_locale() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    // An old client's body is answered as before, with the new fields null.
    let old = app
        .post(
            &acme,
            "/v1/customers",
            json!({"name": "Ann", "tax_id": "12/345/67890"}),
        )
        .await;
    let old = old.ok(201);
    assert_eq!(old["tax_id"], "12/345/67890");
    assert_eq!(old["vat_id"], "12/345/67890", "one value under two names");
    assert_eq!(old["billing_address"], serde_json::Value::Null);
    let id = old["id"].as_i64().unwrap();
    // vat_id is checked for a VAT id's shape, and writes the same value.
    let reply = app
        .patch(
            &acme,
            &format!("/v1/customers/{id}"),
            json!({"vat_id": "FR 12345678901"}),
        )
        .await;
    let reply = reply.ok(200);
    assert_eq!(reply["tax_id"], "FR12345678901");
    assert_eq!(reply["vat_id"], "FR12345678901");
    app.patch(
        &acme,
        &format!("/v1/customers/{id}"),
        json!({"vat_id": "12/345"}),
    )
    .await
    .problem(422);
    app.patch(
        &acme,
        &format!("/v1/customers/{id}"),
        json!({"vat_id": "FR12345678901", "tax_id": "other"}),
    )
    .await
    .problem(422);
    let full = app
        .patch(
            &acme,
            &format!("/v1/customers/{id}"),
            json!({"billing_address": {"line1": "1 Rue", "city": "Paris", "country": "fr"},
                   "buyer_reference": "04011000-12345-34", "locale": "de"}),
        )
        .await;
    let full = full.ok(200);
    assert_eq!(full["billing_address"]["country"], "FR");
    assert_eq!(full["buyer_reference"], "04011000-12345-34");
    assert_eq!(full["locale"], "de");
    let removed = app
        .patch(
            &acme,
            &format!("/v1/customers/{id}"),
            json!({"billing_address": null}),
        )
        .await;
    assert_eq!(removed.ok(200)["billing_address"], serde_json::Value::Null);
    app.post(
        &acme,
        "/v1/customers",
        json!({"name": "Bob", "billing_address": {"country": "Neverland"}}),
    )
    .await
    .problem(422);
}
