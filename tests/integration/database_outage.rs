//! When the database goes away, or every connection is busy, the service
//! answers 503 quickly; when it comes back the service recovers without a
//! restart; a connection the server dropped never fails a request.

use std::time::{Duration, Instant};

use actix_web::test::TestRequest;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use invoiced::domain::{AccountId, Name};
use invoiced::local_postgres::{Binaries, ClusterOptions, Listen, LocalPostgres, SUPERUSER};

use futures_util::future::join_all;

use crate::harness::TestDatabase;
use crate::harness::app::{config_for, spawn, spawn_with, test_config};
use crate::harness::server::{APP_PASSWORD, OWNER_PASSWORD, run_setup_script, server};

#[actix_web::test]
async fn a_stopped_database_gives_503_quickly_and_the_service_recovers_when_it_returns() {
    let binaries = Binaries::locate().unwrap();
    let dir = server().run_dir().join("outage");
    let options = ClusterOptions {
        data_dir: dir.join("data"),
        log_file: dir.join("postgres.log"),
        listen: Listen::Socket(dir.clone()),
        durable: false,
        superuser_password: None,
    };
    let mut postgres = LocalPostgres::start(&binaries, options.clone()).unwrap();
    run_setup_script(
        &binaries,
        &postgres.url(SUPERUSER, None, "postgres"),
        "invoiced",
    );
    let owner_url = postgres.url("invoiced_owner", Some(OWNER_PASSWORD), "invoiced");
    let app_url = postgres.url("invoiced_app", Some(APP_PASSWORD), "invoiced");
    let mut owner = PgConnection::establish(&owner_url).unwrap();
    invoiced::db::migrations::run_pending(&mut owner).unwrap();
    let account = AccountId::parse("acme").unwrap();
    let (_, key) =
        invoiced::admin::create_account(&mut owner, &account, &Name::parse("Acme").unwrap())
            .unwrap()
            .unwrap();
    drop(owner);

    let mut config = config_for(app_url, owner_url, false);
    config.pool.timeout = Duration::from_millis(500);
    let app = spawn_with(None, config).await;
    let customers = || {
        TestRequest::get()
            .uri("/v1/customers")
            .insert_header(("X-Account-Id", "acme"))
            .insert_header(("Authorization", format!("Bearer {}", key.secret)))
    };
    app.call(customers()).await.ok(200);

    postgres.stop();
    let started = Instant::now();
    let reply = app.call(customers()).await;
    let waited = started.elapsed();
    let problem = reply.problem(503);
    assert_eq!(problem["type"], "urn:invoiced:problem:service-unavailable");
    assert!(
        reply.header("retry-after").is_some(),
        "503 without Retry-After"
    );
    assert!(
        waited < Duration::from_secs(3),
        "took {waited:?} with a 500 ms pool timeout"
    );
    app.call(TestRequest::get().uri("/ready"))
        .await
        .problem(503);
    app.call(TestRequest::get().uri("/health")).await.ok(200);

    let _postgres = LocalPostgres::start(&binaries, options).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = app.call(customers()).await;
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 503, "{}", reply.text);
        assert!(
            Instant::now() < deadline,
            "the service did not recover: {}",
            reply.text
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    app.call(TestRequest::get().uri("/ready")).await.ok(200);
}

/// Ends every connection the app has open to its database, as a restarted
/// server or an idle-connection killer would.
fn drop_app_connections(app_db: &crate::harness::database::TestDatabase) -> i64 {
    crate::harness::scalar(
        &mut app_db.superuser_conn(),
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
         WHERE usename = 'invoiced_app' AND datname = current_database()",
    )
    .as_i64()
    .unwrap()
}

#[actix_web::test]
async fn a_pooled_connection_the_server_dropped_is_replaced_before_a_request_uses_it() {
    let app = spawn().await;
    let acme = app.tenant("acme").await;
    // Concurrent requests, so that the pool opens several connections.
    let replies = join_all((0..8).map(|_| app.get(&acme, "/v1/customers"))).await;
    assert!(replies.iter().all(|reply| reply.status == 200));
    assert!(drop_app_connections(app.db()) >= 1);
    // Every request lands on a connection the server has closed, and still
    // succeeds: its first statement found the connection dead, and it was
    // replaced before anything of the request ran.
    let replies = join_all((0..8).map(|_| app.get(&acme, "/v1/customers"))).await;
    for reply in &replies {
        reply.ok(200);
    }
    for _ in 0..8 {
        app.get(&acme, "/v1/customers").await.ok(200);
    }
}

#[actix_web::test]
async fn without_the_checkout_check_a_dropped_connection_fails_one_request_with_503() {
    let db = TestDatabase::new();
    let mut config = test_config(&db, true);
    config.pool.max_size = 1;
    config.pool.min_idle = 1;
    config.pool.test_on_checkout = false;
    let app = spawn_with(Some(db), config).await;
    let acme = app.tenant("acme").await;
    app.get(&acme, "/v1/customers").await.ok(200);
    assert_eq!(drop_app_connections(app.db()), 1);
    let reply = app.get(&acme, "/v1/customers").await;
    assert!(reply.header("retry-after").is_some());
    reply.problem(503);
    // The broken connection is not reused: the next request gets a new one.
    app.get(&acme, "/v1/customers").await.ok(200);
}

#[actix_web::test]
async fn with_every_connection_busy_a_request_gets_503_after_the_pool_timeout() {
    let db = TestDatabase::new();
    let mut config = test_config(&db, true);
    config.pool.max_size = 1;
    config.pool.min_idle = 1;
    config.pool.timeout = Duration::from_millis(300);
    let app = spawn_with(Some(db), config).await;
    let acme = app.tenant("acme").await;
    let customer = app.customer(&acme, "Ann").await;

    // The pool's one connection waits on a row lock inside a PATCH.
    let mut blocker = app.db().owner_conn();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT * FROM customers WHERE account_id = 'acme' AND id = {customer} FOR UPDATE"
        ))
        .unwrap();
    let path = format!("/v1/customers/{customer}");
    let patch = app.patch(&acme, &path, serde_json::json!({"name": "Ann B"}));
    let probe = async {
        let mut watcher = app.db().superuser_conn();
        while crate::harness::scalar(
            &mut watcher,
            "SELECT count(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        ) != 1
        {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        let started = Instant::now();
        let reply = app.get(&acme, "/v1/customers").await;
        let waited = started.elapsed();
        blocker.batch_execute("COMMIT").unwrap();
        (reply, waited)
    };
    let (patched, (busy, waited)) = futures_util::future::join(patch, probe).await;

    let problem = busy.problem(503);
    assert!(
        problem["detail"].as_str().unwrap().contains("busy"),
        "{problem}"
    );
    assert!(busy.header("retry-after").is_some());
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "answered after {waited:?} with a 300 ms pool timeout"
    );
    // The request that held the connection finishes, and the pool serves again.
    assert_eq!(patched.ok(200)["name"], "Ann B");
    app.get(&acme, "/v1/customers").await.ok(200);
}
