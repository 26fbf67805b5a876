-- Copied from the product contract (shared/legacy/schema.sql): what the importer reads.
-- The legacy SQLite schema that `invoiced import-sqlite` reads.
-- It is what the previous single-database application wrote: one global
-- INTEGER id per table, the tenant only as a column (and only on some tables),
-- foreign keys declared but never enforced (PRAGMA foreign_keys was off),
-- and SQLite's loose typing everywhere.
--
-- What real files written against it contain (the importer must cope):
--   * dates and timestamps as TEXT in several shapes ('2024-03-01',
--     '2024-03-01 14:05:00', '2024-03-01T14:05:00Z', '2024-03-01T14:05:00+02:00',
--     '2024-03-01 14:05:00.123'), or as INTEGER unix epoch seconds;
--   * money and quantities as REAL (12.5, 0.1+0.2 style binary noise such as
--     19.990000000000002), INTEGER, or TEXT ('12.50', ' 7 ');
--   * invoice status in any letter case, including legacy names
--     ('sent' and 'overdue' mean issued, 'cancelled'/'canceled' mean void);
--   * empty strings where NULL was meant (email, phone, number, notes);
--   * rows whose references are broken (an invoice pointing at a missing
--     customer, an invoice whose account_id differs from its customer's).
-- Tables the importer does not know (sqlite_sequence, a legacy users table,
-- ...) are ignored and reported.

CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    account_id  VARCHAR(100) NOT NULL,
    name        TEXT NOT NULL,
    email       TEXT,
    phone       TEXT,
    address     TEXT,
    tax_id      TEXT,
    created_at  DATETIME,
    updated_at  DATETIME
);

CREATE TABLE invoices (
    id           INTEGER PRIMARY KEY,
    account_id   VARCHAR(100) NOT NULL,
    customer_id  INTEGER REFERENCES customers(id),
    number       TEXT,
    status       TEXT,
    currency     TEXT,
    issue_date   DATE,
    due_date     DATE,
    notes        TEXT,
    created_at   DATETIME,
    updated_at   DATETIME
);

-- invoice_items and payments carry no account_id: their account is their
-- invoice's account.
CREATE TABLE invoice_items (
    id           INTEGER PRIMARY KEY,
    invoice_id   INTEGER NOT NULL REFERENCES invoices(id),
    description  TEXT,
    quantity     NUMERIC,
    unit_price   NUMERIC,
    tax_rate     NUMERIC,
    created_at   DATETIME
);

CREATE TABLE payments (
    id          INTEGER PRIMARY KEY,
    invoice_id  INTEGER NOT NULL REFERENCES invoices(id),
    amount      NUMERIC,
    paid_at     DATETIME,
    method      TEXT,
    reference   TEXT,
    created_at  DATETIME
);

CREATE INDEX idx_invoices_customer ON invoices(customer_id);
CREATE INDEX idx_items_invoice ON invoice_items(invoice_id);
CREATE INDEX idx_payments_invoice ON payments(invoice_id);
