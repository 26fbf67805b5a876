//! The five scenarios: what wrk sends to the service, and the pgbench
//! script of the SQL the service sends to PostgreSQL for the same request.

use crate::dataset::{CUSTOMERS_PER_ACCOUNT, LARGE_ACCOUNT_CUSTOMERS, Tenant};
use crate::load::WRK_REPORT;

pub struct Scenario {
    pub number: usize,
    pub name: &'static str,
    /// The wrk script (the request; the report is appended).
    pub lua: String,
    /// pgbench scripts, run equally weighted.
    pub sql: Vec<String>,
}

fn lua(body: String) -> String {
    format!("{body}\n{WRK_REPORT}")
}

fn tenant_headers(tenant: &Tenant) -> String {
    format!(
        "wrk.headers[\"X-Account-Id\"] = \"{}\"\nwrk.headers[\"Authorization\"] = \"Bearer {}\"\n",
        tenant.account, tenant.key
    )
}

/// What every tenant transaction starts with: the tenant setting, then the
/// key check.
fn tenant_check(tenant: &Tenant) -> String {
    format!(
        r#"BEGIN;
SELECT set_config('app.account_id', '{account}', true);
SELECT "api_keys"."id", "api_keys"."key_hash", coalesce(last_used_at < now() - interval '1 minute', true) FROM "api_keys" WHERE ((("api_keys"."account_id" = '{account}') AND ("api_keys"."prefix" = '{prefix}')) AND ("api_keys"."revoked_at" IS NULL));
"#,
        account = tenant.account,
        prefix = tenant.key_prefix(),
    )
}

/// Scenario 1: one invoice of the large account, with its items.
pub fn get_invoice(large: &Tenant, invoices: i64) -> Scenario {
    let account = &large.account;
    Scenario {
        number: 1,
        name: "GET /v1/invoices/{id}",
        lua: lua(format!(
            "{}local invoices = {invoices}\n\
             request = function()\n  \
               return wrk.format(\"GET\", \"/v1/invoices/\" .. math.random(1, invoices))\n\
             end\n",
            tenant_headers(large)
        )),
        sql: vec![format!(
            r#"\set id random(1, {invoices})
{check}SELECT "invoices"."account_id", "invoices"."id", "invoices"."customer_id", "invoices"."number", "invoices"."status", "invoices"."currency", "invoices"."issue_date", "invoices"."due_date", "invoices"."notes", "invoices"."created_at", "invoices"."updated_at", (SELECT sum(p.amount) FROM payments p WHERE p.account_id = invoices.account_id AND p.invoice_id = invoices.id) FROM "invoices" WHERE (("invoices"."account_id" = '{account}') AND ("invoices"."id" = :id)) LIMIT 1;
SELECT "invoice_items"."account_id", "invoice_items"."id", "invoice_items"."invoice_id", "invoice_items"."position", "invoice_items"."description", "invoice_items"."quantity", "invoice_items"."unit_price", "invoice_items"."tax_rate", "invoice_items"."subtotal", "invoice_items"."tax", "invoice_items"."created_at" FROM "invoice_items" WHERE (("invoice_items"."account_id" = '{account}') AND ("invoice_items"."invoice_id" = :id)) ORDER BY "invoice_items"."position", "invoice_items"."id";
COMMIT;
"#,
            check = tenant_check(large),
        )],
    }
}

/// Scenario 2: a page of 50 invoices of the large account after a random
/// cursor.
pub fn list_invoices(large: &Tenant, invoices: i64) -> Scenario {
    let account = &large.account;
    Scenario {
        number: 2,
        name: "GET /v1/invoices?limit=50&after=",
        lua: lua(format!(
            "{}local invoices = {invoices}\n\
             request = function()\n  \
               return wrk.format(\"GET\", \"/v1/invoices?limit=50&after=\" .. math.random(0, invoices - 50))\n\
             end\n",
            tenant_headers(large)
        )),
        sql: vec![format!(
            r#"\set after random(0, {invoices} - 50)
{check}SELECT "invoices"."account_id", "invoices"."id", "invoices"."customer_id", "invoices"."number", "invoices"."status", "invoices"."currency", "invoices"."issue_date", "invoices"."due_date", "invoices"."notes", "invoices"."created_at", "invoices"."updated_at", (SELECT ROW(sum(l.subtotal), sum(l.tax)) FROM invoice_items l WHERE l.account_id = invoices.account_id AND l.invoice_id = invoices.id), (SELECT sum(p.amount) FROM payments p WHERE p.account_id = invoices.account_id AND p.invoice_id = invoices.id) FROM "invoices" WHERE (("invoices"."account_id" = '{account}') AND ("invoices"."id" > :after)) ORDER BY "invoices"."id" LIMIT 51;
COMMIT;
"#,
            check = tenant_check(large),
        )],
    }
}

