//! `invoiced verify`: checks a live database against every invariant of
//! the contract and prints what it finds. Runs as the owner (row-level
//! security would hide all rows from the app role).

use std::io::{self, Write};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// One invariant: SQL returning a description of each violation (`problem`)
/// and how many there are in all (`total`).
struct Check {
    name: &'static str,
    sql: &'static str,
}

const CHECKS: &[Check] = &[
    Check {
        name: "every tenant table is keyed (account_id, id)",
        sql: "SELECT format('%s is keyed (%s)', c.relname,
                     array_to_string(array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
                         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.n ORDER BY k.o), ', ')) AS problem
              FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
              WHERE c.relname IN ('api_keys', 'customers', 'invoices', 'invoice_items', 'payments',
                                  'credit_notes', 'credit_note_lines')
                AND array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
                    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.n ORDER BY k.o)
                    <> ARRAY['account_id', 'id']",
    },
    Check {
        name: "every foreign key includes account_id",
        sql: "SELECT format('%s on %s', con.conname, c.relname) AS problem
              FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
              WHERE con.contype = 'f' AND NOT EXISTS (
                  SELECT 1 FROM unnest(con.conkey) k(n)
                  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                  WHERE a.attname = 'account_id')",
    },
    Check {
        name: "row-level security is on for every tenant table",
        sql: "SELECT format('%s has row-level security off', relname) AS problem FROM pg_class
              WHERE relname IN ('api_keys', 'customers', 'invoices', 'invoice_items', 'payments', 'id_counters',
                                'idempotency_keys', 'number_sequences', 'document_numbers', 'credit_notes',
                                'credit_note_lines', 'credit_note_taxes')
                AND NOT relrowsecurity",
    },
    Check {
        name: "every account's id counters are ahead of its ids",
        sql: "SELECT format('%s %s: highest id %s, counter %s', ids.account_id, ids.table_name, ids.highest,
                     coalesce(c.last_id::text, 'missing')) AS problem
              FROM (SELECT account_id, 'api_keys' AS table_name, max(id) AS highest FROM api_keys GROUP BY 1
                    UNION ALL SELECT account_id, 'customers', max(id) FROM customers GROUP BY 1
                    UNION ALL SELECT account_id, 'invoices', max(id) FROM invoices GROUP BY 1
                    UNION ALL SELECT account_id, 'invoice_items', max(id) FROM invoice_items GROUP BY 1
                    UNION ALL SELECT account_id, 'payments', max(id) FROM payments GROUP BY 1
                    UNION ALL SELECT account_id, 'credit_notes', max(id) FROM credit_notes GROUP BY 1
                    UNION ALL SELECT account_id, 'credit_note_lines', max(id) FROM credit_note_lines GROUP BY 1) ids
              LEFT JOIN id_counters c ON c.account_id = ids.account_id AND c.table_name = ids.table_name
              WHERE c.last_id IS NULL OR c.last_id < ids.highest",
    },
    Check {
        name: "every line's derived amounts match its quantity, price and tax rate",
        sql: "SELECT format('%s item %s: subtotal %s, tax %s', account_id, id, subtotal, tax) AS problem
              FROM invoice_items
              WHERE subtotal <> round(quantity * unit_price, 2)
                 OR tax <> round(round(quantity * unit_price, 2) * tax_rate / 100, 2)",
    },
    Check {
        name: "no invoice's payments or credit notes exceed its total",
        sql: "SELECT format('%s invoice %s: paid %s, credited %s of %s', i.account_id, i.id, s.paid, s.credited,
                     t.total) AS problem
              FROM invoices i, LATERAL invoice_settled(i.account_id, i.id) s,
                   LATERAL invoice_total(i.account_id, i.id, i.tax_rounding) AS t (total)
              WHERE s.paid > t.total OR s.credited > t.total",
    },
    Check {
        name: "every status agrees with the payments and credit notes",
        sql: "SELECT format('%s invoice %s is %s with %s paid and %s credited of %s', i.account_id, i.id, i.status,
                     s.paid, s.credited, t.total) AS problem
              FROM invoices i, LATERAL invoice_settled(i.account_id, i.id) s,
                   LATERAL invoice_total(i.account_id, i.id, i.tax_rounding) AS t (total)
              WHERE (i.status IN ('draft', 'void') AND s.paid > 0)
                 OR (i.status = 'draft' AND s.credited > 0)
                 OR (i.status = 'paid' AND NOT (s.paid + s.credited >= t.total AND (s.paid > 0 OR t.total = 0)))
                 OR (i.status = 'issued' AND s.paid + s.credited >= t.total)",
    },
    Check {
        name: "every credit note's breakdown adds up its lines, and no item is credited beyond itself",
        sql: "SELECT format('%s credit note %s: %s %s%% taxable %s, lines %s', t.account_id, t.credit_note_id,
                     t.tax_category, t.tax_rate, t.taxable_amount, coalesce(l.subtotal, 0)) AS problem
              FROM credit_note_taxes t
              LEFT JOIN (SELECT account_id, credit_note_id, tax_category, tax_rate, sum(subtotal) AS subtotal
                         FROM credit_note_lines GROUP BY 1, 2, 3, 4) l
                ON l.account_id = t.account_id AND l.credit_note_id = t.credit_note_id
               AND l.tax_category = t.tax_category AND l.tax_rate = t.tax_rate
              WHERE l.subtotal IS DISTINCT FROM t.taxable_amount
              UNION ALL
              SELECT format('%s item %s: %s of %s credited', i.account_id, i.id, c.quantity, i.quantity)
              FROM invoice_items i
              JOIN (SELECT account_id, item_id, sum(quantity) AS quantity, sum(subtotal) AS subtotal,
                           sum(tax) AS tax FROM credit_note_lines WHERE item_id IS NOT NULL GROUP BY 1, 2) c
                ON c.account_id = i.account_id AND c.item_id = i.id
              WHERE c.quantity > i.quantity OR c.subtotal > i.subtotal OR c.tax > i.tax",
    },
    Check {
        name: "every stored document is what its SHA-256 (its ETag) says",
        sql: "SELECT format('%s document %s (%s %s): content does not match its sha256', account_id, id,
                            format, language) AS problem
              FROM documents WHERE sha256(content) <> sha256",
    },
    Check {
        name: "documents are stored only for issued invoices",
        sql: "SELECT format('%s invoice %s is a draft with a stored %s', d.account_id, d.invoice_id, d.format) AS problem
              FROM documents d JOIN invoices i ON i.account_id = d.account_id AND i.id = d.invoice_id
              WHERE i.status = 'draft'",
    },
    Check {
        name: "every document number is held in document_numbers",
        sql: "SELECT problem FROM (SELECT format('%s %s %s: number %s not in document_numbers', d.account_id, d.kind, d.id, d.number) AS problem
              FROM (SELECT account_id, 'invoice' AS kind, id, number FROM invoices WHERE number IS NOT NULL
                    UNION ALL SELECT account_id, 'credit_note', id, number FROM credit_notes) d
              WHERE NOT EXISTS (SELECT FROM document_numbers n
                                WHERE n.account_id = d.account_id AND n.number = d.number
                                  AND n.kind = d.kind AND n.document_id = d.id)) missing",
    },
];

