//! The real application in-process: `build_app` (what `serve` runs) over a
//! test database, the service connecting as `invoiced_app` and admin as
//! `invoiced_owner`, driven through actix's test service.

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use serde_json::Value;

use invoiced::config::{Config, DatabaseUrls, PoolConfig, WebhookConfig};
use invoiced::http::{PROBLEM_JSON, build_app};

use super::TestDatabase;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// An account and a working key of it.
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub account: String,
    pub key: String,
}

impl TestTenant {
    /// A request as this tenant (account header and key), for a test to
    /// add its own headers or body to.
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest::default()
            .method(method)
            .uri(path)
            .insert_header(("X-Account-Id", self.account.as_str()))
            .insert_header(("Authorization", format!("Bearer {}", self.key)))
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
    /// The body as sent (a PDF, say).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with this status, returning its body.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "expected {status}, got {}: {}",
            self.status, self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some(PROBLEM_JSON),
            "{}",
            self.text
        );
        for member in ["type", "title", "detail"] {
            assert!(
                self.body[member].is_string(),
                "no {member} in {}",
                self.text
            );
        }
        assert!(
            self.body["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:invoiced:problem:")
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        &self.body
    }

    /// Asserts a success with this status, returning the body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "expected {status}, got {}: {}",
            self.status, self.text
        );
        &self.body
    }
}

/// The seller profile test accounts get: enough to issue invoices.
pub fn seller_profile(account: &str) -> Value {
    serde_json::json!({
        "legal_name": format!("{account} GmbH"),
        "address": {"line1": "Musterweg 5", "postal_code": "80331", "city": "München", "country": "DE"},
        "vat_id": "DE123456789",
        "email": "billing@example.com",
        "iban": "DE89370400440532013000",
    })
}

/// Configuration for a test app: what `serve` would read, with a short pool timeout.
pub fn test_config(db: &TestDatabase, admin: bool) -> Config {
    config_for(db.app_url(), db.owner_url(), admin)
}

pub fn config_for(app_url: String, owner_url: String, admin: bool) -> Config {
    Config {
        database: DatabaseUrls {
            app: Some(app_url),
            owner: Some(owner_url),
        },
        bind_addr: "127.0.0.1:0".parse().unwrap(),
        pool: PoolConfig {
            max_size: 8,
            min_idle: 1,
            timeout: std::time::Duration::from_millis(2000),
            max_lifetime: std::time::Duration::from_secs(3600),
            idle_timeout: std::time::Duration::from_secs(600),
            test_on_checkout: true,
            statement_timeout: std::time::Duration::from_secs(10),
            prepared_statements: !crate::harness::server::through_pgbouncer(),
        },
        auto_migrate: false,
        admin_token: admin.then(|| ADMIN_TOKEN.to_owned()),
        request_body_limit: 262_144,
        metrics_bind_addr: None,
        // The tests that deliver start a sender of their own.
        webhooks: WebhookConfig {
            workers: 0,
            allow_insecure: true,
            event_retention_days: 90,
        },
    }
}

pub struct TestApp<S> {
    // Dropped in this order: the app and its pool before the database.
    service: S,
    /// The test's database (absent when the test brought its own server).
    database: Option<TestDatabase>,
}

/// The app over a fresh database, with admin enabled.
pub async fn spawn() -> TestApp<
    impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
> {
    let db = TestDatabase::new();
    let config = test_config(&db, true);
    spawn_with(Some(db), config).await
}

pub async fn spawn_with(
    database: Option<TestDatabase>,
    config: Config,
) -> TestApp<
    impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
> {
    spawn_with_state(database, config, |_| {}).await
}

/// The app with its state adjusted first (a webhook policy of the test's).
pub async fn spawn_with_state(
    database: Option<TestDatabase>,
    config: Config,
    adjust: impl FnOnce(&mut invoiced::http::AppState),
) -> TestApp<
    impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
> {
    let mut state = invoiced::http::app_state(&config).expect("a valid configuration");
    adjust(&mut state);
    let service = test::init_service(build_app(web::Data::new(state))).await;
    TestApp { service, database }
}

