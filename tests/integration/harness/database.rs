//! Throwaway databases, after crates.io's `crates_io_test_db`: a template is
//! set up (setup_postgres.sql, then the embedded migrations as the owner)
//! once per test binary, each test gets its own clone, and the clone is
//! dropped when the test's `TestDatabase` is, pass or fail.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::{Connection, PgConnection};

use super::server::{TestServer, server};

static TEMPLATE: OnceLock<String> = OnceLock::new();
static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(1);

fn template() -> &'static str {
    TEMPLATE.get_or_init(|| {
        let server = server();
        let name = format!("invoiced_template_{}", std::process::id());
        server.execute_as_superuser(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        server.run_setup_script(&name);
        let mut owner = PgConnection::establish(&server.url(Some("invoiced_owner"), &name))
            .expect("connect to the template as the owner");
        invoiced::db::migrations::run_pending(&mut owner).expect("migrate the template");
        name
    })
}

/// Drops the template when the tests ran against an external server (a
/// private cluster is deleted whole).
pub fn drop_template_at_exit() {
    if let Some(name) = TEMPLATE.get()
        && let Ok(mut conn) = PgConnection::establish(&server().url(None, "postgres"))
    {
        let _ = diesel::RunQueryDsl::execute(
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
            &mut conn,
        );
    }
}

pub struct TestDatabase {
    name: String,
    server: &'static TestServer,
}

impl TestDatabase {
    /// A migrated database of the test's own.
    pub fn new() -> Self {
        let template = template();
        let database = Self::named();
        database.server.execute_as_superuser(&format!(
            "CREATE DATABASE {} TEMPLATE {template} OWNER invoiced_owner",
            database.name
        ));
        // A database's own privileges are not copied from its template: grant
        // them as setup_postgres.sql does (CONNECT only, no TEMPORARY).
        for sql in [
            format!("REVOKE ALL ON DATABASE {} FROM PUBLIC", database.name),
            format!(
                "GRANT CONNECT ON DATABASE {} TO invoiced_app",
                database.name
            ),
        ] {
            database.server.execute_as_superuser(&sql);
        }
        database
    }

    /// A database prepared by setup_postgres.sql but not migrated.
    pub fn unmigrated() -> Self {
        let database = Self::named();
        database.server.run_setup_script(&database.name);
        database
    }

    fn named() -> Self {
        let number = NEXT_DATABASE.fetch_add(1, Ordering::Relaxed);
        Self {
            name: format!("invoiced_test_{}_{number}", std::process::id()),
            server: server(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn server(&self) -> &'static TestServer {
        self.server
    }

    /// The owner's URL: migrations, imports, administration.
    pub fn owner_url(&self) -> String {
        self.server.url(Some("invoiced_owner"), &self.name)
    }

    /// The service's URL: DML only, under row-level security.
    pub fn app_url(&self) -> String {
        self.server.url(Some("invoiced_app"), &self.name)
    }

    pub fn superuser_url(&self) -> String {
        self.server.url(None, &self.name)
    }

    pub fn owner_conn(&self) -> PgConnection {
        PgConnection::establish(&self.owner_url()).expect("connect as the owner")
    }

    pub fn app_conn(&self) -> PgConnection {
        PgConnection::establish(&self.app_url()).expect("connect as the app")
    }

    pub fn superuser_conn(&self) -> PgConnection {
        PgConnection::establish(&self.superuser_url()).expect("connect as the superuser")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Never panic here: this also runs while a failed test unwinds.
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = self.server.try_execute_as_superuser(&drop) {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}
