// @generated automatically by Diesel CLI.

diesel::table! {
    accounts (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamptz,
        legal_name -> Nullable<Text>,
        address_line1 -> Nullable<Text>,
        address_line2 -> Nullable<Text>,
        address_postal_code -> Nullable<Text>,
        address_city -> Nullable<Text>,
        address_country -> Nullable<Text>,
        vat_id -> Nullable<Text>,
        tax_number -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        iban -> Nullable<Text>,
        bic -> Nullable<Text>,
        locale -> Text,
        default_currency -> Nullable<Text>,
        payment_terms_days -> Int4,
        tax_rounding -> Text,
        invoice_number_format -> Text,
        credit_note_number_format -> Text,
        number_reset -> Text,
        require_einvoice -> Bool,
        timezone -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (account_id, id) {
        account_id -> Text,
        id -> Int8,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    credit_note_lines (account_id, id) {
        account_id -> Text,
        id -> Int8,
        credit_note_id -> Int8,
        invoice_id -> Int8,
        position -> Int4,
        item_id -> Nullable<Int8>,
        description -> Text,
        quantity -> Numeric,
        unit_price -> Numeric,
        tax_rate -> Numeric,
        tax_category -> Text,
        tax_exemption_reason -> Nullable<Text>,
        subtotal -> Numeric,
        tax -> Numeric,
    }
}

diesel::table! {
    credit_note_taxes (account_id, credit_note_id, tax_category, tax_rate) {
        account_id -> Text,
        credit_note_id -> Int8,
        invoice_id -> Int8,
        tax_category -> Text,
        tax_rate -> Numeric,
        taxable_amount -> Numeric,
        tax_amount -> Numeric,
        exemption_reason -> Nullable<Text>,
    }
}

diesel::table! {
    credit_notes (account_id, id) {
        account_id -> Text,
        id -> Int8,
        invoice_id -> Int8,
        number -> Text,
        kind -> Text,
        reason -> Text,
        currency -> Text,
        issue_date -> Date,
        tax_rounding -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    customers (account_id, id) {
        account_id -> Text,
        id -> Int8,
        name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        address -> Nullable<Text>,
        tax_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        billing_line1 -> Nullable<Text>,
        billing_line2 -> Nullable<Text>,
        billing_postal_code -> Nullable<Text>,
        billing_city -> Nullable<Text>,
        billing_country -> Nullable<Text>,
        buyer_reference -> Nullable<Text>,
        locale -> Nullable<Text>,
    }
}

diesel::table! {
    document_numbers (account_id, number) {
        account_id -> Text,
        number -> Text,
        kind -> Text,
        document_id -> Int8,
    }
}

diesel::table! {
    documents (account_id, id) {
        account_id -> Text,
        id -> Int8,
        invoice_id -> Nullable<Int8>,
        credit_note_id -> Nullable<Int8>,
        format -> Text,
        language -> Text,
        content -> Bytea,
        sha256 -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    events (account_id, id) {
        account_id -> Text,
        id -> Int8,
        #[sql_name = "type"]
        type_ -> Text,
        data -> Jsonb,
        request_id -> Nullable<Text>,
        api_key_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    id_counters (account_id, table_name) {
        account_id -> Text,
        table_name -> Text,
        last_id -> Int8,
    }
}

diesel::table! {
    idempotency_keys (account_id, key) {
        account_id -> Text,
        key -> Text,
        request_hash -> Bytea,
        response_status -> Int2,
        response_body -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    invoice_items (account_id, id) {
        account_id -> Text,
        id -> Int8,
        invoice_id -> Int8,
        position -> Int4,
        description -> Text,
        quantity -> Numeric,
        unit_price -> Numeric,
        tax_rate -> Numeric,
        subtotal -> Numeric,
        tax -> Numeric,
        created_at -> Timestamptz,
        tax_category -> Text,
        tax_exemption_reason -> Nullable<Text>,
    }
}

diesel::table! {
    invoices (account_id, id) {
        account_id -> Text,
        id -> Int8,
        customer_id -> Int8,
        number -> Nullable<Text>,
        status -> Text,
        currency -> Text,
        issue_date -> Nullable<Date>,
        due_date -> Nullable<Date>,
        notes -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        tax_rounding -> Text,
        service_date -> Nullable<Date>,
        service_period_start -> Nullable<Date>,
        service_period_end -> Nullable<Date>,
        seller -> Nullable<Jsonb>,
        buyer -> Nullable<Jsonb>,
    }
}

diesel::table! {
    number_sequences (account_id, series, period) {
        account_id -> Text,
        series -> Text,
        period -> Int4,
        next_value -> Int8,
        last_used -> Int8,
    }
}

diesel::table! {
    payments (account_id, id) {
        account_id -> Text,
        id -> Int8,
        invoice_id -> Int8,
        amount -> Numeric,
        paid_at -> Timestamptz,
        method -> Nullable<Text>,
        reference -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_attempts (account_id, id) {
        account_id -> Text,
        id -> Int8,
        delivery_id -> Int8,
        endpoint_id -> Int8,
        event_id -> Int8,
        attempt -> Int4,
        attempted_at -> Timestamptz,
        status_code -> Nullable<Int4>,
        latency_ms -> Int4,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_deliveries (account_id, id) {
        account_id -> Text,
        id -> Int8,
        endpoint_id -> Int8,
        event_id -> Int8,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_endpoints (account_id, id) {
        account_id -> Text,
        id -> Int8,
        url -> Text,
        event_types -> Array<Nullable<Text>>,
        description -> Nullable<Text>,
        enabled -> Bool,
        secret -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(api_keys -> accounts (account_id));
diesel::joinable!(customers -> accounts (account_id));
diesel::joinable!(document_numbers -> accounts (account_id));
diesel::joinable!(documents -> accounts (account_id));
diesel::joinable!(events -> accounts (account_id));
diesel::joinable!(id_counters -> accounts (account_id));
diesel::joinable!(idempotency_keys -> accounts (account_id));
diesel::joinable!(number_sequences -> accounts (account_id));
diesel::joinable!(webhook_endpoints -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    api_keys,
    credit_note_lines,
    credit_note_taxes,
    credit_notes,
    customers,
    document_numbers,
    documents,
    events,
    id_counters,
    idempotency_keys,
    invoice_items,
    invoices,
    number_sequences,
    payments,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
);