/// What the service's role may do, exactly: per table, the privileges it
/// holds on the whole table, and per privilege the columns it holds it on.
/// The migrations grant these (see the least_privilege migration and the
/// ones after it); anything more is a hole an SQL injection could use,
/// anything less a broken service. A migration that changes a grant
/// changes this list.
type TableGrants = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static [&'static str])],
);

const APP_GRANTS: &[TableGrants] = &[
    ("__diesel_schema_migrations", &["SELECT"], &[]),
    // Issued documents: written once, served as written.
    (
        "documents",
        &["SELECT"],
        &[(
            "INSERT",
            &[
                "account_id",
                "invoice_id",
                "credit_note_id",
                "format",
                "language",
                "content",
                "sha256",
            ],
        )],
    ),
    // The audit trail: written and read, never changed.
    (
        "events",
        &["SELECT"],
        &[(
            "INSERT",
            &["account_id", "type", "data", "request_id", "api_key_id"],
        )],
    ),
    (
        "webhook_endpoints",
        &["SELECT", "DELETE"],
        &[
            (
                "INSERT",
                &[
                    "account_id",
                    "url",
                    "event_types",
                    "description",
                    "enabled",
                    "secret",
                ],
            ),
            (
                "UPDATE",
                &["url", "event_types", "description", "enabled", "updated_at"],
            ),
        ],
    ),
    (
        "webhook_deliveries",
        &["SELECT"],
        &[
            (
                "INSERT",
                &[
                    "account_id",
                    "endpoint_id",
                    "event_id",
                    "status",
                    "attempts",
                    "next_attempt_at",
                ],
            ),
            ("UPDATE", &["status", "next_attempt_at", "attempts"]),
        ],
    ),
    (
        "webhook_attempts",
        &["SELECT"],
        &[(
            "INSERT",
            &[
                "account_id",
                "delivery_id",
                "endpoint_id",
                "event_id",
                "attempt",
                "attempted_at",
                "status_code",
                "latency_ms",
                "error",
            ],
        )],
    ),
    (
        "accounts",
        &["SELECT"],
        &[(
            "UPDATE",
            &[
                "name",
                "legal_name",
                "address_line1",
                "address_line2",
                "address_postal_code",
                "address_city",
                "address_country",
                "vat_id",
                "tax_number",
                "email",
                "phone",
                "iban",
                "bic",
                "locale",
                "default_currency",
                "payment_terms_days",
                "tax_rounding",
                "invoice_number_format",
                "credit_note_number_format",
                "number_reset",
                "require_einvoice",
                "timezone",
            ],
        )],
    ),
    ("api_keys", &["SELECT"], &[("UPDATE", &["last_used_at"])]),
    (
        "customers",
        &["SELECT", "DELETE"],
        &[
            (
                "INSERT",
                &[
                    "account_id",
                    "name",
                    "email",
                    "phone",
                    "address",
                    "tax_id",
                    "billing_line1",
                    "billing_line2",
                    "billing_postal_code",
                    "billing_city",
                    "billing_country",
                    "buyer_reference",
                    "locale",
                ],
            ),
            (
                "UPDATE",
                &[
                    "name",
                    "email",
                    "phone",
                    "address",
                    "tax_id",
                    "billing_line1",
                    "billing_line2",
                    "billing_postal_code",
                    "billing_city",
                    "billing_country",
                    "buyer_reference",
                    "locale",
                ],
            ),
        ],
    ),
    (
        "invoices",
        &["SELECT", "DELETE"],
        &[
            (
                "INSERT",
                &[
                    "account_id",
                    "customer_id",
                    "number",
                    "currency",
                    "issue_date",
                    "due_date",
                    "notes",
                    "tax_rounding",
                    "service_date",
                    "service_period_start",
                    "service_period_end",
                ],
            ),
            (
                "UPDATE",
                &[
                    "customer_id",
                    "number",
                    "status",
                    "currency",
                    "issue_date",
                    "due_date",
                    "notes",
                    "tax_rounding",
                    "service_date",
                    "service_period_start",
                    "service_period_end",
                    "seller",
                    "buyer",
                ],
            ),
        ],
    ),
    (
        "invoice_items",
        &["SELECT", "DELETE"],
        &[
            (
                "INSERT",
                &[
                    "account_id",
                    "invoice_id",
                    "position",
                    "description",
                    "quantity",
                    "unit_price",
                    "tax_rate",
                    "tax_category",
                    "tax_exemption_reason",
                ],
            ),
            (
                "UPDATE",
                &[
                    "position",
                    "description",
                    "quantity",
                    "unit_price",
                    "tax_rate",
                    "tax_category",
                    "tax_exemption_reason",
                ],
            ),
        ],
    ),
    (
        "payments",
        &["SELECT"],
        &[(
            "INSERT",
            &[
                "account_id",
                "invoice_id",
                "amount",
                "paid_at",
                "method",
                "reference",
            ],
        )],
    ),
    (
        "idempotency_keys",
        &["SELECT"],
        &[
            (
                "INSERT",
                &[
                    "account_id",
                    "key",
                    "request_hash",
                    "response_status",
                    "response_body",
                ],
            ),
            (
                "UPDATE",
                &[
                    "request_hash",
                    "response_status",
                    "response_body",
                    "created_at",
                ],
            ),
        ],
    ),
    (
        "number_sequences",
        &["SELECT"],
        &[
            (
                "INSERT",
                &["account_id", "series", "period", "next_value", "last_used"],
            ),
            ("UPDATE", &["next_value", "last_used"]),
        ],
    ),
    ("document_numbers", &["SELECT"], &[]),
    (
        "credit_notes",
        &["SELECT"],
        &[(
            "INSERT",
            &[
                "account_id",
                "invoice_id",
                "number",
                "kind",
                "reason",
                "currency",
                "issue_date",
                "tax_rounding",
            ],
        )],
    ),
    (
        "credit_note_lines",
        &["SELECT"],
        &[(
            "INSERT",
            &[
                "account_id",
                "credit_note_id",
                "invoice_id",
                "position",
                "item_id",
                "description",
                "quantity",
                "unit_price",
                "tax_rate",
                "tax_category",
                "tax_exemption_reason",
                "subtotal",
                "tax",
            ],
        )],
    ),
    (
        "credit_note_taxes",
        &["SELECT"],
        &[(
            "INSERT",
            &[
                "account_id",
                "credit_note_id",
                "invoice_id",
                "tax_category",
                "tax_rate",
                "taxable_amount",
                "tax_amount",
                "exemption_reason",
            ],
        )],
    ),
];

