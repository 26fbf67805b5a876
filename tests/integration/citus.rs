//! On Citus (`CITUS_TEST_DATABASE_URL`, see the harness): the schema is
//! distributed as SPEC §12 says, `invoiced distribute` distributes a
//! database that was migrated before Citus was installed, and every
//! statement the service sends for each route is routed to a single shard.
//!
//! Without the variable these tests say so and return: CI runs plain
//! PostgreSQL. With it, the API suites run on Citus too (`cargo test --test
//! integration -- api_ isolation citus`), each statement of the service
//! touching more than one shard failing its test (the harness sets
//! `citus.multi_task_query_log_level = error` for the service's role).
//!
//! The router-plan test reads the statements from the coordinator's own
//! log, so it needs `logging_collector = on` and `log_destination` with
//! `jsonlog` there (README: Deployment at scale).

use std::collections::BTreeSet;

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::harness::app::{spawn_with, test_config};
use crate::harness::server::{CitusCluster, citus};
use crate::harness::{TestDatabase, execute, invoiced, json_rows, output_within, scalar};

fn cluster_or_skip(test: &str) -> Option<&'static CitusCluster> {
    let cluster = citus();
    if cluster.is_none() {
        eprintln!("{test}: CITUS_TEST_DATABASE_URL is not set; nothing to do on plain PostgreSQL");
    }
    cluster
}

/// The tables of the schema and how Citus places them: (table, method,
/// distribution column, co-location group).
fn placements(db: &TestDatabase) -> Vec<(String, String, Option<String>, i64)> {
    json_rows(
        &mut db.superuser_conn(),
        "SELECT c.relname AS table_name, p.partmethod::text AS method,
                column_to_column_name(p.logicalrelid, p.partkey) AS column_name,
                p.colocationid AS colocation
         FROM pg_class c
         LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
           AND c.relname NOT LIKE '\\_\\_diesel%'
         ORDER BY c.relname",
    )
    .into_iter()
    .map(|row| {
        (
            row["table_name"].as_str().unwrap().to_owned(),
            row["method"].as_str().unwrap_or("local").to_owned(),
            row["column_name"].as_str().map(str::to_owned),
            row["colocation"].as_i64().unwrap_or(0),
        )
    })
    .collect()
}

/// Asserts SPEC §12's layout: accounts a reference table, every other table
/// sharded by account_id, all in one co-location group.
#[track_caller]
fn assert_distributed(db: &TestDatabase) {
    let tables = placements(db);
    assert!(tables.len() >= 13, "{tables:?}");
    let mut groups = BTreeSet::new();
    for (table, method, column, colocation) in &tables {
        if table == "accounts" {
            assert_eq!(method, "n", "accounts is a reference table");
            continue;
        }
        assert_eq!(method, "h", "{table} is hash-distributed");
        assert_eq!(column.as_deref(), Some("account_id"), "{table}");
        groups.insert(*colocation);
    }
    assert_eq!(groups.len(), 1, "every tenant table co-located: {tables:?}");
}

/// The foreign keys of the schema, by table and name, as definitions.
fn foreign_keys(db: &TestDatabase) -> BTreeSet<String> {
    json_rows(
        &mut db.superuser_conn(),
        "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS fk
         FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace
           AND conname !~ '_[0-9]+$'",
    )
    .into_iter()
    .map(|row| row["fk"].as_str().unwrap().to_owned())
    .collect()
}

#[test]
fn migrations_on_a_coordinator_distribute_every_table_with_its_foreign_keys() {
    let Some(_) = cluster_or_skip("migrations_distribute") else {
        return;
    };
    let distributed = TestDatabase::new();
    assert_distributed(&distributed);

    // Distribution set the foreign keys aside and added them back: the same
    // ones as on plain PostgreSQL (a database on the coordinator without
    // the extension).
    let plain = TestDatabase::unmigrated();
    invoiced::db::migrations::run_pending(&mut plain.owner_conn()).expect("migrate");
    let expected = foreign_keys(&plain);
    assert!(expected.len() >= 10, "{expected:?}");
    let got = foreign_keys(&distributed);
    assert!(
        got == expected,
        "missing after distribution: {:?}\nnot on plain PostgreSQL: {:?}",
        expected.difference(&got).collect::<Vec<_>>(),
        got.difference(&expected).collect::<Vec<_>>()
    );
}

