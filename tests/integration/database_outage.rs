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

/// A private cluster on TCP (so that libpq's messages would carry a host and
/// port), set up and migrated, with account `acme`; returns it, its data
/// options, the app's and the owner's URLs, and acme's key.
fn private_cluster(name: &str) -> (LocalPostgres, String, String, String) {
    let binaries = Binaries::locate().unwrap();
    let dir = server().run_dir().join(name);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = ClusterOptions {
        data_dir: dir.join("data"),
        log_file: dir.join("postgres.log"),
        listen: Listen::Tcp(port),
        durable: false,
        superuser_password: Some("superuser-test-password".into()),
    };
    let postgres = LocalPostgres::start(&binaries, options).unwrap();
    run_setup_script(
        &binaries,
        &postgres.url(SUPERUSER, Some("superuser-test-password"), "postgres"),
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
    (postgres, app_url, owner_url, key.secret)
}

/// Stops (or resumes) every process of the cluster, as a stalled disk or a
/// network that swallows packets would: the postmaster and its children
/// (each backend leads a process group of its own, so the postmaster's
/// group is not enough).
fn freeze(postgres: &LocalPostgres, signal: libc::c_int) {
    let postmaster = postgres.pid().unwrap() as libc::pid_t;
    // The postmaster first: stopped, it forks no backend that the scan
    // below would miss (the pool may be opening connections right now).
    // SAFETY: signalling a server we started.
    unsafe { libc::kill(postmaster, signal) };
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<libc::pid_t>() else {
            continue;
        };
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let parent = status
            .lines()
            .find_map(|line| line.strip_prefix("PPid:"))
            .and_then(|ppid| ppid.trim().parse::<libc::pid_t>().ok());
        if parent == Some(postmaster) {
            pids.push(pid);
        }
    }
    for pid in pids {
        // SAFETY: signalling processes of a server we started.
        unsafe { libc::kill(pid, signal) };
    }
}

/// The cluster stopped, until dropped (also when a test fails).
struct Frozen<'a>(&'a LocalPostgres);

impl<'a> Frozen<'a> {
    fn new(postgres: &'a LocalPostgres) -> Self {
        freeze(postgres, libc::SIGSTOP);
        Self(postgres)
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        freeze(self.0, libc::SIGCONT);
    }
}

/// What a 503 body must never hold: where the database is, or libpq's words.
#[track_caller]
fn assert_tells_nothing_of_the_database(text: &str, port: &str) {
    for secret in [
        "127.0.0.1",
        port,
        "postgres",
        "libpq",
        "connection to server",
        "invoiced_app",
    ] {
        assert!(
            !text.to_lowercase().contains(&secret.to_lowercase()),
            "{secret:?} in a response body: {text}"
        );
    }
}

#[actix_web::test]
async fn a_frozen_database_gets_503_within_the_timeouts_and_the_service_recovers() {
    let (postgres, app_url, owner_url, key) = private_cluster("frozen");
    let port = app_url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap()
        .to_owned();
    let mut config = config_for(app_url, owner_url, false);
    config.pool.max_size = 4;
    config.pool.min_idle = 4;
    config.pool.timeout = Duration::from_millis(500);
    config.pool.statement_timeout = Duration::from_millis(1000);
    let bound = Duration::from_millis(500 + 1000 + 1000);
    let app = spawn_with(None, config).await;
    let tenant = |request: TestRequest| {
        request
            .insert_header(("X-Account-Id", "acme"))
            .insert_header(("Authorization", format!("Bearer {key}")))
    };
    app.call(tenant(TestRequest::get().uri("/v1/customers")))
        .await
        .ok(200);

    let frozen = Frozen::new(&postgres);
    // More requests than connections, reads and writes: every one is
    // answered 503 in time, none hangs.
    let requests = (0..12).map(|n| {
        let request = if n % 3 == 0 {
            tenant(TestRequest::post().uri("/v1/customers"))
                .set_json(serde_json::json!({"name": format!("Frozen {n}")}))
        } else {
            tenant(TestRequest::get().uri("/v1/customers"))
        };
        async {
            let started = Instant::now();
            let reply = app.call(request).await;
            (reply, started.elapsed())
        }
    });
    let replies = actix_web::rt::time::timeout(bound * 4, join_all(requests))
        .await
        .expect("requests hung on the frozen database");
    let ready = app.call(TestRequest::get().uri("/ready")).await;
    drop(frozen);
    for (reply, waited) in &replies {
        reply.problem(503);
        assert!(reply.header("retry-after").is_some());
        assert!(
            waited <= &bound,
            "answered after {waited:?}, bound {bound:?}"
        );
        assert_tells_nothing_of_the_database(&reply.text, &port);
    }
    ready.problem(503);
    assert_tells_nothing_of_the_database(&ready.text, &port);

    // Resumed: the service serves again without a restart, and the creates
    // answered 503 did nothing.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = app
            .call(tenant(TestRequest::get().uri("/v1/customers")))
            .await;
        if reply.status == 200 {
            assert_eq!(reply.body["data"], serde_json::json!([]), "{}", reply.text);
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {}", reply.text);
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    app.call(TestRequest::get().uri("/ready")).await.ok(200);
}

#[actix_web::test]
async fn a_request_blocked_by_a_lock_gets_503_in_time_while_others_are_served() {
    let db = TestDatabase::new();
    let mut config = test_config(&db, true);
    config.pool.timeout = Duration::from_millis(500);
    config.pool.statement_timeout = Duration::from_millis(800);
    let app = spawn_with(Some(db), config).await;
    let acme = app.tenant("acme").await;
    app.customer(&acme, "Ann").await;

    // Another client holds the customers table.
    let mut holder = app.db().owner_conn();
    holder
        .batch_execute("BEGIN; LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let started = Instant::now();
    let blocked = app.get(&acme, "/v1/customers").await;
    let waited = started.elapsed();
    let problem = blocked.problem(503);
    assert!(blocked.header("retry-after").is_some());
    assert!(
        problem["detail"].as_str().unwrap().contains("locked"),
        "{problem}"
    );
    assert!(
        waited < Duration::from_millis(500 + 800 + 1000),
        "answered after {waited:?}"
    );
    // Requests that do not need the table are served meanwhile.
    app.get(&acme, "/v1/invoices").await.ok(200);
    holder.batch_execute("COMMIT").unwrap();
    app.get(&acme, "/v1/customers").await.ok(200);
}
