DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') THEN
        REVOKE UPDATE (name, legal_name, address_line1, address_line2, address_postal_code, address_city,
                       address_country, vat_id, tax_number, email, phone, iban, bic, locale,
                       default_currency, payment_terms_days, tax_rounding, invoice_number_format,
                       credit_note_number_format, number_reset, require_einvoice, timezone)
            ON accounts FROM invoiced_app;
    END IF;
END
$$;

ALTER TABLE customers
    DROP COLUMN billing_line1,
    DROP COLUMN billing_line2,
    DROP COLUMN billing_postal_code,
    DROP COLUMN billing_city,
    DROP COLUMN billing_country,
    DROP COLUMN buyer_reference,
    DROP COLUMN locale;

DROP TRIGGER accounts_touch_updated_at ON accounts;
ALTER TABLE accounts
    DROP COLUMN legal_name,
    DROP COLUMN address_line1,
    DROP COLUMN address_line2,
    DROP COLUMN address_postal_code,
    DROP COLUMN address_city,
    DROP COLUMN address_country,
    DROP COLUMN vat_id,
    DROP COLUMN tax_number,
    DROP COLUMN email,
    DROP COLUMN phone,
    DROP COLUMN iban,
    DROP COLUMN bic,
    DROP COLUMN locale,
    DROP COLUMN default_currency,
    DROP COLUMN payment_terms_days,
    DROP COLUMN tax_rounding,
    DROP COLUMN invoice_number_format,
    DROP COLUMN credit_note_number_format,
    DROP COLUMN number_reset,
    DROP COLUMN require_einvoice,
    DROP COLUMN timezone,
    DROP COLUMN updated_at;