/// Scenario 3: a new invoice with 5 items in the large account.
pub fn create_invoice(large: &Tenant) -> Scenario {
    let account = &large.account;
    let customers = LARGE_ACCOUNT_CUSTOMERS;
    let item_values: Vec<String> = (1..=5)
        .map(|p| format!("('{account}', :id, {p}, 'Consulting, phase {p}', :quantity, :price, 19)"))
        .collect();
    Scenario {
        number: 3,
        name: "POST /v1/invoices (5 items)",
        lua: lua(format!(
            r#"{headers}wrk.headers["Content-Type"] = "application/json"
local customers = {customers}
request = function()
  local items = {{}}
  for p = 1, 5 do
    items[p] = string.format(
      '{{"description":"Consulting, phase %d","quantity":"%d.5","unit_price":"%d.%02d","tax_rate":"19"}}',
      p, math.random(1, 9), math.random(10, 999), math.random(0, 99))
  end
  local body = string.format(
    '{{"customer_id":%d,"currency":"EUR","issue_date":"2026-11-02","due_date":"2026-12-02","items":[%s]}}',
    math.random(1, customers), table.concat(items, ","))
  return wrk.format("POST", "/v1/invoices", nil, body)
end
"#,
            headers = tenant_headers(large),
        )),
        sql: vec![format!(
            r#"\set customer random(1, {customers})
\set quantity random(1, 9)
\set price random(1000, 99999)
{check}INSERT INTO "invoices" ("account_id", "customer_id", "number", "currency", "issue_date", "due_date", "notes") VALUES ('{account}', :customer, NULL, 'EUR', '2026-11-02', '2026-12-02', NULL) RETURNING "invoices"."account_id", "invoices"."id", "invoices"."customer_id", "invoices"."number", "invoices"."status", "invoices"."currency", "invoices"."issue_date", "invoices"."due_date", "invoices"."notes", "invoices"."created_at", "invoices"."updated_at" \gset
INSERT INTO "invoice_items" ("account_id", "invoice_id", "position", "description", "quantity", "unit_price", "tax_rate") VALUES {values} RETURNING "invoice_items"."account_id", "invoice_items"."id", "invoice_items"."invoice_id", "invoice_items"."position", "invoice_items"."description", "invoice_items"."quantity", "invoice_items"."unit_price", "invoice_items"."tax_rate", "invoice_items"."subtotal", "invoice_items"."tax", "invoice_items"."created_at";
COMMIT;
"#,
            check = tenant_check(large),
            values = item_values.join(", "),
        )],
    }
}

/// Scenario 4: a payment of 0.01 on a random issued invoice of the large
/// account.
pub fn record_payment(large: &Tenant, invoices: i64) -> Scenario {
    let account = &large.account;
    Scenario {
        number: 4,
        name: "POST /v1/invoices/{id}/payments",
        lua: lua(format!(
            r#"{headers}wrk.headers["Content-Type"] = "application/json"
local invoices = {invoices}
request = function()
  -- ids ending in 0 are drafts and in 1 paid: move to the next issued one
  local id = math.random(1, invoices - 10)
  local last = id % 10
  if last < 2 then id = id + 2 - last end
  return wrk.format("POST", "/v1/invoices/" .. id .. "/payments", nil,
    '{{"amount":"0.01","method":"card","reference":"wrk"}}')
end
"#,
            headers = tenant_headers(large),
        )),
        sql: vec![format!(
            r#"\set n random(1, {invoices} - 10)
\set id :n + case when :n % 10 < 2 then 2 - :n % 10 else 0 end
{check}SELECT "invoices"."account_id", "invoices"."id", "invoices"."customer_id", "invoices"."number", "invoices"."status", "invoices"."currency", "invoices"."issue_date", "invoices"."due_date", "invoices"."notes", "invoices"."created_at", "invoices"."updated_at" FROM "invoices" WHERE (("invoices"."account_id" = '{account}') AND ("invoices"."id" = :id)) LIMIT 1 FOR UPDATE;
SELECT (SELECT ROW(sum(l.subtotal), sum(l.tax)) FROM invoice_items l WHERE l.account_id = invoices.account_id AND l.invoice_id = invoices.id), (SELECT sum(p.amount) FROM payments p WHERE p.account_id = invoices.account_id AND p.invoice_id = invoices.id) FROM "invoices" WHERE (("invoices"."account_id" = '{account}') AND ("invoices"."id" = :id)) LIMIT 1;
INSERT INTO "payments" ("account_id", "invoice_id", "amount", "method", "reference") VALUES ('{account}', :id, 0.01, 'card', 'wrk') RETURNING "payments"."account_id", "payments"."id", "payments"."invoice_id", "payments"."amount", "payments"."paid_at", "payments"."method", "payments"."reference", "payments"."created_at";
COMMIT;
"#,
            check = tenant_check(large),
        )],
    }
}

/// Scenario 5: a customer of any of the 100 accounts.
pub fn get_customer(tenants: &[Tenant]) -> Scenario {
    let table: Vec<String> = tenants
        .iter()
        .map(|t| format!("  {{\"{}\", \"Bearer {}\"}},", t.account, t.key))
        .collect();
    Scenario {
        number: 5,
        name: "GET /v1/customers/{id} (100 accounts)",
        lua: lua(format!(
            r#"local tenants = {{
{table}
}}
local customers = {CUSTOMERS_PER_ACCOUNT}
request = function()
  local tenant = tenants[math.random(#tenants)]
  return wrk.format("GET", "/v1/customers/" .. math.random(1, customers),
    {{["X-Account-Id"] = tenant[1], ["Authorization"] = tenant[2]}})
end
"#,
            table = table.join("\n"),
        )),
        // One script per account (pgbench picks one at random for each
        // transaction), each with its account's key.
        sql: tenants
            .iter()
            .map(|tenant| {
                format!(
                    r#"\set id random(1, {CUSTOMERS_PER_ACCOUNT})
{check}SELECT "customers"."account_id", "customers"."id", "customers"."name", "customers"."email", "customers"."phone", "customers"."address", "customers"."tax_id", "customers"."created_at", "customers"."updated_at" FROM "customers" WHERE (("customers"."account_id" = '{account}') AND ("customers"."id" = :id)) LIMIT 1;
COMMIT;
"#,
                    check = tenant_check(tenant),
                    account = tenant.account,
                )
            })
            .collect(),
    }
}
