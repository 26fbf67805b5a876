//! The PostgreSQL server the tests run against, shared by the whole test
//! binary: `TEST_DATABASE_URL` (a superuser URL) when set, else a private
//! throwaway cluster started from the installed binaries.
//!
//! The private cluster lives in the temp dir, is stopped and deleted when the
//! test binary exits (an `atexit` hook: statics are never dropped), and is
//! stopped by the kernel if the binary is killed (see `local_postgres`).
//! Directories left by killed runs are deleted by the next run.
//!
//! With `CITUS_TEST_DATABASE_URL` (a superuser URL of a database on a
//! Citus coordinator whose worker nodes are registered), the tests run on
//! that Citus cluster instead: each test database is created on every node
//! and distributed by the migrations (see `database`).
//!
//! With `TEST_THROUGH_PGBOUNCER=1` (and the private cluster), the service's
//! role connects through a PgBouncer in transaction pooling in front of it,
//! as a deployment at scale does, and the service runs with its statement
//! cache off (`DB_PREPARED_STATEMENTS=false`); the owner and the superuser
//! still connect directly, as migrations and imports do. `.ci/run` runs the
//! isolation and concurrency suites this way.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use invoiced::local_postgres::{Binaries, ClusterOptions, Listen, LocalPostgres, SUPERUSER};

/// Passwords the harness gives the two roles (ignored by the private
/// cluster, which trusts local connections).
pub const OWNER_PASSWORD: &str = "owner-test-password";
pub const APP_PASSWORD: &str = "app-test-password";

const RUN_DIR_PREFIX: &str = "invoiced-test-";

pub struct TestServer {
    endpoint: Endpoint,
    /// The PgBouncer the service's role goes through, when asked for.
    bouncer: Option<Bouncer>,
    binaries: Binaries,
    /// This run's scratch directory (the private cluster lives here too);
    /// deleted at exit.
    run_dir: PathBuf,
}

enum Endpoint {
    Private(LocalPostgres),
    External {
        superuser_url: String,
        citus: Option<CitusCluster>,
    },
}

/// The nodes of the Citus cluster behind `CITUS_TEST_DATABASE_URL`.
pub struct CitusCluster {
    /// (host, port) of the coordinator, then of each worker.
    pub coordinator: (String, u16),
    pub workers: Vec<(String, u16)>,
    superuser_url: String,
}

impl CitusCluster {
    fn discover(superuser_url: &str) -> Self {
        #[derive(diesel::QueryableByName)]
        struct Node {
            #[diesel(sql_type = diesel::sql_types::Text)]
            nodename: String,
            #[diesel(sql_type = diesel::sql_types::Integer)]
            nodeport: i32,
            #[diesel(sql_type = diesel::sql_types::Integer)]
            groupid: i32,
        }
        let mut conn = PgConnection::establish(superuser_url)
            .unwrap_or_else(|e| panic!("CITUS_TEST_DATABASE_URL: {e}"));
        let nodes: Vec<Node> = diesel::sql_query(
            "SELECT nodename::text, nodeport, groupid FROM pg_dist_node
             WHERE noderole = 'primary' AND isactive ORDER BY groupid",
        )
        .load(&mut conn)
        .unwrap_or_else(|e| panic!("CITUS_TEST_DATABASE_URL is not a Citus coordinator: {e}"));
        let coordinator = nodes
            .iter()
            .find(|n| n.groupid == 0)
            .map(|n| (n.nodename.clone(), n.nodeport as u16))
            .expect(
                "CITUS_TEST_DATABASE_URL: register the coordinator (citus_set_coordinator_host)",
            );
        let workers: Vec<(String, u16)> = nodes
            .iter()
            .filter(|n| n.groupid != 0)
            .map(|n| (n.nodename.clone(), n.nodeport as u16))
            .collect();
        assert!(
            !workers.is_empty(),
            "CITUS_TEST_DATABASE_URL: the cluster has no worker"
        );
        Self {
            coordinator,
            workers,
            superuser_url: superuser_url.to_owned(),
        }
    }

    /// Every node, the coordinator first.
    pub fn nodes(&self) -> impl Iterator<Item = &(String, u16)> {
        std::iter::once(&self.coordinator).chain(&self.workers)
    }

