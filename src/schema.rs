// @generated automatically by Diesel CLI.

diesel::table! {
    accounts (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamptz,
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

diesel::joinable!(api_keys -> accounts (account_id));
diesel::joinable!(customers -> accounts (account_id));
diesel::joinable!(id_counters -> accounts (account_id));
diesel::joinable!(idempotency_keys -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    api_keys,
    customers,
    id_counters,
    idempotency_keys,
    invoice_items,
    invoices,
    payments,
);
