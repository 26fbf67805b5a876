//! The hot queries, as the service's own code sends them: each one served
//! by an index (never a sequential scan, whatever the table's size), and
//! each prepared once per connection and reused.

use std::sync::{Arc, Mutex};

use bigdecimal::BigDecimal;
use diesel::connection::{Connection, InstrumentationEvent};
use diesel::prelude::*;
use invoiced::db::{TenantConn, in_tenant_transaction};
use invoiced::domain::{AccountId, CustomerId, InvoiceId, Money, Quantity, RowId, TaxRate};
use invoiced::invoicing;
use invoiced::models::customer::{self, CustomerFilter};
use invoiced::models::invoice::{InvoiceFields, InvoiceFilter};
use invoiced::models::invoice_item::ItemFields;
use invoiced::models::payment::PaymentFields;
use invoiced::models::{PageRequest, api_key};
use serde_json::json;

use crate::harness::spawn;

/// What a connection sent: statements with parameters (prepared, through
/// Diesel's statement cache when they are cacheable), and which of them
/// Diesel prepared for its cache.
#[derive(Default)]
struct Sent {
    with_parameters: Vec<String>,
    prepared_for_cache: Vec<String>,
}

fn record(conn: &mut PgConnection) -> Arc<Mutex<Sent>> {
    let sent = Arc::new(Mutex::new(Sent::default()));
    let recorder = Arc::clone(&sent);
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        let mut sent = recorder.lock().unwrap();
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                // A statement with binds prints as `SQL -- binds: [...]`;
                // BEGIN and COMMIT are plain strings.
                if let Some((sql, _)) = query.to_string().split_once(" -- binds: ") {
                    sent.with_parameters.push(sql.to_owned());
                }
            }
            InstrumentationEvent::CacheQuery { sql, .. } => {
                sent.prepared_for_cache.push(sql.to_owned())
            }
            _ => {}
        }
    });
    sent
}

fn decimal(text: &str) -> BigDecimal {
    text.parse().unwrap()
}

/// Every request path the benchmark drives, and the lists with each filter.
fn hot_paths(conn: &mut TenantConn<'_>, key: &str, customer: CustomerId, invoice: InvoiceId) {
    let page = PageRequest {
        limit: 50,
        after: Some(0),
    };
    assert!(api_key::authenticate(conn, key).unwrap().is_some());
    customer::find(conn, customer).unwrap().unwrap();
    let search = CustomerFilter {
        search: Some("cust".into()),
    };
    customer::list(conn, &CustomerFilter::default(), &page).unwrap();
    customer::list(conn, &search, &page).unwrap();
    invoicing::get_invoice(conn, invoice).unwrap();
    let filters = [
        InvoiceFilter::default(),
        InvoiceFilter {
            status: Some(invoiced::domain::InvoiceStatus::Issued),
            ..InvoiceFilter::default()
        },
        InvoiceFilter {
            customer_id: Some(customer),
            ..InvoiceFilter::default()
        },
        InvoiceFilter {
            issued_from: Some(chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()),
            issued_to: Some(chrono::NaiveDate::from_ymd_opt(2099, 1, 1).unwrap()),
            ..InvoiceFilter::default()
        },
    ];
    for filter in &filters {
        invoicing::list_invoices(conn, filter, &page).unwrap();
    }
    let line = |n: i32| invoicing::NewLine {
        position: None,
        fields: ItemFields {
            description: format!("line {n}"),
            quantity: Quantity::from_db(decimal("1.5")),
            unit_price: Money::from_db(decimal("10.00")),
            tax_rate: TaxRate::from_db(decimal("19")),
            tax_category: invoiced::domain::TaxCategory::S,
            tax_exemption_reason: None,
        },
    };
    let draft = InvoiceFields {
        customer_id: customer,
        number: None,
        currency: "EUR".into(),
        issue_date: None,
        due_date: None,
        notes: None,
        service_date: None,
        service_period: None,
    };
    invoicing::create_invoice(conn, &draft, &(1..=5).map(line).collect::<Vec<_>>()).unwrap();
    let payment = PaymentFields {
        amount: Money::from_db(decimal("0.01")),
        paid_at: None,
        method: None,
        reference: None,
    };
    invoicing::record_payment(conn, invoice, &payment).unwrap();
    invoicing::list_payments(conn, Some(invoice), &page).unwrap();
}