/// The functions the service's role may call (beyond PUBLIC's).
const APP_FUNCTIONS: &[&str] = &[
    "prune_expired_idempotency_keys",
    "prune_expired_events",
    "due_webhook_deliveries",
    "webhook_queue_depth",
    "take_document_sequence",
    "set_next_document_sequence",
    "scoped_account",
];

/// APP_GRANTS and APP_FUNCTIONS, one `table: PRIVILEGE` or `table:
/// PRIVILEGE (column)` or `function name: EXECUTE` each.
pub fn app_grants() -> Vec<String> {
    let mut grants = Vec::new();
    for (table, whole, by_column) in APP_GRANTS {
        grants.extend(whole.iter().map(|p| format!("{table}: {p}")));
        for (privilege, columns) in *by_column {
            grants.extend(
                columns
                    .iter()
                    .map(|c| format!("{table}: {privilege} ({c})")),
            );
        }
    }
    grants.extend(
        APP_FUNCTIONS
            .iter()
            .map(|f| format!("function {f}: EXECUTE")),
    );
    grants
}

/// Every privilege invoiced_app holds beyond APP_GRANTS, and every one of
/// APP_GRANTS it lacks; also any right to create objects or temporary
/// tables.
fn grants_check_sql() -> String {
    let expected: Vec<String> = app_grants()
        .iter()
        .map(|grant| format!("'{}'", grant.replace('\'', "''")))
        .collect();
    format!(
        "WITH app AS (SELECT oid FROM pg_roles WHERE rolname = 'invoiced_app'),
         actual AS (
             SELECT c.relname || ': ' || a.privilege_type AS privilege
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public',
                  aclexplode(c.relacl) a, app
             WHERE a.grantee = app.oid
             UNION ALL
             SELECT c.relname || ': ' || a.privilege_type || ' (' || att.attname || ')'
             FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public',
                  aclexplode(att.attacl) a, app
             WHERE a.grantee = app.oid
             UNION ALL
             SELECT 'function ' || p.proname || ': ' || a.privilege_type
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'public',
                  aclexplode(p.proacl) a, app
             WHERE a.grantee = app.oid
             UNION ALL
             SELECT 'database: ' || privilege FROM app, unnest(ARRAY['CREATE', 'TEMPORARY']) privilege
             WHERE has_database_privilege(app.oid, current_database(), privilege)
             UNION ALL
             SELECT 'schema public: CREATE' FROM app WHERE has_schema_privilege(app.oid, 'public', 'CREATE')
         ),
         expected AS (SELECT unnest(ARRAY[{}]) AS privilege)
         SELECT 'invoiced_app does not exist (run setup_postgres.sql)' AS problem
         WHERE NOT EXISTS (SELECT FROM app)
         UNION ALL
         SELECT 'invoiced_app may ' || privilege || ', which it must not'
         FROM (SELECT privilege FROM actual EXCEPT SELECT privilege FROM expected) extra
         UNION ALL
         SELECT 'invoiced_app lacks ' || privilege
         FROM (SELECT privilege FROM expected EXCEPT SELECT privilege FROM actual) missing
         WHERE EXISTS (SELECT FROM app)",
        expected.join(", ")
    )
}

