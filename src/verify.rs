//! `invoiced verify`: checks a live database against every invariant of
//! the contract and prints what it finds. Runs as the owner (row-level
//! security would hide all rows from the app role).

use std::io::{self, Write};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

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
              WHERE c.relname IN ('api_keys', 'customers', 'invoices', 'invoice_items', 'payments')
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
              WHERE relname IN ('api_keys', 'customers', 'invoices', 'invoice_items', 'payments', 'id_counters')
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
                    UNION ALL SELECT account_id, 'payments', max(id) FROM payments GROUP BY 1) ids
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
        name: "no invoice's payments exceed its total",
        sql: "SELECT format('%s invoice %s: paid %s of %s', i.account_id, i.id, p.paid, coalesce(t.total, 0)) AS problem
              FROM invoices i
              JOIN (SELECT account_id, invoice_id, sum(amount) AS paid FROM payments GROUP BY 1, 2) p
                ON p.account_id = i.account_id AND p.invoice_id = i.id
              LEFT JOIN (SELECT account_id, invoice_id, sum(subtotal + tax) AS total FROM invoice_items GROUP BY 1, 2) t
                ON t.account_id = i.account_id AND t.invoice_id = i.id
              WHERE p.paid > coalesce(t.total, 0)",
    },
    Check {
        name: "every status agrees with the payments",
        sql: "SELECT format('%s invoice %s is %s with %s paid of %s', i.account_id, i.id, i.status,
                     coalesce(p.paid, 0), coalesce(t.total, 0)) AS problem
              FROM invoices i
              LEFT JOIN (SELECT account_id, invoice_id, sum(amount) AS paid FROM payments GROUP BY 1, 2) p
                ON p.account_id = i.account_id AND p.invoice_id = i.id
              LEFT JOIN (SELECT account_id, invoice_id, sum(subtotal + tax) AS total FROM invoice_items GROUP BY 1, 2) t
                ON t.account_id = i.account_id AND t.invoice_id = i.id
              WHERE (i.status IN ('draft', 'void') AND coalesce(p.paid, 0) > 0)
                 OR (i.status = 'paid' AND coalesce(p.paid, 0) <> coalesce(t.total, 0))
                 OR (i.status = 'issued' AND coalesce(t.total, 0) > 0 AND coalesce(p.paid, 0) = t.total)",
    },
];

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

pub fn run(url: &str, out: &mut dyn Write) -> Result<(), VerifyError> {
    let mut conn = PgConnection::establish(url)?;
    #[derive(QueryableByName)]
    struct Bypass {
        #[diesel(sql_type = Bool)]
        bypasses: bool,
    }
    let role: Bypass = diesel::sql_query(
        "SELECT r.rolsuper OR r.rolbypassrls OR c.relowner = r.oid AS bypasses
         FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = 'public.accounts'::regclass",
    )
    .get_result(&mut conn)?;
    if !role.bypasses {
        return Err(VerifyError::NotOwner);
    }
    let mut failed = 0;
    for check in CHECKS {
        let findings: Vec<Finding> = diesel::sql_query(format!(
            "SELECT problem, count(*) OVER () AS total FROM ({}) found ORDER BY problem LIMIT {EXAMPLES}",
            check.sql
        ))
        .load(&mut conn)?;
        match findings.first() {
            None => writeln!(out, "ok    {}", check.name)?,
            Some(first) => {
                failed += 1;
                writeln!(out, "FAIL  {}: {} violation(s)", check.name, first.total)?;
                for finding in &findings {
                    writeln!(out, "        {}", finding.problem)?;
                }
                if first.total > EXAMPLES {
                    writeln!(out, "        … and {} more", first.total - EXAMPLES)?;
                }
            }
        }
    }
    if failed > 0 {
        return Err(VerifyError::Violations(failed));
    }
    writeln!(out, "all {} checks passed", CHECKS.len())?;
    Ok(())
}