/// An upgrade of a distributed database: migrations that add tenant tables
/// with foreign keys to distributed ones (events and webhooks, documents)
/// distribute them as they go, and the service uses them.
#[actix_web::test]
async fn migrations_applied_to_a_distributed_database_distribute_their_new_tables() {
    let Some(_) = cluster_or_skip("upgrade") else {
        return;
    };
    let db = TestDatabase::new();
    let mut owner = db.owner_conn();
    // Back to before the events migration (and those after it, documents
    // among them), everything else distributed...
    let events_applied = |owner: &mut diesel::PgConnection| {
        scalar(
            owner,
            "SELECT count(*) FROM __diesel_schema_migrations WHERE version = '20261204100000'",
        ) == json!(1)
    };
    let mut reverted = 0;
    while events_applied(&mut owner) {
        invoiced::db::migrations::revert(&mut owner, invoiced::db::migrations::Scope::Last)
            .expect("revert on Citus");
        reverted += 1;
    }
    assert!(reverted >= 2, "{reverted}");
    let tables: Vec<String> = placements(&db).into_iter().map(|p| p.0).collect();
    assert!(!tables.contains(&"events".to_owned()) && !tables.contains(&"documents".to_owned()));
    // ...then upgraded.
    let applied = invoiced::db::migrations::run_pending(&mut owner).expect("upgrade on Citus");
    assert_eq!(applied.len(), reverted, "{applied:?}");
    assert_distributed(&db);
    let plain = TestDatabase::unmigrated();
    invoiced::db::migrations::run_pending(&mut plain.owner_conn()).expect("migrate");
    assert_eq!(foreign_keys(&db), foreign_keys(&plain));

    let app = spawn_with(None, test_config(&db, true)).await;
    let acme = app.tenant("acme").await;
    let invoice = app.issued_invoice(&acme, "50.00").await;
    app.get(&acme, &format!("/v1/invoices/{invoice}/pdf"))
        .await
        .ok(200);
    let events = app.get(&acme, "/v1/events?type=invoice.issued").await;
    assert_eq!(events.ok(200)["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn distribute_moves_a_database_migrated_before_citus_and_keeps_its_data() {
    let Some(cluster) = cluster_or_skip("distribute") else {
        return;
    };
    // Migrated and used while the database had no Citus.
    let db = TestDatabase::unmigrated();
    invoiced::db::migrations::run_pending(&mut db.owner_conn()).expect("migrate");
    assert_eq!(
        scalar(
            &mut db.superuser_conn(),
            "SELECT count(*) FROM pg_extension WHERE extname = 'citus'"
        ),
        json!(0)
    );
    let config = test_config(&db, true);
    let app = spawn_with(None, config.clone()).await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Before").await;
    let invoice = app.issued_invoice(&acme, "50.00").await;
    drop(app);

    // Refused while the extension is missing; then the DBA's steps.
    let refused = output_within(
        invoiced().args(["distribute", "--database-url", &db.owner_url()]),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no citus extension"));
    let turn = crate::harness::database::cluster_changes();
    for worker in &cluster.workers {
        crate::harness::server::run_setup_script(
            db.server().binaries(),
            &cluster.superuser_url(worker, "postgres"),
            db.name(),
        );
    }
    for node in cluster.nodes() {
        let mut conn = diesel::Connection::establish(&cluster.superuser_url(node, db.name()))
            .expect("connect to a node");
        execute(&mut conn, "CREATE EXTENSION citus");
    }
    execute(
        &mut db.superuser_conn(),
        &format!(
            "ALTER ROLE invoiced_app IN DATABASE {} SET citus.multi_task_query_log_level = 'error'",
            db.name()
        ),
    );
    db.register_nodes(cluster);
    drop(turn);

    let output = output_within(
        invoiced().args(["distribute", "--database-url", &db.owner_url()]),
        std::time::Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("reference table: accounts"), "{stdout}");
    assert!(
        stdout.contains("distributed by account_id: invoices"),
        "{stdout}"
    );
    assert_distributed(&db);

    // The rows moved to the shards (none left behind in the coordinator's
    // own table), and the service goes on where it was.
    let mut owner = db.owner_conn();
    assert_eq!(
        scalar(&mut owner, "SELECT count(*) AS n FROM invoices"),
        json!(1)
    );
    assert_eq!(
        scalar(
            &mut owner,
            "SELECT pg_relation_size('invoices') AS local_bytes"
        ),
        json!(0)
    );
    let app = spawn_with(None, config).await;
    let got = app.get(&acme, &format!("/v1/invoices/{invoice}")).await;
    assert_eq!(got.ok(200)["total"], "50.00");
    let next = app.customer(&acme, "After").await;
    assert!(next > customer, "{next} after {customer}");
    let paid = app
        .post(
            &acme,
            &format!("/v1/invoices/{invoice}/payments"),
            json!({"amount": "50.00", "method": "bank_transfer"}),
        )
        .await;
    paid.ok(201);
    assert_eq!(
        app.get(&acme, &format!("/v1/invoices/{invoice}"))
            .await
            .ok(200)["status"],
        "paid"
    );

    let again = output_within(
        invoiced().args(["distribute", "--database-url", &db.owner_url()]),
        std::time::Duration::from_secs(60),
    );
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already distributed"));
}

/// The coordinator's JSON log, read through SQL from `offset` on.
struct CoordinatorLog {
    path: String,
    offset: i64,
    database: String,
}

impl CoordinatorLog {
    fn open(db: &TestDatabase) -> Self {
        let mut conn = db.superuser_conn();
        let path = scalar(&mut conn, "SELECT pg_current_logfile('jsonlog') AS path");
        let path = path.as_str().unwrap_or_else(|| {
            panic!(
                "the coordinator writes no JSON log: set logging_collector = on and \
                 log_destination = 'stderr,jsonlog' there (README: Deployment at scale)"
            )
        });
        let mut log = Self {
            path: path.to_owned(),
            offset: 0,
            database: db.name().to_owned(),
        };
        log.offset = log.size(db);
        log
    }

    fn size(&self, db: &TestDatabase) -> i64 {
        scalar(
            &mut db.superuser_conn(),
            &format!("SELECT (pg_stat_file('{}')).size AS size", self.path),
        )
        .as_i64()
        .unwrap()
    }

    /// The statements the service's roles (the app's, and the owner's for
    /// /admin) sent in this database since the last call (`log_statement = all`), each with its parameters put in
    /// as literals.
    fn new_statements(&mut self, db: &TestDatabase) -> Vec<String> {
        let size = self.size(db);
        let text = scalar(
            &mut db.superuser_conn(),
            &format!(
                "SELECT pg_read_file('{}', {}, {}) AS text",
                self.path,
                self.offset,
                size - self.offset
            ),
        );
        self.offset = size;
        let mut statements = Vec::new();
        for line in text.as_str().unwrap_or_default().lines() {
            let Ok(entry) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            // The service's own sessions, not the connections Citus opens
            // for its own work (to a shard placement on the coordinator).
            let internal = entry["application_name"]
                .as_str()
                .is_some_and(|name| name.starts_with("citus_internal"));
            let service = ["invoiced_app", "invoiced_owner"]
                .iter()
                .any(|role| entry["user"] == *role);
            if entry["dbname"] != self.database.as_str() || !service || internal {
                continue;
            }
            let message = entry["message"].as_str().unwrap_or_default();
            let sql = if let Some(simple) = message.strip_prefix("statement: ") {
                simple.to_owned()
            } else if message.starts_with("execute ") {
                let sql = message.split_once(": ").map_or("", |(_, sql)| sql);
                with_parameters(sql, entry["detail"].as_str().unwrap_or_default())
            } else {
                continue;
            };
            // What Citus itself runs on a shard placement in the same
            // session (local execution) is logged too: shard names, which
            // the service never writes.
            if names_a_shard(&sql) {
                continue;
            }
            statements.push(sql);
        }
        statements
    }
}

/// `sql` with `$n` replaced by the values of a log line's "parameters: $1 =
/// 'x', $2 = NULL" detail, as untyped literals.
fn with_parameters(sql: &str, detail: &str) -> String {
    let mut values = Vec::new();
    let mut rest = detail.strip_prefix("parameters: ").unwrap_or("");
    while let Some(eq) = rest.find(" = ") {
        rest = &rest[eq + 3..];
        if let Some(after) = rest.strip_prefix("NULL") {
            values.push("NULL".to_owned());
            rest = after;
        } else {
            // A quoted literal: '' is a quote inside it.
            let bytes = rest.as_bytes();
            let mut end = 1;
            while end < bytes.len() {
                if bytes[end] == b'\'' {
                    if bytes.get(end + 1) == Some(&b'\'') {
                        end += 2;
                        continue;
                    }
                    break;
                }
                end += 1;
            }
            values.push(rest[..=end].to_owned());
            rest = &rest[end + 1..];
        }
    }
    let mut sql = sql.to_owned();
    // Highest first, so that $1 does not eat the start of $10.
    for (index, value) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", index + 1), value);
    }
    sql
}

/// The plan of `sql`, as EXPLAIN (FORMAT JSON) gives it.
fn explain(db: &TestDatabase, sql: &str) -> Value {
    #[derive(diesel::QueryableByName)]
    struct Plan {
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[diesel(column_name = "QUERY PLAN")]
        plan: String,
    }
    let plan: Plan = diesel::RunQueryDsl::get_result(
        diesel::sql_query(format!("EXPLAIN (FORMAT JSON) {sql}")),
        &mut db.superuser_conn(),
    )
    .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"));
    serde_json::from_str(&plan.plan).expect("EXPLAIN's JSON")
}

/// Whether `sql` names a shard (`public.accounts_102008`).
fn names_a_shard(sql: &str) -> bool {
    sql.split("public.").skip(1).any(|rest| {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        name.rsplit_once('_')
            .is_some_and(|(_, id)| id.len() >= 6 && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Whether a statement is one EXPLAIN can show (not BEGIN, SET, …).
fn explainable(sql: &str) -> bool {
    let first = sql.split_whitespace().next().unwrap_or("");
    ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"]
        .iter()
        .any(|verb| first.eq_ignore_ascii_case(verb))
}

/// The task counts of every Citus scan in a plan.
fn citus_task_counts(plan: &Value, counts: &mut Vec<i64>) {
    match plan {
        Value::Object(map) => {
            if map.get("Custom Plan Provider").and_then(Value::as_str) == Some("Citus Adaptive") {
                counts.push(
                    plan["Distributed Query"]["Job"]["Task Count"]
                        .as_i64()
                        .unwrap_or(-1),
                );
            }
            for value in map.values() {
                citus_task_counts(value, counts);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| citus_task_counts(v, counts)),
        _ => {}
    }
}

#[actix_web::test]
async fn every_statement_of_every_route_is_a_single_shard_router_plan() {
    let Some(_) = cluster_or_skip("router_plans") else {
        return;
    };
    let db = TestDatabase::new();
    // Every statement the service's roles send is logged, with its
    // parameters; each is then EXPLAINed with them. (auto_explain would
    // show the statements run inside functions too, but with it loaded
    // Citus 13.2 failed the trigger-side inserts here: "the backend has
    // already been assigned a transaction id".)
    for role in ["invoiced_app", "invoiced_owner"] {
        execute(
            &mut db.superuser_conn(),
            &format!(
                "ALTER ROLE {role} IN DATABASE {} SET log_statement = 'all'",
                db.name()
            ),
        );
    }
    let mut log = CoordinatorLog::open(&db);
    let config = test_config(&db, true);
    let app = spawn_with(None, config).await;

    // Every route, in an order that gives each the ids it needs.
    let mut exercised: BTreeSet<(String, String)> = BTreeSet::new();
    let mut report = Vec::new();
    macro_rules! route {
        ($method:expr, $template:expr, $reply:expr) => {{
            let reply = $reply;
            assert!(
                reply.status < 400,
                "{} {}: {} {}",
                $method,
                $template,
                reply.status,
                reply.text
            );
            let statements = log.new_statements(&db);
            let mut distributed = 0;
            for sql in statements
                .iter()
                .flat_map(|s| s.split("; "))
                .filter(|s| explainable(s))
            {
                let plan = explain(&db, sql);
                let mut counts = Vec::new();
                citus_task_counts(&plan, &mut counts);
                for count in counts {
                    assert_eq!(
                        count, 1,
                        "{} {}: a statement is not routed to one shard: {sql}\n{plan:#}",
                        $method, $template
                    );
                    distributed += 1;
                }
            }
            let plans = &statements;
            if $template.starts_with("/v1") {
                assert!(
                    distributed > 0,
                    "{} {}: no distributed statement was logged ({} plans)",
                    $method,
                    $template,
                    plans.len()
                );
            }
            report.push(format!(
                "{} {}: {} statements sent, {} Citus scans, each on one shard",
                $method,
                $template,
                plans.len(),
                distributed
            ));
            exercised.insert(($method.to_string(), $template.to_string()));
            reply
        }};
    }

    let admin = |method: Method, path: String, body: Option<Value>| {
        let app = &app;
        async move { app.admin(method, &path, body).await }
    };
    let created = route!(
        "POST",
        "/admin/accounts",
        admin(
            Method::POST,
            "/admin/accounts".into(),
            Some(json!({"id": "acme", "name": "Acme Ltd"}))
        )
        .await
    );
    let acme = crate::harness::TestTenant {
        account: "acme".into(),
        key: created.body["api_key"]["key"].as_str().unwrap().to_owned(),
    };
    route!(
        "GET",
        "/admin/accounts",
        admin(Method::GET, "/admin/accounts".into(), None).await
    );
    route!(
        "GET",
        "/admin/accounts/{account_id}",
        admin(Method::GET, "/admin/accounts/acme".into(), None).await
    );
    route!(
        "PATCH",
        "/admin/accounts/{account_id}",
        admin(
            Method::PATCH,
            "/admin/accounts/acme".into(),
            Some(json!({"name": "Acme Group"}))
        )
        .await
    );
    route!(
        "POST",
        "/admin/accounts/{account_id}/api-keys",
        admin(
            Method::POST,
            "/admin/accounts/acme/api-keys".into(),
            Some(json!({"name": "second"}))
        )
        .await
    );
    route!(
        "GET",
        "/admin/accounts/{account_id}/api-keys",
        admin(Method::GET, "/admin/accounts/acme/api-keys".into(), None).await
    );
    route!(
        "DELETE",
        "/admin/accounts/{account_id}/api-keys/{key_id}",
        admin(
            Method::DELETE,
            "/admin/accounts/acme/api-keys/2".into(),
            None
        )
        .await
    );
    route!(
        "PATCH",
        "/v1/account",
        app.patch(
            &acme,
            "/v1/account",
            crate::harness::app::seller_profile("acme")
        )
        .await
    );
    route!("GET", "/v1/account", app.get(&acme, "/v1/account").await);
    let customer = route!(
        "POST",
        "/v1/customers",
        app.post(
            &acme,
            "/v1/customers",
            json!({"name": "Globex", "email": "ap@globex.test", "billing_address": {
                "line1": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}})
        )
        .await
    );
    let customer = customer.body["id"].as_i64().unwrap();
    route!(
        "GET",
        "/v1/customers",
        app.get(&acme, "/v1/customers?q=glob&limit=5").await
    );
    route!(
        "GET",
        "/v1/customers/{customer_id}",
        app.get(&acme, &format!("/v1/customers/{customer}")).await
    );
    route!(
        "PATCH",
        "/v1/customers/{customer_id}",
        app.patch(
            &acme,
            &format!("/v1/customers/{customer}"),
            json!({"phone": "+49 30 1234"})
        )
        .await
    );
    let invoice = route!(
        "POST",
        "/v1/invoices",
        app.call(
            acme.request(Method::POST, "/v1/invoices")
                .insert_header(("Idempotency-Key", "create-invoice-1"))
                .set_json(json!({"customer_id": customer, "currency": "EUR", "items": [
                    {"description": "Consulting", "quantity": "10", "unit_price": "100.00", "tax_rate": "19"},
                    {"description": "Travel", "quantity": "1", "unit_price": "80.00", "tax_rate": "7"}]}))
        )
        .await
    );
    let invoice = invoice.body["id"].as_i64().unwrap();
    route!(
        "GET",
        "/v1/invoices",
        app.get(
            &acme,
            &format!("/v1/invoices?customer_id={customer}&status=draft")
        )
        .await
    );
    route!(
        "PATCH",
        "/v1/invoices/{invoice_id}",
        app.patch(
            &acme,
            &format!("/v1/invoices/{invoice}"),
            json!({"notes": "Thank you"})
        )
        .await
    );
    let item = route!(
        "POST",
        "/v1/invoices/{invoice_id}/items",
        app.post(
            &acme,
            &format!("/v1/invoices/{invoice}/items"),
            json!({"description": "Extra", "quantity": "2", "unit_price": "5.00", "tax_rate": "19"})
        )
        .await
    );
    let item = item.body["id"].as_i64().unwrap();
    route!(
        "GET",
        "/v1/invoices/{invoice_id}/items",
        app.get(&acme, &format!("/v1/invoices/{invoice}/items"))
            .await
    );
    route!(
        "GET",
        "/v1/invoices/{invoice_id}/items/{item_id}",
        app.get(&acme, &format!("/v1/invoices/{invoice}/items/{item}"))
            .await
    );
    route!(
        "PATCH",
        "/v1/invoices/{invoice_id}/items/{item_id}",
        app.patch(
            &acme,
            &format!("/v1/invoices/{invoice}/items/{item}"),
            json!({"quantity": "3"})
        )
        .await
    );
    route!(
        "DELETE",
        "/v1/invoices/{invoice_id}/items/{item_id}",
        app.delete(&acme, &format!("/v1/invoices/{invoice}/items/{item}"))
            .await
    );
    route!(
        "POST",
        "/v1/invoices/{invoice_id}/issue",
        app.send(
            &acme,
            Method::POST,
            &format!("/v1/invoices/{invoice}/issue"),
            None
        )
        .await
    );
    route!(
        "GET",
        "/v1/invoices/{invoice_id}",
        app.get(&acme, &format!("/v1/invoices/{invoice}")).await
    );
    let payment = route!(
        "POST",
        "/v1/invoices/{invoice_id}/payments",
        app.post(
            &acme,
            &format!("/v1/invoices/{invoice}/payments"),
            json!({"amount": "100.00", "method": "bank_transfer"})
        )
        .await
    );
    let payment = payment.body["id"].as_i64().unwrap();
    route!(
        "GET",
        "/v1/invoices/{invoice_id}/payments",
        app.get(&acme, &format!("/v1/invoices/{invoice}/payments"))
            .await
    );
    route!(
        "GET",
        "/v1/payments",
        app.get(&acme, "/v1/payments?limit=10").await
    );
    route!(
        "GET",
        "/v1/payments/{payment_id}",
        app.get(&acme, &format!("/v1/payments/{payment}")).await
    );
    let credit_note = route!(
        "POST",
        "/v1/invoices/{invoice_id}/credit_notes",
        app.post(
            &acme,
            &format!("/v1/invoices/{invoice}/credit_notes"),
            json!({"reason": "Travel not due", "lines": [{"item_id": 2, "quantity": 1}]})
        )
        .await
    );
    let credit_note = credit_note.body["id"].as_i64().unwrap();
    route!(
        "GET",
        "/v1/invoices/{invoice_id}/credit_notes",
        app.get(&acme, &format!("/v1/invoices/{invoice}/credit_notes"))
            .await
    );
    route!(
        "GET",
        "/v1/credit_notes",
        app.get(&acme, "/v1/credit_notes").await
    );
    route!(
        "GET",
        "/v1/credit_notes/{credit_note_id}",
        app.get(&acme, &format!("/v1/credit_notes/{credit_note}"))
            .await
    );
    // The documents: stored at issue, served; the German PDF made on its
    // first request and stored; a draft's preview.
    for (template, path) in [
        (
            "/v1/invoices/{invoice_id}/pdf",
            format!("/v1/invoices/{invoice}/pdf?lang=de"),
        ),
        (
            "/v1/invoices/{invoice_id}/xml",
            format!("/v1/invoices/{invoice}/xml?syntax=ubl"),
        ),
        (
            "/v1/credit_notes/{credit_note_id}/pdf",
            format!("/v1/credit_notes/{credit_note}/pdf"),
        ),
        (
            "/v1/credit_notes/{credit_note_id}/xml",
            format!("/v1/credit_notes/{credit_note}/xml"),
        ),
    ] {
        route!("GET", template, app.get(&acme, &path).await);
    }
    // Webhook endpoints and events (every change above wrote one).
    let endpoint = route!(
        "POST",
        "/v1/webhook_endpoints",
        app.post(
            &acme,
            "/v1/webhook_endpoints",
            json!({"url": "http://127.0.0.1:9/hooks", "events": ["*"]})
        )
        .await
    );
    let endpoint = endpoint.body["id"].as_i64().unwrap();
    route!(
        "GET",
        "/v1/webhook_endpoints",
        app.get(&acme, "/v1/webhook_endpoints").await
    );
    route!(
        "GET",
        "/v1/webhook_endpoints/{endpoint_id}",
        app.get(&acme, &format!("/v1/webhook_endpoints/{endpoint}"))
            .await
    );
    route!(
        "PATCH",
        "/v1/webhook_endpoints/{endpoint_id}",
        app.patch(
            &acme,
            &format!("/v1/webhook_endpoints/{endpoint}"),
            json!({"description": "Ledger sync"})
        )
        .await
    );
    route!(
        "GET",
        "/v1/events",
        app.get(&acme, "/v1/events?type=invoice.issued&limit=5")
            .await
    );
    route!(
        "GET",
        "/v1/events/{event_id}",
        app.get(&acme, "/v1/events/1").await
    );
    route!(
        "POST",
        "/v1/events/{event_id}/redeliver",
        app.send(&acme, Method::POST, "/v1/events/1/redeliver", None)
            .await
    );
    route!(
        "GET",
        "/v1/webhook_endpoints/{endpoint_id}/deliveries",
        app.get(
            &acme,
            &format!("/v1/webhook_endpoints/{endpoint}/deliveries")
        )
        .await
    );
    route!(
        "DELETE",
        "/v1/webhook_endpoints/{endpoint_id}",
        app.delete(&acme, &format!("/v1/webhook_endpoints/{endpoint}"))
            .await
    );
    // A second invoice, issued and voided; a draft deleted; a customer
    // without invoices deleted.
    let second = app.issued_invoice(&acme, "20.00").await;
    log.new_statements(&db);
    route!(
        "POST",
        "/v1/invoices/{invoice_id}/void",
        app.send(
            &acme,
            Method::POST,
            &format!("/v1/invoices/{second}/void"),
            None
        )
        .await
    );
    let draft = app.invoice(&acme, customer, &[("1", "1.00", "0")]).await;
    let spare = app.customer(&acme, "Spare").await;
    log.new_statements(&db);
    route!(
        "DELETE",
        "/v1/invoices/{invoice_id}",
        app.delete(&acme, &format!("/v1/invoices/{}", draft["id"]))
            .await
    );
    route!(
        "DELETE",
        "/v1/customers/{customer_id}",
        app.delete(&acme, &format!("/v1/customers/{spare}")).await
    );
    route!(
        "GET",
        "/ready",
        app.call(actix_web::test::TestRequest::get().uri("/ready"))
            .await
    );
    route!(
        "GET",
        "/health",
        app.call(actix_web::test::TestRequest::get().uri("/health"))
            .await
    );

    eprintln!("{}", report.join("\n"));
    let api = app
        .call(actix_web::test::TestRequest::get().uri("/openapi.json"))
        .await;
    let documented = crate::openapi::documented_operations(api.ok(200));
    let missed: Vec<_> = documented.difference(&exercised).collect();
    assert!(missed.is_empty(), "routes not exercised: {missed:?}");
}