#[derive(QueryableByName)]
struct Finding {
    #[diesel(sql_type = Text)]
    problem: String,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error(
        "verify connects as the owner role: row-level security hides every row from this one \
         (set MIGRATION_DATABASE_URL, or pass --database-url)"
    )]
    NotOwner,
    #[error("{0} check(s) failed")]
    Violations(usize),
}

/// How many examples of a violation to show.
const EXAMPLES: i64 = 10;

/// Runs every check, writing what each found; returns how many failed.
fn run_checks(conn: &mut PgConnection, out: &mut dyn Write) -> Result<usize, VerifyError> {
    let mut failed = 0;
    let checks = CHECKS
        .iter()
        .map(|check| (check.name, check.sql.to_owned()))
        .chain(std::iter::once((
            "the service's role has exactly the privileges it needs",
            grants_check_sql(),
        )));
    for (name, sql) in checks {
        let findings: Vec<Finding> = diesel::sql_query(format!(
            "SELECT problem, count(*) OVER () AS total FROM ({sql}) found ORDER BY problem LIMIT {EXAMPLES}"
        ))
        .load(conn)?;
        match findings.first() {
            None => writeln!(out, "ok    {name}")?,
            Some(first) => {
                failed += 1;
                writeln!(out, "FAIL  {name}: {} violation(s)", first.total)?;
                for finding in &findings {
                    writeln!(out, "        {}", finding.problem)?;
                }
                if first.total > EXAMPLES {
                    writeln!(out, "        … and {} more", first.total - EXAMPLES)?;
                }
            }
        }
    }
    Ok(failed)
}