impl<S, B> TestApp<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    pub fn db(&self) -> &TestDatabase {
        self.database
            .as_ref()
            .expect("this app runs over a TestDatabase")
    }

    pub async fn call(&self, request: TestRequest) -> Reply {
        let response = test::call_service(&self.service, request.to_request()).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = test::read_body(response).await;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
            bytes: bytes.to_vec(),
        }
    }

    /// A request as `tenant` (account header and key), with a JSON body when given.
    pub async fn send(
        &self,
        tenant: &TestTenant,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = tenant.request(method, path);
        if let Some(body) = body {
            request = request.set_json(body);
        }
        self.call(request).await
    }

    pub async fn get(&self, tenant: &TestTenant, path: &str) -> Reply {
        self.send(tenant, Method::GET, path, None).await
    }

    pub async fn post(&self, tenant: &TestTenant, path: &str, body: Value) -> Reply {
        self.send(tenant, Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, tenant: &TestTenant, path: &str, body: Value) -> Reply {
        self.send(tenant, Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, tenant: &TestTenant, path: &str) -> Reply {
        self.send(tenant, Method::DELETE, path, None).await
    }

    /// A request to /admin with the admin token.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = TestRequest::default()
            .method(method)
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {ADMIN_TOKEN}")));
        if let Some(body) = body {
            request = request.set_json(body);
        }
        self.call(request).await
    }

    /// A new account, created through the admin API, with its first key.
    pub async fn tenant(&self, account: &str) -> TestTenant {
        let reply = self
            .admin(
                Method::POST,
                "/admin/accounts",
                Some(serde_json::json!({"id": account, "name": format!("{account} Ltd")})),
            )
            .await;
        let body = reply.ok(201);
        let tenant = TestTenant {
            account: account.to_owned(),
            key: body["api_key"]["key"]
                .as_str()
                .expect("the first key is shown")
                .to_owned(),
        };
        // A seller its invoices can be issued by.
        self.patch(&tenant, "/v1/account", seller_profile(account))
            .await
            .ok(200);
        tenant
    }

    /// A new account with no profile beyond its name.
    pub async fn bare_tenant(&self, account: &str) -> TestTenant {
        let reply = self
            .admin(
                Method::POST,
                "/admin/accounts",
                Some(serde_json::json!({"id": account, "name": format!("{account} Ltd")})),
            )
            .await;
        TestTenant {
            account: account.to_owned(),
            key: reply.ok(201)["api_key"]["key"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates a customer (with a billing address, so that its invoices can
    /// be issued) and returns its id.
    pub async fn customer(&self, tenant: &TestTenant, name: &str) -> i64 {
        let reply = self
            .post(
                tenant,
                "/v1/customers",
                serde_json::json!({"name": name, "billing_address": {
                    "line1": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}}),
            )
            .await;
        reply.ok(201)["id"].as_i64().unwrap()
    }
}

impl<S, B> TestApp<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// Creates a draft invoice for `customer` with lines of
    /// (quantity, unit_price, tax_rate); returns its body.
    pub async fn invoice(
        &self,
        tenant: &TestTenant,
        customer: i64,
        lines: &[(&str, &str, &str)],
    ) -> Value {
        let items: Vec<Value> = lines
            .iter()
            .enumerate()
            .map(|(n, (quantity, price, rate))| {
                serde_json::json!({"description": format!("line {n}"), "quantity": quantity, "unit_price": price, "tax_rate": rate})
            })
            .collect();
        let reply = self
            .post(
                tenant,
                "/v1/invoices",
                serde_json::json!({"customer_id": customer, "currency": "EUR", "items": items}),
            )
            .await;
        reply.ok(201).clone()
    }

    /// An issued invoice with one line worth `total` (no tax); returns its id.
    pub async fn issued_invoice(&self, tenant: &TestTenant, total: &str) -> i64 {
        let customer = self.customer(tenant, "Payer").await;
        let invoice = self.invoice(tenant, customer, &[("1", total, "0")]).await;
        let id = invoice["id"].as_i64().unwrap();
        self.send(
            tenant,
            Method::POST,
            &format!("/v1/invoices/{id}/issue"),
            None,
        )
        .await
        .ok(200);
        id
    }

    /// Rows in `table` (counted as the owner, across accounts).
    pub fn count(&self, table: &str) -> i64 {
        super::scalar(
            &mut self.db().owner_conn(),
            &format!("SELECT count(*) AS n FROM {table}"),
        )
        .as_i64()
        .unwrap()
    }
}
