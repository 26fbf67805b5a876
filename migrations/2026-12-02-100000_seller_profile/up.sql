-- The seller: what an account must say about itself before its invoices
-- can be sent (EU VAT Directive Art. 226: name, address, VAT id), and how it
-- numbers, rounds and words them. Every column is optional or has a
-- default, so accounts created before keep working. The API validates the
-- values (ISO 3166-1 countries, IBAN mod 97, VAT id shapes, a timezone
-- PostgreSQL knows); the constraints here keep the shapes.
ALTER TABLE accounts
    ADD COLUMN legal_name text,
    ADD COLUMN address_line1 text,
    ADD COLUMN address_line2 text,
    ADD COLUMN address_postal_code text,
    ADD COLUMN address_city text,
    ADD COLUMN address_country text,
    ADD COLUMN vat_id text,
    ADD COLUMN tax_number text,
    ADD COLUMN email text,
    ADD COLUMN phone text,
    ADD COLUMN iban text,
    ADD COLUMN bic text,
    ADD COLUMN locale text NOT NULL DEFAULT 'en',
    ADD COLUMN default_currency text,
    ADD COLUMN payment_terms_days integer NOT NULL DEFAULT 14,
    ADD COLUMN tax_rounding text NOT NULL DEFAULT 'line',
    ADD COLUMN invoice_number_format text NOT NULL DEFAULT '{YYYY}-{SEQ:5}',
    ADD COLUMN credit_note_number_format text NOT NULL DEFAULT 'CN-{YYYY}-{SEQ:5}',
    ADD COLUMN number_reset text NOT NULL DEFAULT 'never',
    ADD COLUMN require_einvoice boolean NOT NULL DEFAULT false,
    ADD COLUMN timezone text NOT NULL DEFAULT 'UTC',
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT accounts_legal_name_length CHECK (char_length(btrim(legal_name)) BETWEEN 1 AND 200),
    ADD CONSTRAINT accounts_address_line1_length CHECK (char_length(address_line1) BETWEEN 1 AND 200),
    ADD CONSTRAINT accounts_address_line2_length CHECK (char_length(address_line2) BETWEEN 1 AND 200),
    ADD CONSTRAINT accounts_address_postal_code_length CHECK (char_length(address_postal_code) BETWEEN 1 AND 20),
    ADD CONSTRAINT accounts_address_city_length CHECK (char_length(address_city) BETWEEN 1 AND 100),
    ADD CONSTRAINT accounts_address_country_format CHECK (address_country ~ '^[A-Z]{2}$'),
    ADD CONSTRAINT accounts_vat_id_format CHECK (vat_id ~ '^[A-Z]{2}[A-Z0-9]{2,18}$'),
    ADD CONSTRAINT accounts_tax_number_length CHECK (char_length(tax_number) BETWEEN 1 AND 100),
    ADD CONSTRAINT accounts_email_length CHECK (char_length(email) BETWEEN 3 AND 254),
    ADD CONSTRAINT accounts_phone_length CHECK (char_length(phone) BETWEEN 1 AND 100),
    ADD CONSTRAINT accounts_iban_format CHECK (iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$'),
    ADD CONSTRAINT accounts_bic_format CHECK (bic ~ '^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
    ADD CONSTRAINT accounts_locale_valid CHECK (locale IN ('en', 'de')),
    ADD CONSTRAINT accounts_default_currency_format CHECK (default_currency ~ '^[A-Z]{3}$'),
    ADD CONSTRAINT accounts_payment_terms_days_range CHECK (payment_terms_days BETWEEN 0 AND 365),
    ADD CONSTRAINT accounts_tax_rounding_valid CHECK (tax_rounding IN ('line', 'document')),
    ADD CONSTRAINT accounts_invoice_number_format_length CHECK (char_length(invoice_number_format) BETWEEN 5 AND 200),
    ADD CONSTRAINT accounts_credit_note_number_format_length CHECK (char_length(credit_note_number_format) BETWEEN 5 AND 200),
    ADD CONSTRAINT accounts_number_reset_valid CHECK (number_reset IN ('never', 'yearly')),
    ADD CONSTRAINT accounts_timezone_length CHECK (char_length(timezone) BETWEEN 1 AND 64);

CREATE TRIGGER accounts_touch_updated_at
    BEFORE UPDATE ON accounts FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION touch_updated_at();

-- The buyer: a structured billing address beside the free-text one (which
-- stays as it was), the buyer reference (EN 16931 BT-10, e.g. a German
-- Leitweg-ID, which makes an e-invoice an XRechnung), and the language of
-- the documents sent to it. `tax_id` is also the buyer's VAT id: the API
-- reads and writes it under both names.
ALTER TABLE customers
    ADD COLUMN billing_line1 text,
    ADD COLUMN billing_line2 text,
    ADD COLUMN billing_postal_code text,
    ADD COLUMN billing_city text,
    ADD COLUMN billing_country text,
    ADD COLUMN buyer_reference text,
    ADD COLUMN locale text,
    ADD CONSTRAINT customers_billing_line1_length CHECK (char_length(billing_line1) BETWEEN 1 AND 200),
    ADD CONSTRAINT customers_billing_line2_length CHECK (char_length(billing_line2) BETWEEN 1 AND 200),
    ADD CONSTRAINT customers_billing_postal_code_length CHECK (char_length(billing_postal_code) BETWEEN 1 AND 20),
    ADD CONSTRAINT customers_billing_city_length CHECK (char_length(billing_city) BETWEEN 1 AND 100),
    ADD CONSTRAINT customers_billing_country_format CHECK (billing_country ~ '^[A-Z]{2}$'),
    ADD CONSTRAINT customers_buyer_reference_length CHECK (char_length(buyer_reference) BETWEEN 1 AND 100),
    ADD CONSTRAINT customers_locale_valid CHECK (locale IN ('en', 'de'));

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') THEN
        -- The profile, as the account itself may change it (never its id).
        GRANT UPDATE (name, legal_name, address_line1, address_line2, address_postal_code, address_city,
                      address_country, vat_id, tax_number, email, phone, iban, bic, locale,
                      default_currency, payment_terms_days, tax_rounding, invoice_number_format,
                      credit_note_number_format, number_reset, require_einvoice, timezone)
            ON accounts TO invoiced_app;
        GRANT INSERT (billing_line1, billing_line2, billing_postal_code, billing_city,
                      billing_country, buyer_reference, locale),
              UPDATE (billing_line1, billing_line2, billing_postal_code, billing_city,
                      billing_country, buyer_reference, locale)
            ON customers TO invoiced_app;
    END IF;
END
$$;