#[actix_web::test]
async fn every_hot_query_uses_an_index_and_stays_prepared() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Customer One").await;
    let invoice = app.issued_invoice(&acme, "100.00").await;
    app.post(
        &acme,
        "/v1/invoices",
        json!({"customer_id": customer, "currency": "EUR"}),
    )
    .await
    .ok(201);

    let account = AccountId::parse("acme").unwrap();
    let customer = CustomerId::from_i64(customer).unwrap();
    let invoice = InvoiceId::from_i64(invoice).unwrap();
    let mut conn = app.db().app_conn();
    let sent = record(&mut conn);
    let run = |conn: &mut PgConnection| {
        in_tenant_transaction(conn, &account, |tenant| {
            hot_paths(tenant, &acme.key, customer, invoice);
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    };
    run(&mut conn);
    let first = std::mem::take(&mut *sent.lock().unwrap());
    run(&mut conn);
    let second = std::mem::take(&mut *sent.lock().unwrap());

    // Prepared once per connection: every statement with parameters went
    // into Diesel's cache on the first run, and none needed preparing again.
    // The one exception: a multi-row insert of an invoice's lines, whose SQL
    // varies with their number (Diesel never caches those).
    let lines_insert = |sql: &str| sql.starts_with("INSERT INTO \"invoice_items\"");
    for sql in &first.with_parameters {
        assert!(
            lines_insert(sql) || first.prepared_for_cache.contains(sql),
            "not prepared for reuse (a sql() literal, a sql_query or an insert with DEFAULT in it?): {sql}"
        );
    }
    assert_eq!(second.with_parameters.len(), first.with_parameters.len());
    assert_eq!(second.prepared_for_cache, Vec::<String>::new());

    // Served by indexes: each statement's generic plan (the one a prepared
    // statement settles on), planned with sequential scans priced out, so
    // that only a missing index leaves one in the plan.
    let mut explain = app.db().app_conn();
    let mut statements = first.with_parameters.clone();
    statements.sort();
    statements.dedup();
    assert!(statements.len() >= 10, "{statements:#?}");
    for (n, sql) in statements.iter().enumerate() {
        let parameters = (1..)
            .take_while(|i| sql.contains(&format!("${i}")))
            .map(|_| "NULL")
            .collect::<Vec<_>>()
            .join(", ");
        let plan = in_tenant_transaction(&mut explain, &account, |tenant| {
            let conn = tenant.pg();
            diesel::sql_query("SET LOCAL enable_seqscan = off").execute(conn)?;
            diesel::sql_query("SET LOCAL plan_cache_mode = force_generic_plan").execute(conn)?;
            diesel::sql_query(format!("PREPARE hot_{n} AS {sql}")).execute(conn)?;
            let execute = if parameters.is_empty() {
                format!("EXPLAIN EXECUTE hot_{n}")
            } else {
                format!("EXPLAIN EXECUTE hot_{n}({parameters})")
            };
            explain_lines(conn, &execute)
        })
        .unwrap();
        // No table read in full, and no equality left for a filter to check
        // row by row: an index that leads with the wrong columns (say, the
        // primary key where a foreign key's index is missing) would still
        // scan, but would scan every row of the account.
        let unindexed = plan.iter().find(|line| {
            let line = line.trim_start();
            line.contains("Seq Scan") || (line.starts_with("Filter:") && line.contains(" = "))
        });
        assert!(
            unindexed.is_none(),
            "{unindexed:?} in the plan of\n{sql}\n{}",
            plan.join("\n")
        );
    }
}

fn explain_lines(conn: &mut PgConnection, explain: &str) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let lines: Vec<Line> = diesel::sql_query(explain).load(conn)?;
    Ok(lines.into_iter().map(|l| l.line).collect())
}

