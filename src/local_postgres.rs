//! A private PostgreSQL server started from the installed server binaries:
//! the test harness's throwaway cluster and `invoiced dev`'s local database.
//!
//! PostgreSQL refuses to run as root, so when we are root the server (and
//! initdb) run as the `postgres` OS user, in a data directory that user owns.
//! The server is a child in its own process group (a Ctrl-C in the terminal
//! reaches us, and we stop it after the service has drained) and is told by
//! the kernel to shut down if the thread that spawned it dies
//! (`PR_SET_PDEATHSIG`); that thread lives exactly as long as the server
//! should, so the server is stopped even when we are killed or never run
//! `Drop` (a static in a test binary).

use std::ffi::CString;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection};

/// The superuser that initdb creates.
pub const SUPERUSER: &str = "postgres";

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum LocalPostgresError {
    #[error(
        "no PostgreSQL server binaries found (looked at `pg_config --bindir`, {searched}).\n\
         Install them (Debian/Ubuntu: `apt-get install postgresql`; Fedora: `dnf install \
         postgresql-server`; macOS: `brew install postgresql@16`), or set DATABASE_URL to \
         an existing server."
    )]
    BinariesNotFound { searched: String },
    #[error(
        "running as root, PostgreSQL must run as the `postgres` OS user, which does not \
         exist here; create it (`useradd --system postgres`) or run as another user"
    )]
    NoServerUser,
    #[error(
        "the `postgres` OS user cannot reach {0}; PostgreSQL runs as that user when we are \
         root, so its data directory must be in a place it can enter"
    )]
    Unreachable(PathBuf),
    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: io::Error,
    },
    #[error("{program} failed ({status}):\n{output}")]
    ToolFailed {
        program: String,
        status: std::process::ExitStatus,
        output: String,
    },
    #[error(
        "PostgreSQL did not become ready within {timeout:?}; its log ({log}) ends with:\n{tail}"
    )]
    NotReady {
        timeout: Duration,
        log: String,
        tail: String,
    },
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> LocalPostgresError {
    let action = action.into();
    move |source| LocalPostgresError::Io { action, source }
}

/// The directory holding `initdb`, `postgres`, `psql`, `pg_dump`, ...
#[derive(Debug, Clone)]
pub struct Binaries {
    bindir: PathBuf,
}

impl Binaries {
    /// Finds the installed server binaries: `pg_config --bindir` first, then
    /// the usual install paths, newest version first.
    pub fn locate() -> Result<Self, LocalPostgresError> {
        let has_server =
            |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
        if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
            let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
            if output.status.success() && has_server(&dir) {
                return Ok(Self { bindir: dir });
            }
        }
        let mut candidates: Vec<PathBuf> = Vec::new();
        for parent in ["/usr/lib/postgresql", "/usr/pgsql", "/opt/homebrew/opt"] {
            if let Ok(entries) = fs::read_dir(parent) {
                let mut versions: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path().join("bin"))
                    .collect();
                versions.sort_by_key(|p| std::cmp::Reverse(version_of(p)));
                candidates.extend(versions);
            }
        }
        candidates.extend(
            ["/usr/local/pgsql/bin", "/usr/local/bin", "/usr/bin"]
                .iter()
                .map(PathBuf::from),
        );
        candidates
            .into_iter()
            .find(|dir| has_server(dir))
            .map(|bindir| Self { bindir })
            .ok_or_else(|| LocalPostgresError::BinariesNotFound {
                searched: "/usr/lib/postgresql/*/bin, /usr/pgsql*/bin, /usr/local/pgsql/bin, \
                           /usr/local/bin, /usr/bin"
                    .into(),
            })
    }

    pub fn tool(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }
}

/// "/usr/lib/postgresql/15/bin" → 15, for picking the newest install.
fn version_of(bindir: &Path) -> u32 {
    bindir
        .parent()
        .and_then(Path::file_name)
        .and_then(|name| {
            let digits: String = name
                .to_string_lossy()
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// The OS identity the server runs as when we are root.
#[derive(Debug, Clone, Copy)]
struct ServerUser {
    uid: u32,
    gid: u32,
}

/// Makes `command` run as the postgres OS user when this process is root
/// (PostgreSQL and PgBouncer refuse to run as root), handing it `paths`
/// first; as anyone else, leaves both alone.
pub fn run_as_server_user(
    command: &mut Command,
    paths: &[&Path],
) -> Result<(), LocalPostgresError> {
    if let Some(user) = server_user()? {
        for path in paths {
            user.take_ownership(path)?;
        }
        user.apply(command);
    }
    Ok(())
}

fn server_user() -> Result<Option<ServerUser>, LocalPostgresError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = CString::new(SUPERUSER).expect("no NUL in a constant");
    // SAFETY: getpwnam returns NULL or a pointer to a static record, read at once.
    let record = unsafe { libc::getpwnam(name.as_ptr()) };
    if record.is_null() {
        return Err(LocalPostgresError::NoServerUser);
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*record).pw_uid, (*record).pw_gid) };
    Ok(Some(ServerUser { uid, gid }))
}

