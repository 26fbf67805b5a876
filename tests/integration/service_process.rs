//! `invoiced` as a process: serve's shutdown and access log, start-up
//! configuration errors, and the account and key commands.

use std::thread;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;

use crate::harness::http_client::request;
use crate::harness::process::RunningService;
use crate::harness::{TestDatabase, execute, invoiced, output_within, scalar};

/// A database with account `acme`; returns its key.
pub(crate) fn with_acme(db: &TestDatabase) -> String {
    let output = output_within(
        invoiced()
            .args(["accounts", "create", "acme", "--name", "Acme Ltd"])
            .env("DATABASE_URL", db.owner_url()),
        Duration::from_secs(60),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout
        .lines()
        .find(|line| line.starts_with("inv_"))
        .unwrap_or_else(|| panic!("no key in: {stdout}"))
        .to_owned()
}

fn serve(db: &TestDatabase) -> RunningService {
    RunningService::start(
        invoiced()
            .arg("serve")
            .env("DATABASE_URL", db.app_url())
            .env("MIGRATION_DATABASE_URL", db.owner_url())
            .env("BIND_ADDR", "127.0.0.1:0"),
    )
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_zero() {
    a_signal_lets_the_request_in_flight_finish_then_exits_zero(libc::SIGTERM);
}

#[test]
fn sigint_is_as_graceful_as_sigterm() {
    a_signal_lets_the_request_in_flight_finish_then_exits_zero(libc::SIGINT);
}

fn a_signal_lets_the_request_in_flight_finish_then_exits_zero(signal: libc::c_int) {
    let db = TestDatabase::new();
    let key = with_acme(&db);
    execute(
        &mut db.owner_conn(),
        "INSERT INTO customers (account_id, name) VALUES ('acme', 'Ann')",
    );
    let mut service = serve(&db);
    let address = service.address;

    // Hold the customer's row so that the PATCH below waits inside its transaction.
    let mut blocker = db.owner_conn();
    blocker
        .batch_execute(
            "BEGIN; SELECT * FROM customers WHERE account_id = 'acme' AND id = 1 FOR UPDATE",
        )
        .unwrap();
    let in_flight = {
        let key = key.clone();
        thread::spawn(move || {
            request(
                address,
                "PATCH",
                "/v1/customers/1",
                &[
                    ("X-Account-Id", "acme"),
                    ("Authorization", &format!("Bearer {key}")),
                ],
                Some(r#"{"name": "Ann Changed"}"#),
            )
        })
    };
    // In flight for sure: its transaction waits for the row lock.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut watcher = db.superuser_conn();
    while scalar(
        &mut watcher,
        "SELECT count(*) AS waiting FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    ) != 1
    {
        assert!(
            Instant::now() < deadline,
            "the PATCH never reached the database"
        );
        thread::sleep(Duration::from_millis(20));
    }
    service.signal(signal);
    thread::sleep(Duration::from_millis(500));
    assert!(
        !in_flight.is_finished(),
        "answered before the row was released"
    );
    // Stopped accepting: new connections are refused while the old one finishes.
    assert!(
        request(address, "GET", "/health", &[], None).is_err(),
        "still accepting after the signal"
    );
    blocker.batch_execute("COMMIT").unwrap();

    let reply = in_flight
        .join()
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["name"], "Ann Changed");
    let status = service.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{}", service.output());
}

#[test]
fn every_request_gets_one_access_log_line_without_the_key() {
    let db = TestDatabase::new();
    let key = with_acme(&db);
    let mut service = serve(&db);
    let auth = format!("Bearer {key}");
    let reply = request(
        service.address,
        "GET",
        "/v1/customers?q=secret-search",
        &[
            ("X-Account-Id", "acme"),
            ("Authorization", &auth),
            ("X-Request-Id", "req-123"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .head
            .to_ascii_lowercase()
            .contains("x-request-id: req-123")
    );
    let unauthorized = request(
        service.address,
        "GET",
        "/v1/customers",
        &[("X-Account-Id", "acme")],
        None,
    )
    .unwrap();
    assert_eq!(unauthorized.status, 401);
    service.signal(libc::SIGTERM);
    service.wait(Duration::from_secs(30));

    let output = service.output();
    let lines: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("invoiced::access"))
        .collect();
    assert_eq!(lines.len(), 2, "{output}");
    let line = lines[0];
    for part in [
        "GET /v1/customers 200 ",
        "ms account=acme request_id=req-123",
    ] {
        assert!(line.contains(part), "{part:?} not in {line}");
    }
    assert!(
        !line.contains("secret-search"),
        "the query string is not logged: {line}"
    );
    assert!(
        lines[1].contains("GET /v1/customers 401 ") && lines[1].contains("account=-"),
        "{}",
        lines[1]
    );
    assert!(!output.contains(&key), "the key was logged");
}

#[test]
fn bad_configuration_stops_start_up_with_status_2_naming_the_variable() {
    let db = TestDatabase::new();
    let cases = [
        (vec![], "DATABASE_URL"),
        (
            vec![
                ("DATABASE_URL", db.app_url()),
                ("DB_POOL_MAX_SIZE", "many".into()),
            ],
            "DB_POOL_MAX_SIZE",
        ),
        (
            vec![
                ("DATABASE_URL", db.app_url()),
                ("BIND_ADDR", "nowhere".into()),
            ],
            "BIND_ADDR",
        ),
        (
            vec![
                ("DATABASE_URL", db.app_url()),
                ("AUTO_MIGRATE", "perhaps".into()),
            ],
            "AUTO_MIGRATE",
        ),
        (
            vec![
                ("DATABASE_URL", db.app_url()),
                ("ADMIN_TOKEN", "short".into()),
            ],
            "ADMIN_TOKEN",
        ),
        // Admin spans accounts: it needs the owner, which bypasses row-level security.
        (
            vec![
                ("DATABASE_URL", db.app_url()),
                ("ADMIN_TOKEN", "long-enough-admin-token".into()),
            ],
            "MIGRATION_DATABASE_URL",
        ),
    ];
    for (vars, named) in cases {
        let mut command = invoiced();
        command.arg("serve");
        for (var, value) in &vars {
            command.env(var, value);
        }
        let output = output_within(&mut command, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{named}: {stderr}");
        assert!(stderr.contains(named), "{named} not named: {stderr}");
    }
}

#[test]
fn auto_migrate_applies_pending_migrations_at_start() {
    let db = TestDatabase::unmigrated();
    let mut service = RunningService::start(
        invoiced()
            .arg("serve")
            .env("DATABASE_URL", db.app_url())
            .env("MIGRATION_DATABASE_URL", db.owner_url())
            .env("AUTO_MIGRATE", "true")
            .env("BIND_ADDR", "127.0.0.1:0"),
    );
    let ready = request(service.address, "GET", "/ready", &[], None).unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body);
    service.signal(libc::SIGINT);
    assert_eq!(service.wait(Duration::from_secs(30)).code(), Some(0));
}

#[test]
fn the_account_and_key_commands_do_what_the_admin_api_does() {
    let db = TestDatabase::new();
    let first_key = with_acme(&db);
    let run = |args: &[&str]| {
        let output = output_within(
            invoiced().args(args).env("DATABASE_URL", db.owner_url()),
            Duration::from_secs(60),
        );
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = run(&["accounts", "create", "acme", "--name", "Again"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("already exists"), "{stderr}");
    let (code, _, stderr) = run(&["accounts", "create", "-bad", "--name", "x"]);
    assert_eq!(code, Some(2), "{stderr}");
    run(&["accounts", "create", "globex", "--name", "Globex"]);
    let (_, stdout, _) = run(&["accounts", "list"]);
    assert!(
        stdout.contains("acme") && stdout.contains("globex"),
        "{stdout}"
    );

    let (code, stdout, _) = run(&[
        "api-keys",
        "create",
        "--account",
        "acme",
        "--name",
        "billing",
    ]);
    assert_eq!(code, Some(0));
    let second_key = stdout
        .lines()
        .find(|l| l.starts_with("inv_"))
        .unwrap()
        .to_owned();
    let (_, listing, _) = run(&["api-keys", "list", "--account", "acme"]);
    assert!(
        listing.contains("default") && listing.contains("billing"),
        "{listing}"
    );
    assert!(!listing.contains(&first_key) && !listing.contains(&second_key));

    let authenticates = |key: &str| {
        let account = invoiced::domain::AccountId::parse("acme").unwrap();
        invoiced::db::in_tenant_transaction(&mut db.app_conn(), &account, |conn| {
            invoiced::models::api_key::authenticate(conn, key)
        })
        .unwrap()
        .is_some()
    };
    assert!(authenticates(&first_key) && authenticates(&second_key));
    let (code, stdout, _) = run(&["api-keys", "revoke", "--account", "acme", "2"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("revoked"), "{stdout}");
    assert!(!authenticates(&second_key));
    assert!(authenticates(&first_key));
    let (code, _, _) = run(&["api-keys", "revoke", "--account", "globex", "2"]);
    assert_eq!(code, Some(1), "globex has no key 2");
}

#[test]
fn invoiced_dev_serves_the_printed_curl_line_and_reuses_its_data() {
    let dir = crate::harness::server::server()
        .run_dir()
        .join("dev-project");
    std::fs::create_dir_all(&dir).unwrap();
    let start = || {
        RunningService::start(
            invoiced()
                .arg("dev")
                .current_dir(&dir)
                .env("BIND_ADDR", "127.0.0.1:0"),
        )
    };
    let key_of = |output: &str| {
        output
            .lines()
            .find_map(|l| l.trim().strip_prefix("API key: "))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no key printed:\n{output}"))
    };
    let curl_line = |line: &str| line.trim_start().starts_with("curl ");
    let owner_url_of = |output: &str| {
        output
            .lines()
            .find_map(|l| l.split("Database (owner): ").nth(1))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no owner URL printed:\n{output}"))
    };
    let mut first = start();
    // The printed curl line, run as printed.
    let output = first.output_with(curl_line);
    let curl = output
        .lines()
        .find(|l| l.trim_start().starts_with("curl "))
        .expect("a curl line")
        .trim()
        .to_owned();
    assert!(
        curl.contains(&format!("http://{}/v1/customers", first.address)),
        "{curl}"
    );
    let key = key_of(&output);
    let owner_url = owner_url_of(&output);
    let reply = request(
        first.address,
        "GET",
        "/v1/customers",
        &[
            ("X-Account-Id", "demo"),
            ("Authorization", &format!("Bearer {key}")),
        ],
        None,
    )
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let created = request(
        first.address,
        "POST",
        "/v1/customers",
        &[
            ("X-Account-Id", "demo"),
            ("Authorization", &format!("Bearer {key}")),
        ],
        Some(r#"{"name": "Kept"}"#),
    )
    .unwrap();
    assert_eq!(created.status, 201);
    first.signal(libc::SIGINT);
    assert_eq!(
        first.wait(Duration::from_secs(60)).code(),
        Some(0),
        "{}",
        first.output()
    );
    assert!(!dev_postgres_running(&dir), "Ctrl-C stops the database too");

    let mut second = start();
    let output = second.output_with(curl_line);
    assert_eq!(key_of(&output), key, "the same key works again");
    assert_eq!(
        owner_url_of(&output),
        owner_url,
        "the printed owner URL stays true: PostgreSQL keeps its port"
    );
    let listed = request(
        second.address,
        "GET",
        "/v1/customers",
        &[
            ("X-Account-Id", "demo"),
            ("Authorization", &format!("Bearer {key}")),
        ],
        None,
    )
    .unwrap();
    assert_eq!(
        listed.json()["data"][0]["name"],
        "Kept",
        "the data survived"
    );
    second.signal(libc::SIGINT);
    assert_eq!(second.wait(Duration::from_secs(60)).code(), Some(0));
    let deadline = Instant::now() + Duration::from_secs(10);
    while dev_postgres_running(&dir) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(!dev_postgres_running(&dir));
}

/// Whether a live postgres process serves the dev data directory under `dir`.
fn dev_postgres_running(dir: &std::path::Path) -> bool {
    let data_dir = dir.join(".invoiced").join("pgdata");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .any(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
            !zombie && String::from_utf8_lossy(&cmdline).contains(&*data_dir.to_string_lossy())
        })
}

#[test]
fn owner_commands_run_as_the_service_role_stop_with_status_2_saying_what_to_use() {
    let db = TestDatabase::new();
    with_acme(&db);
    let legacy = crate::harness::server::server()
        .run_dir()
        .join("owner-only.db");
    std::fs::write(&legacy, b"").unwrap();
    let legacy = legacy.to_string_lossy().into_owned();
    for args in [
        vec!["accounts", "list"],
        vec!["accounts", "create", "newco", "--name", "New Co"],
        vec!["api-keys", "list", "--account", "acme"],
        vec!["api-keys", "create", "--account", "acme", "--name", "x"],
        vec!["migrate", "status"],
        vec!["verify"],
        vec!["import-sqlite", legacy.as_str(), "--dry-run"],
    ] {
        let output = output_within(
            invoiced().args(&args).env("DATABASE_URL", db.app_url()),
            Duration::from_secs(60),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("owner") && stderr.contains("MIGRATION_DATABASE_URL"),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{args:?} printed something");
    }
    // Nothing was created by any of them.
    assert_eq!(
        scalar(&mut db.owner_conn(), "SELECT count(*) AS n FROM accounts"),
        1
    );
    // A URL that is not one is a usage error too, not a failed connection.
    for args in [
        vec!["verify", "--database-url", "not a url"],
        vec![
            "accounts",
            "list",
            "--database-url",
            "postgresql://x@/y?nonsense",
        ],
    ] {
        let output = output_within(invoiced().args(&args), Duration::from_secs(60));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