/// Every plan node that reads `customers`, with the rows it produced and
/// the rows it read and threw away.
fn customer_scans(node: &serde_json::Value, found: &mut Vec<(String, i64)>) {
    let reads_customers = node["Relation Name"] == "customers"
        || node["Index Name"]
            .as_str()
            .is_some_and(|name| name.starts_with("customers"));
    if reads_customers {
        let rows = [
            "Actual Rows",
            "Rows Removed by Filter",
            "Rows Removed by Index Recheck",
        ]
        .iter()
        .map(|field| node[field].as_i64().unwrap_or(0))
        .sum();
        found.push((node["Node Type"].as_str().unwrap().to_owned(), rows));
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        customer_scans(child, found);
    }
}

fn search_plan(
    conn: &mut PgConnection,
    settings: &[&str],
) -> (serde_json::Value, Vec<(String, i64)>) {
    let account = AccountId::parse("acme").unwrap();
    let plan = in_tenant_transaction(conn, &account, |tenant| {
        for setting in settings {
            diesel::sql_query(format!("SET LOCAL {setting}")).execute(tenant.pg())?;
        }
        // The statement customer::list sends for ?q=smith, with its values.
        explain_lines(
            tenant.pg(),
            "EXPLAIN (ANALYZE, FORMAT JSON)
             SELECT * FROM customers
             WHERE account_id = 'acme' AND id > 0
               AND (name ILIKE '%smith%' OR email ILIKE '%smith%')
             ORDER BY id LIMIT 51",
        )
    })
    .unwrap()
    .join("\n");
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let mut scans = Vec::new();
    customer_scans(&plan[0]["Plan"], &mut scans);
    assert!(!scans.is_empty(), "{plan:#}");
    (plan, scans)
}

#[actix_web::test]
async fn a_customer_search_reads_only_its_own_accounts_rows() {
    let app = spawn().await;
    let mut owner = app.db().owner_conn();
    // acme: 4 of its 4,000 customers match; 40 other accounts hold 1,000
    // customers each, every one a match.
    crate::harness::execute(
        &mut owner,
        "INSERT INTO accounts (id, name) VALUES ('acme', 'Acme');
         INSERT INTO accounts (id, name) SELECT 'other-' || a, 'Other' FROM generate_series(1, 40) a;
         INSERT INTO customers (account_id, name, email)
             SELECT 'acme', CASE WHEN n % 1000 = 0 THEN 'Ann Smith ' ELSE 'Bob Jones ' END || n,
                    'c' || n || '@example.com' FROM generate_series(1, 4000) n;
         INSERT INTO customers (account_id, name, email)
             SELECT 'other-' || a, 'Smith Holdings ' || n, 'smith' || n || '@example.com'
             FROM generate_series(1, 40) a, generate_series(1, 1000) n;
         ANALYZE customers;",
    );
    // As the service runs it (invoiced_app, under row-level security): the
    // search reads the account's own customers through an index that leads
    // with account_id, and nobody else's. (PostgreSQL evaluates no ILIKE
    // through an index under row-level security: the operator is not
    // leakproof. The trigram index leads with account_id too, for the
    // roles that can use it.)
    let (plan, scans) = search_plan(&mut app.db().app_conn(), &[]);
    for (node, rows) in &scans {
        assert!(
            *rows <= 4000,
            "{node} read {rows} rows, more than acme has\n{plan:#}"
        );
    }
    // And the search finds acme's four.
    let account = AccountId::parse("acme").unwrap();
    let found = in_tenant_transaction(&mut app.db().app_conn(), &account, |tenant| {
        customer::list(
            tenant,
            &CustomerFilter {
                search: Some("smith".into()),
            },
            &PageRequest {
                limit: 50,
                after: None,
            },
        )
    })
    .unwrap();
    assert_eq!(found.rows.len(), 4);
}