impl ServerUser {
    fn apply(self, command: &mut Command) {
        command.uid(self.uid).gid(self.gid);
    }

    fn take_ownership(self, path: &Path) -> Result<(), LocalPostgresError> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).map_err(io_error(format!(
            "could not hand {} to the postgres user",
            path.display()
        )))
    }

    /// Whether this user may enter `dir` (every ancestor must be searchable).
    fn can_enter(self, dir: &Path) -> bool {
        let mut probe = Command::new("test");
        probe.arg("-x").arg(dir).stdin(Stdio::null());
        self.apply(&mut probe);
        probe.status().is_ok_and(|status| status.success())
    }
}

/// Where the server listens.
#[derive(Debug, Clone)]
pub enum Listen {
    /// Only a Unix socket in this directory: no port to collide on.
    Socket(PathBuf),
    /// Only TCP on 127.0.0.1.
    Tcp(u16),
}

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    pub listen: Listen,
    /// false for throwaway clusters: no fsync, no durable commits.
    pub durable: bool,
    /// The superuser's password; `None` trusts every local connection
    /// (throwaway clusters in a private directory).
    pub superuser_password: Option<String>,
}

/// A running server; stopped (fast shutdown) when dropped.
pub struct LocalPostgres {
    options: ClusterOptions,
    child: Option<Child>,
    /// Dropping this ends the thread that spawned the server, and with it the
    /// server's parent-death guard; done only after the server has stopped.
    release_spawner: Option<mpsc::Sender<()>>,
}