/// Runs every check against the database at `url` (as the owner).
pub fn run(url: &str, out: &mut dyn Write) -> Result<(), VerifyError> {
    let mut conn = PgConnection::establish(url)?;
    if !crate::db::sees_every_account(&mut conn)? {
        return Err(VerifyError::NotOwner);
    }
    let total = CHECKS.len() + 1;
    let failed = if crate::db::citus::is_citus(&mut conn)? {
        // Some checks call invoice_total and invoice_settled on every
        // invoice, which Citus pushes down to the workers, where those
        // functions read payments and lines: rows of the invoice's own
        // account, co-located with it on the same node, so reading them
        // from there is correct (what this setting guards against is
        // reading rows that live elsewhere). SET LOCAL, in a transaction,
        // is how a setting reaches the workers.
        diesel::Connection::transaction(&mut conn, |conn| {
            diesel::connection::SimpleConnection::batch_execute(
                conn,
                "SET LOCAL citus.propagate_set_commands = 'local';
                 SET LOCAL citus.allow_nested_distributed_execution = on",
            )?;
            run_checks(conn, out)
        })?
    } else {
        run_checks(&mut conn, out)?
    };
    if failed > 0 {
        return Err(VerifyError::Violations(failed));
    }
    writeln!(out, "all {total} checks passed")?;
    Ok(())
}
