//! What the benchmark programs share: a private PostgreSQL cluster set up
//! the way a DBA would (setup_postgres.sql, migrations as the owner), and
//! process measurements. (Each benchmark uses a part of it.)
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use invoiced::local_postgres::{Binaries, ClusterOptions, Listen, LocalPostgres, SUPERUSER};

/// The password both roles get in a benchmark cluster.
pub const PASSWORD: &str = "bench";

/// The high-water mark of a process's resident memory, in MB (its own,
/// since its exec: `ru_maxrss` would count the memory of this process too,
/// which it was spawned from).
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn psql(binaries: &Binaries, url: &str) -> Command {
    let mut command = Command::new(binaries.tool("psql"));
    command
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg(format!("--dbname={url}"));
    command
}

/// Runs `command`, panicking with its stderr when it fails; its stdout.
pub fn run_quietly(command: &mut Command, what: &str) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Installs a Debian package when `program` is missing (as root); whether
/// `program` runs afterwards.
pub fn ensure_program(program: &str, package: &str) -> bool {
    let runs = || {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if runs() {
        return true;
    }
    eprintln!("installing {package} from Debian's packages…");
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}"
        ))
        .stdout(Stdio::null())
        .status();
    runs()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch directory for one benchmark run, removed when dropped.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("invoiced-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn join(&self, path: impl AsRef<Path>) -> PathBuf {
        self.0.join(path)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A private, durable cluster on a free port, in `dir`.
pub struct BenchCluster {
    pub binaries: Binaries,
    pub server: LocalPostgres,
    pub port: u16,
}

impl BenchCluster {
    /// Starts the cluster; `settings` go to postgresql.auto.conf and take
    /// effect through a restart (for those that need one).
    pub fn start(dir: &Path, settings: &[(&str, &str)]) -> Self {
        let binaries = Binaries::locate().expect("PostgreSQL server binaries");
        let port = free_port();
        let options = ClusterOptions {
            data_dir: dir.join("data"),
            log_file: dir.join("postgres.log"),
            listen: Listen::Tcp(port),
            durable: true,
            superuser_password: None,
        };
        let mut server =
            LocalPostgres::start(&binaries, options.clone()).expect("start PostgreSQL");
        if !settings.is_empty() {
            let superuser = server.url(SUPERUSER, None, "postgres");
            for (name, value) in settings {
                run_quietly(
                    psql(&binaries, &superuser)
                        .arg("-c")
                        .arg(format!("ALTER SYSTEM SET {name} = '{value}'")),
                    "ALTER SYSTEM",
                );
            }
            server.stop();
            server = LocalPostgres::start(&binaries, options).expect("restart PostgreSQL");
        }
        Self {
            binaries,
            server,
            port,
        }
    }

    /// CPU seconds the cluster has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        self.server.pid().map_or(f64::NAN, cluster_cpu_seconds)
    }

    pub fn superuser_url(&self, database: &str) -> String {
        self.server.url(SUPERUSER, None, database)
    }

    pub fn owner_url(&self, database: &str) -> String {
        self.server.url("invoiced_owner", Some(PASSWORD), database)
    }

    pub fn app_url(&self, database: &str) -> String {
        self.server.url("invoiced_app", Some(PASSWORD), database)
    }

    /// Runs setup_postgres.sql for `database`, as a DBA would.
    pub fn setup_database(&self, database: &str) {
        let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("setup_postgres.sql");
        run_quietly(
            psql(&self.binaries, &self.superuser_url("postgres"))
                .args(["-v", &format!("app_password={PASSWORD}")])
                .args(["-v", &format!("owner_password={PASSWORD}")])
                .args(["-v", &format!("dbname={database}")])
                .arg("-f")
                .arg(&setup),
            "setup_postgres.sql",
        );
    }

    /// Applies the migrations as the owner, with the binary under test.
    pub fn migrate(&self, database: &str) {
        run_quietly(
            Command::new(env!("CARGO_BIN_EXE_invoiced"))
                .args(["migrate", "run"])
                .env("DATABASE_URL", self.owner_url(database))
                .env("RUST_LOG", "warn"),
            "invoiced migrate run",
        );
    }
}

impl BenchCluster {
    /// Creates account `id` with the binary under test; its first API key.
    pub fn create_account(&self, database: &str, id: &str) -> String {
        let created = run_quietly(
            Command::new(env!("CARGO_BIN_EXE_invoiced"))
                .args(["accounts", "create", id, "--name", "Bench"])
                .env("DATABASE_URL", self.owner_url(database)),
            "invoiced accounts create",
        );
        created
            .lines()
            .find(|l| l.starts_with("inv_"))
            .expect("accounts create prints the key")
            .to_owned()
    }
}

/// The fields of /proc/PID/stat after the command name.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// CPU seconds (user + system) a process has used; with `reaped`, those of
/// the children it has waited for too.
pub fn cpu_seconds(pid: u32, reaped: bool) -> Option<f64> {
    let fields = stat_fields(pid)?;
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<f64>().ok());
    // utime, stime, cutime, cstime are fields 14–17 of stat(5).
    let mut total = ticks(11)? + ticks(12)?;
    if reaped {
        total += ticks(13)? + ticks(14)?;
    }
    Some(total / ticks_per_second())
}

/// CPU seconds a PostgreSQL cluster has used: the postmaster, its live
/// children (backends, background workers) and the children it has reaped.
pub fn cluster_cpu_seconds(postmaster: u32) -> f64 {
    let mut total = cpu_seconds(postmaster, true).unwrap_or(0.0);
    let parent = postmaster.to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if stat_fields(pid).is_some_and(|fields| fields.get(1) == Some(&parent)) {
            total += cpu_seconds(pid, false).unwrap_or(0.0);
        }
    }
    total
}

/// `invoiced serve` (the build under test) on a free port, with `env` on
/// top of DATABASE_URL; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Service {
    child: Child,
    pub address: String,
    pub base_url: String,
}

impl Service {
    pub fn start(database_url: &str, env: &[(&str, &str)], log: PathBuf) -> Self {
        let port = free_port();
        let log = std::fs::File::create(log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_invoiced"));
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env_remove("MIGRATION_DATABASE_URL");
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start invoiced serve");
        let address = format!("127.0.0.1:{port}");
        let service = Self {
            child,
            base_url: format!("http://{address}"),
            address,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !service.ready() {
            assert!(Instant::now() < deadline, "invoiced serve never got ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        service
    }

    fn ready(&self) -> bool {
        matches!(
            http(&self.address, "GET", "/ready", &[], None),
            Ok((200, _))
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.child.id(), false).unwrap_or(f64::NAN)
    }

    pub fn peak_rss_mb(&self) -> f64 {
        peak_rss_mb(self.child.id()).unwrap_or(f64::NAN)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request (`Connection: close`) to `address`: the status and
/// the body.
pub fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or(""));
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of the head"))?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {head:?}")))?;
    Ok((status, raw[head_end + 4..].to_vec()))
}

/// The value at `percentile` (0–100) of sorted `values`.
pub fn percentile(sorted: &[f64], percentile: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (percentile / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