impl LocalPostgres {
    /// Creates the cluster (unless `data_dir` already holds one) and starts it.
    pub fn start(binaries: &Binaries, options: ClusterOptions) -> Result<Self, LocalPostgresError> {
        let user = server_user()?;
        prepare_data_dir(binaries, &options, user)?;
        if let Listen::Socket(dir) = &options.listen {
            fs::create_dir_all(dir)
                .map_err(io_error(format!("could not create {}", dir.display())))?;
            if let Some(user) = user {
                user.take_ownership(dir)?;
            }
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(&options.log_file)
            .map_err(io_error(format!(
                "could not open {}",
                options.log_file.display()
            )))?;

        let mut command = Command::new(binaries.tool("postgres"));
        command
            .arg("-D")
            .arg(&options.data_dir)
            .args(["-c", "max_connections=300"])
            .stdin(Stdio::null())
            .stdout(
                log.try_clone()
                    .map_err(io_error("could not share the log file"))?,
            )
            .stderr(log)
            .current_dir(options.data_dir.parent().unwrap_or(Path::new("/")))
            .process_group(0);
        match &options.listen {
            Listen::Socket(dir) => {
                command.args(["-c", "listen_addresses="]);
                command
                    .arg("-c")
                    .arg(format!("unix_socket_directories={}", dir.display()));
            }
            Listen::Tcp(port) => {
                command.args([
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories=",
                ]);
                command.arg("-c").arg(format!("port={port}"));
            }
        }
        if !options.durable {
            command.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        if let Some(user) = user {
            user.apply(&mut command);
        }
        // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }

        let (child_tx, child_rx) = mpsc::sync_channel(1);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("postgres-spawner".into())
            .spawn(move || {
                let _ = child_tx.send(command.spawn());
                // Returns when LocalPostgres drops the sender; until then this
                // thread is the server's parent.
                let _ = release_rx.recv();
            })
            .map_err(io_error("could not start the spawner thread"))?;
        let child = child_rx
            .recv()
            .expect("the spawner thread sends before it waits")
            .map_err(io_error(format!(
                "could not start {}",
                binaries.tool("postgres").display()
            )))?;

        let mut server = Self {
            options,
            child: Some(child),
            release_spawner: Some(release_tx),
        };
        server.wait_until_ready()?;
        Ok(server)
    }

    fn wait_until_ready(&mut self) -> Result<(), LocalPostgresError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let url = self.url(
            SUPERUSER,
            self.options.superuser_password.as_deref(),
            "postgres",
        );
        loop {
            if PgConnection::establish(&url).is_ok() {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
                .is_some();
            if exited || Instant::now() > deadline {
                return Err(LocalPostgresError::NotReady {
                    timeout: START_TIMEOUT,
                    log: self.options.log_file.display().to_string(),
                    tail: log_tail(&self.options.log_file),
                });
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// A libpq connection URL for `user` (with `password` when the server
    /// asks for one) and `database`.
    pub fn url(&self, user: &str, password: Option<&str>, database: &str) -> String {
        let credentials = match password {
            Some(password) => format!("{user}:{password}"),
            None => user.to_owned(),
        };
        match &self.options.listen {
            Listen::Socket(dir) => {
                format!(
                    "postgresql://{credentials}@/{database}?host={}",
                    dir.display()
                )
            }
            Listen::Tcp(port) => format!("postgresql://{credentials}@127.0.0.1:{port}/{database}"),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// Fast shutdown: disconnects clients, writes a checkpoint, exits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child);
        }
        self.release_spawner.take();
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn stop_child(child: &mut Child) {
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + STOP_TIMEOUT;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above; immediate shutdown, then the last resort.
    unsafe { libc::kill(pid, libc::SIGQUIT) };
    thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
}

/// Creates the data directory and runs initdb in it, unless it already
/// holds a cluster (`invoiced dev` reuses its data).
fn prepare_data_dir(
    binaries: &Binaries,
    options: &ClusterOptions,
    user: Option<ServerUser>,
) -> Result<(), LocalPostgresError> {
    let data_dir = options.data_dir.as_path();
    if data_dir.join("PG_VERSION").is_file() {
        return Ok(());
    }
    fs::create_dir_all(data_dir)
        .map_err(io_error(format!("could not create {}", data_dir.display())))?;
    fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700)).map_err(io_error(format!(
        "could not restrict {}",
        data_dir.display()
    )))?;
    if let Some(user) = user {
        user.take_ownership(data_dir)?;
        if !user.can_enter(data_dir) {
            return Err(LocalPostgresError::Unreachable(data_dir.to_owned()));
        }
    }
    // initdb reads the password from a file; the server user must read it.
    let password_file = data_dir.with_extension("initdb-password");
    let auth: Vec<String> = match &options.superuser_password {
        Some(password) => {
            fs::write(&password_file, password).map_err(io_error(format!(
                "could not write {}",
                password_file.display()
            )))?;
            fs::set_permissions(&password_file, fs::Permissions::from_mode(0o600))
                .map_err(io_error("could not restrict the password file"))?;
            if let Some(user) = user {
                user.take_ownership(&password_file)?;
            }
            vec![
                "-A".into(),
                "scram-sha-256".into(),
                format!("--pwfile={}", password_file.display()),
            ]
        }
        None => vec!["-A".into(), "trust".into()],
    };
    let result = run_initdb(binaries, data_dir, &auth, user);
    let _ = fs::remove_file(&password_file);
    result
}

fn run_initdb(
    binaries: &Binaries,
    data_dir: &Path,
    auth: &[String],
    user: Option<ServerUser>,
) -> Result<(), LocalPostgresError> {
    // C.UTF-8 keeps case-insensitive search right for non-ASCII names; some
    // systems lack it, so fall back to C.
    let mut last_failure = None;
    for locale in ["C.UTF-8", "C"] {
        let mut initdb = Command::new(binaries.tool("initdb"));
        initdb
            .args(auth)
            .args(["-N", "-U", SUPERUSER, "-E", "UTF8"])
            .arg(format!("--locale={locale}"))
            .arg("-D")
            .arg(data_dir)
            .current_dir(data_dir)
            .stdin(Stdio::null());
        if let Some(user) = user {
            user.apply(&mut initdb);
        }
        let output = initdb.output().map_err(io_error(format!(
            "could not run {}",
            binaries.tool("initdb").display()
        )))?;
        if output.status.success() {
            return Ok(());
        }
        // initdb leaves a partial cluster behind; empty the directory for the retry.
        clear_dir(data_dir)?;
        last_failure = Some(LocalPostgresError::ToolFailed {
            program: "initdb".into(),
            status: output.status,
            output: String::from_utf8_lossy(&[output.stdout, output.stderr].concat()).into_owned(),
        });
    }
    Err(last_failure.expect("at least one locale was tried"))
}

fn clear_dir(dir: &Path) -> Result<(), LocalPostgresError> {
    let entries =
        fs::read_dir(dir).map_err(io_error(format!("could not read {}", dir.display())))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(io_error(format!("could not remove {}", path.display())))?;
    }
    Ok(())
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Whether the server may live in `dir`: always, unless we are root and the
/// `postgres` OS user cannot enter it (e.g. under /root).
pub fn server_can_enter(dir: &Path) -> Result<bool, LocalPostgresError> {
    Ok(match server_user()? {
        Some(user) => user.can_enter(dir),
        None => true,
    })
}
