//! Throwaway databases, after crates.io's `crates_io_test_db`: a template is
//! set up (setup_postgres.sql, then the embedded migrations as the owner)
//! once per test binary, each test gets its own clone, and the clone is
//! dropped when the test's `TestDatabase` is, pass or fail.
//!
//! On Citus (`CITUS_TEST_DATABASE_URL`) a database cannot be cloned from a
//! template (its shards live on the workers, and Citus keeps connections to
//! every database it is in): each test's database is made on every node
//! instead, as README's deployment section tells a DBA to, and migrated,
//! which distributes it. The service's role gets
//! `citus.multi_task_query_log_level = error` there, so that any statement
//! of the service that would touch more than one shard fails its test.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::{Connection, PgConnection};

use super::server::{CitusCluster, TestServer, server};

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
        if let Some(cluster) = super::server::citus() {
            return Self::distributed(cluster);
        }
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

    /// A database on every node of a Citus cluster, migrated (and so
    /// distributed) by the owner.
    ///
    /// One at a time: registering the nodes makes Citus bring every role
    /// up to date on the workers, and two databases doing it at once
    /// collide there ("tuple concurrently updated").
    fn distributed(cluster: &'static CitusCluster) -> Self {
        let _turn = cluster_changes();
        let database = Self::named();
        database.create_on_nodes(cluster);
        database.register_nodes(cluster);
        let mut owner = database.owner_conn();
        invoiced::db::migrations::run_pending(&mut owner).expect("migrate on Citus");
        database
    }

    /// Makes the database on every node of `cluster` as a DBA would:
    /// setup_postgres.sql, then the citus extension. Few shards (4 per
    /// table, not 32): a test's data is small, and each is created on
    /// the workers.
    pub fn create_on_nodes(&self, cluster: &CitusCluster) {
        for node in cluster.nodes() {
            super::server::run_setup_script(
                self.server.binaries(),
                &cluster.superuser_url(node, "postgres"),
                &self.name,
            );
            let mut conn = PgConnection::establish(&cluster.superuser_url(node, &self.name))
                .expect("connect to a Citus node");
            super::execute(&mut conn, "CREATE EXTENSION citus");
        }
        let mut coordinator = self.superuser_conn();
        super::execute(
            &mut coordinator,
            &format!(
                "ALTER DATABASE {0} SET citus.shard_count = 4;
                 ALTER ROLE invoiced_app IN DATABASE {0} SET citus.multi_task_query_log_level = 'error'",
                self.name
            ),
        );
    }

    /// Registers the coordinator and the workers in this database.
    pub fn register_nodes(&self, cluster: &CitusCluster) {
        let mut coordinator = self.superuser_conn();
        let (host, port) = &cluster.coordinator;
        super::execute(
            &mut coordinator,
            &format!("SELECT citus_set_coordinator_host('{host}', {port})"),
        );
        for (host, port) in &cluster.workers {
            super::execute(
                &mut coordinator,
                &format!("SELECT citus_add_node('{host}', {port})"),
            );
        }
    }

    /// A database prepared by setup_postgres.sql but not migrated.
    pub fn unmigrated() -> Self {
        let database = Self::named();
        // On Citus the script's role changes reach the workers too.
        let _turn = super::server::citus().map(|_| cluster_changes());
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

/// A turn at changing the Citus cluster's nodes (roles, extensions, node
/// registration): one test at a time, as two doing it at once collide on
/// the workers' catalogs ("tuple concurrently updated").
pub fn cluster_changes() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Never panic here: this also runs while a failed test unwinds.
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = self.server.try_execute_as_superuser(&drop) {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
        for worker in super::server::citus().iter().flat_map(|c| &c.workers) {
            let url = super::server::citus()
                .expect("on Citus")
                .superuser_url(worker, "postgres");
            let dropped = PgConnection::establish(&url)
                .map_err(|e| e.to_string())
                .and_then(|mut conn| super::try_execute(&mut conn, &drop));
            if let Err(error) = dropped {
                eprintln!(
                    "could not drop test database {} on a worker: {error}",
                    self.name
                );
            }
        }
    }
}