    /// The superuser's URL of `database` on `node`.
    pub fn superuser_url(&self, node: &(String, u16), database: &str) -> String {
        let url = rewrite_url(&self.superuser_url, None, database);
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (userinfo, after) = rest.rsplit_once('@').map_or(("", rest), |(u, a)| (u, a));
        let path = after.find('/').map_or("", |i| &after[i..]);
        let at = if userinfo.is_empty() { "" } else { "@" };
        format!("{scheme}://{userinfo}{at}{}:{}{path}", node.0, node.1)
    }
}

/// Whether this run is on Citus (`CITUS_TEST_DATABASE_URL`).
pub fn citus() -> Option<&'static CitusCluster> {
    match &server().endpoint {
        Endpoint::External { citus, .. } => citus.as_ref(),
        Endpoint::Private(_) => None,
    }
}

static SERVER: OnceLock<TestServer> = OnceLock::new();

/// Whether this run puts PgBouncer between the service and PostgreSQL.
pub fn through_pgbouncer() -> bool {
    std::env::var("TEST_THROUGH_PGBOUNCER").is_ok_and(|value| value == "1")
}

struct Bouncer {
    port: u16,
    process: std::sync::Mutex<std::process::Child>,
}

impl Bouncer {
    /// Starts Debian's pgbouncer in transaction pooling in front of the
    /// cluster listening in `socket_dir`, as the postgres user when root
    /// (it refuses to run as root).
    fn start(run_dir: &Path, socket_dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let dir = run_dir.join("pgbouncer");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("userlist.txt"),
            format!("\"invoiced_app\" \"{APP_PASSWORD}\"\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host={socket} port=5432\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = plain\nauth_file = {dir}/userlist.txt\npool_mode = transaction\n\
                 max_client_conn = 2000\ndefault_pool_size = 10\nlogfile = {dir}/pgbouncer.log\n",
                socket = socket_dir.display(),
                dir = dir.display(),
            ),
        )
        .unwrap();
        let mut command = Command::new("pgbouncer");
        command.arg(dir.join("pgbouncer.ini"));
        invoiced::local_postgres::run_as_server_user(
            &mut command,
            &[&dir, &dir.join("userlist.txt"), &dir.join("pgbouncer.ini")],
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start pgbouncer (Debian's package pgbouncer)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            port,
            process: std::sync::Mutex::new(child),
        }
    }

    fn stop(&self) {
        let mut process = self.process.lock().unwrap_or_else(|e| e.into_inner());
        let _ = process.kill();
        let _ = process.wait();
    }
}

/// The shared server, started on first use.
pub fn server() -> &'static TestServer {
    SERVER.get_or_init(|| {
        let server = TestServer::start();
        // SAFETY: registering a plain extern "C" function.
        unsafe { libc::atexit(stop_at_exit) };
        server
    })
}

extern "C" fn stop_at_exit() {
    if let Some(server) = SERVER.get() {
        server.shut_down();
    }
}

