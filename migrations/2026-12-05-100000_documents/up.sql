-- The documents of issued invoices and credit notes: the PDF (in each
-- language it was asked for) and the two e-invoice syntaxes, stored as
-- they were produced.
--
-- Why stored rather than rendered again on each request: an issued
-- invoice is a legal document, and what the customer received must be
-- what the service shows ever after, byte for byte, whatever becomes of
-- the account's profile, the templates, the fonts or the renderer. The
-- issuing transaction writes them (if they cannot be produced, nothing is
-- issued); an invoice issued before this table existed, or imported, gets
-- them on its first fetch, from its fixed data, and keeps them from then
-- on. The app role may insert and read documents, never change or delete
-- them.
CREATE TABLE documents (
    account_id     text        NOT NULL,
    id             bigint      NOT NULL,
    invoice_id     bigint,
    credit_note_id bigint,
    -- pdf, or an e-invoice syntax: cii (UN/CEFACT CII D16B, Factur-X
    -- EN 16931, the XML the PDF embeds), ubl (UBL 2.1).
    format         text        NOT NULL,
    -- A PDF's language; '' for the XML, which has none ('' rather than
    -- NULL so that the unique keys below treat them as equal).
    language       text        NOT NULL,
    content        bytea       NOT NULL,
    -- SHA-256 of content: the ETag it is served with.
    sha256         bytea       NOT NULL,
    created_at     timestamptz NOT NULL,
    CONSTRAINT documents_pkey PRIMARY KEY (account_id, id),
    CONSTRAINT documents_id_positive CHECK (id > 0),
    CONSTRAINT documents_of_one_document CHECK (num_nonnulls(invoice_id, credit_note_id) = 1),
    CONSTRAINT documents_format_known CHECK (format IN ('pdf', 'cii', 'ubl')),
    CONSTRAINT documents_language_of_pdfs CHECK (
        (format = 'pdf' AND language IN ('en', 'de')) OR (format <> 'pdf' AND language = '')),
    CONSTRAINT documents_sha256_length CHECK (octet_length(sha256) = 32)
);

-- One document of each format and language per invoice or credit note;
-- also the indexes of the two foreign keys.
CREATE UNIQUE INDEX documents_invoice_format_unique
    ON documents (account_id, invoice_id, format, language) WHERE invoice_id IS NOT NULL;
CREATE UNIQUE INDEX documents_credit_note_format_unique
    ON documents (account_id, credit_note_id, format, language) WHERE credit_note_id IS NOT NULL;

CREATE TRIGGER documents_allocate_id BEFORE INSERT ON documents
    FOR EACH ROW EXECUTE FUNCTION allocate_account_scoped_id('documents');
CREATE TRIGGER documents_fill_row BEFORE INSERT ON documents
    FOR EACH ROW EXECUTE FUNCTION fill_inserted_row('created_at');

ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
CREATE POLICY documents_tenant_isolation ON documents
    USING (account_id = NULLIF(current_setting('app.account_id', true), ''))
    WITH CHECK (account_id = NULLIF(current_setting('app.account_id', true), ''));

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'invoiced_app') THEN
        RAISE NOTICE 'no role invoiced_app: run setup_postgres.sql, then grant as this migration does';
        RETURN;
    END IF;
    REVOKE ALL ON documents FROM invoiced_app;
    GRANT SELECT,
        INSERT (account_id, invoice_id, credit_note_id, format, language, content, sha256)
        ON documents TO invoiced_app;
END
$$;

-- On a Citus coordinator whose tenant tables are distributed already (an
-- upgrade), the table is distributed, co-located with them, before the
-- foreign keys below tie it to them (Citus allows no key between a local
-- and a distributed table). On plain PostgreSQL, and on a Citus database
-- migrated from scratch (distributed whole afterwards), this does nothing.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
        IF EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'public.invoices'::regclass) THEN
            PERFORM create_distributed_table('documents', 'account_id', colocate_with => 'invoices');
        END IF;
    END IF;
END
$$;

-- (One constraint a statement: Citus takes no other subcommand beside one.)
ALTER TABLE documents
    ADD CONSTRAINT documents_account_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE documents
    ADD CONSTRAINT documents_invoice_fkey FOREIGN KEY (account_id, invoice_id)
        REFERENCES invoices (account_id, id);
ALTER TABLE documents
    ADD CONSTRAINT documents_credit_note_fkey FOREIGN KEY (account_id, credit_note_id)
        REFERENCES credit_notes (account_id, id);