impl TestServer {
    fn start() -> Self {
        let binaries = Binaries::locate().unwrap_or_else(|error| panic!("{error}"));
        remove_abandoned_run_dirs();
        let run_dir = std::env::temp_dir().join(format!("{RUN_DIR_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run_dir);
        std::fs::create_dir_all(&run_dir).expect("create the test run's directory");
        let citus_url = std::env::var("CITUS_TEST_DATABASE_URL").ok();
        if let Some(url) = citus_url.or_else(|| std::env::var("TEST_DATABASE_URL").ok()) {
            assert!(
                !through_pgbouncer(),
                "TEST_THROUGH_PGBOUNCER needs the private cluster (unset TEST_DATABASE_URL)"
            );
            let citus = std::env::var("CITUS_TEST_DATABASE_URL")
                .is_ok()
                .then(|| CitusCluster::discover(&url));
            return Self {
                endpoint: Endpoint::External {
                    superuser_url: url,
                    citus,
                },
                bouncer: None,
                binaries,
                run_dir,
            };
        }
        let server = LocalPostgres::start(
            &binaries,
            ClusterOptions {
                data_dir: run_dir.join("data"),
                log_file: run_dir.join("postgres.log"),
                listen: Listen::Socket(run_dir.clone()),
                durable: false,
                superuser_password: None,
            },
        )
        .unwrap_or_else(|error| panic!("could not start the test PostgreSQL: {error}"));
        let bouncer = through_pgbouncer().then(|| Bouncer::start(&run_dir, &run_dir));
        Self {
            endpoint: Endpoint::Private(server),
            bouncer,
            binaries,
            run_dir,
        }
    }

    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// A scratch directory for this test run, deleted at exit.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// A connection URL for `database` as `role` (a role the harness set
    /// up: invoiced_owner or invoiced_app), or as the superuser when `None`.
    pub fn url(&self, role: Option<&str>, database: &str) -> String {
        let password = match role {
            Some("invoiced_owner") => Some(OWNER_PASSWORD),
            Some("invoiced_app") => Some(APP_PASSWORD),
            Some(other) => panic!("the harness does not know role {other}"),
            None => None,
        };
        if let (Some(bouncer), Some("invoiced_app")) = (&self.bouncer, role) {
            return format!(
                "postgresql://invoiced_app:{APP_PASSWORD}@127.0.0.1:{}/{database}",
                bouncer.port
            );
        }
        match &self.endpoint {
            Endpoint::Private(server) => server.url(role.unwrap_or(SUPERUSER), password, database),
            Endpoint::External { superuser_url, .. } => {
                rewrite_url(superuser_url, role.zip(password), database)
            }
        }
    }

    /// Runs a statement as the superuser in the maintenance database.
    pub fn execute_as_superuser(&self, sql: &str) {
        self.try_execute_as_superuser(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn try_execute_as_superuser(&self, sql: &str) -> Result<(), String> {
        let url = self.url(None, "postgres");
        let mut conn = PgConnection::establish(&url).map_err(|e| e.to_string())?;
        diesel::sql_query(sql)
            .execute(&mut conn)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Runs setup_postgres.sql for `database`, as a DBA would.
    pub fn run_setup_script(&self, database: &str) {
        run_setup_script(&self.binaries, &self.url(None, "postgres"), database);
    }

    fn shut_down(&self) {
        if let Some(bouncer) = &self.bouncer {
            bouncer.stop();
        }
        match &self.endpoint {
            Endpoint::Private(server) => {
                if let Some(pid) = server.pid() {
                    let pid = pid as libc::pid_t;
                    // SAFETY: signalling and reaping the server we started;
                    // nothing else waits for it.
                    unsafe { libc::kill(pid, libc::SIGINT) };
                    let deadline = Instant::now() + Duration::from_secs(30);
                    let mut status = 0;
                    while unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == 0 {
                        if Instant::now() > deadline {
                            unsafe { libc::kill(pid, libc::SIGKILL) };
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
            Endpoint::External { .. } => super::database::drop_template_at_exit(),
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// Runs setup_postgres.sql on the server at `superuser_url`, for
/// `database`, with the harness's passwords. One at a time: the script
/// alters the cluster-wide roles, which PostgreSQL refuses to do from two
/// sessions at once ("tuple concurrently updated").
pub fn run_setup_script(binaries: &Binaries, superuser_url: &str, database: &str) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("setup_postgres.sql");
    let output = Command::new(binaries.tool("psql"))
        .arg("-X")
        .arg("-q")
        .arg(format!("--dbname={superuser_url}"))
        .arg("-v")
        .arg(format!("app_password={APP_PASSWORD}"))
        .arg("-v")
        .arg(format!("owner_password={OWNER_PASSWORD}"))
        .arg("-v")
        .arg(format!("dbname={database}"))
        .arg("-f")
        .arg(script)
        .output()
        .expect("run psql");
    assert!(
        output.status.success(),
        "setup_postgres.sql failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Replaces the credentials (when given) and the database of a libpq URL.
fn rewrite_url(url: &str, credentials: Option<(&str, &str)>, database: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .expect("TEST_DATABASE_URL is a postgresql:// URL");
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let authority = match credentials {
        Some((user, password)) => format!("{user}:{password}@{host}"),
        None => authority.to_owned(),
    };
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{authority}/{database}{query}")
}

/// Deletes the directories of earlier runs whose process is gone (killed
/// before its atexit hook ran; the kernel stopped their servers).
fn remove_abandoned_run_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(RUN_DIR_PREFIX)
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if !process_is_running(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether `pid` is a live process (a zombie, killed but not reaped, is not).
fn process_is_running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn rewrite_url_replaces_credentials_and_database() {
    assert_eq!(
        rewrite_url(
            "postgresql://postgres:secret@db:5433/postgres?sslmode=disable",
            Some(("invoiced_app", "pw")),
            "t1"
        ),
        "postgresql://invoiced_app:pw@db:5433/t1?sslmode=disable"
    );
    assert_eq!(
        rewrite_url("postgres://db/postgres", None, "t2"),
        "postgres://db/t2"
    );
}
