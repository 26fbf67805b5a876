//! Driving the load: wrk against the service, pgbench against the database,
//! and what each reports.

use std::path::{Path, PathBuf};
use std::process::Command;

use invoiced::local_postgres::Binaries;

use crate::support::run_quietly;

/// What wrk measured.
#[derive(Debug, Clone, Copy)]
pub struct HttpFigures {
    pub requests: u64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Socket errors, timeouts and responses other than 2xx/3xx.
    pub errors: u64,
}

/// What pgbench measured.
#[derive(Debug, Clone, Copy)]
pub struct SqlFigures {
    pub transactions: u64,
    pub per_s: f64,
    pub latency_ms: f64,
    pub failed: u64,
}

/// The wrk Lua that every scenario's script ends with: a seed per thread,
/// and one machine-readable summary line.
pub const WRK_REPORT: &str = r#"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + thread_number)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "invoiced-bench requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"#;

fn field(line: &str, name: &str) -> f64 {
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("wrk reported no {name}: {line}"))
}

/// Runs wrk with `script` for `seconds` over `connections` connections (on
/// two threads, one per core).
pub fn wrk(script: &Path, base_url: &str, connections: u32, seconds: u64) -> HttpFigures {
    wrk_on_threads(script, base_url, connections, seconds, 2)
}

/// Drives every instance at once, each with its share of `connections`
/// (one wrk per instance, so that each is loaded alike, as a load balancer
/// would): requests and throughput add up; p50 and p99 are the slowest
/// instance's.
pub fn wrk_all(script: &Path, base_urls: &[String], connections: u32, seconds: u64) -> HttpFigures {
    if let [only] = base_urls {
        return wrk(script, only, connections, seconds);
    }
    let share = (connections / base_urls.len() as u32).max(1);
    let runs: Vec<HttpFigures> = std::thread::scope(|scope| {
        let handles: Vec<_> = base_urls
            .iter()
            .map(|url| scope.spawn(move || wrk_on_threads(script, url, share, seconds, 1)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    HttpFigures {
        requests: runs.iter().map(|r| r.requests).sum(),
        requests_per_s: runs.iter().map(|r| r.requests_per_s).sum(),
        p50_ms: runs.iter().map(|r| r.p50_ms).fold(0.0, f64::max),
        p99_ms: runs.iter().map(|r| r.p99_ms).fold(0.0, f64::max),
        errors: runs.iter().map(|r| r.errors).sum(),
    }
}

fn wrk_on_threads(
    script: &Path,
    base_url: &str,
    connections: u32,
    seconds: u64,
    threads: u32,
) -> HttpFigures {
    let threads = threads.min(connections).max(1);
    let output = run_quietly(
        Command::new("wrk")
            .args(["-t", &threads.to_string(), "-c", &connections.to_string()])
            .args(["-d", &format!("{seconds}s"), "--timeout", "10s"])
            .arg("-s")
            .arg(script)
            .arg(base_url),
        "wrk",
    );
    let line = output
        .lines()
        .find(|line| line.starts_with("invoiced-bench "))
        .unwrap_or_else(|| panic!("wrk printed no summary:\n{output}"));
    let requests = field(line, "requests") as u64;
    let duration_s = field(line, "duration_us") / 1e6;
    HttpFigures {
        requests,
        requests_per_s: requests as f64 / duration_s,
        p50_ms: field(line, "p50_us") / 1e3,
        p99_ms: field(line, "p99_us") / 1e3,
        errors: field(line, "errors") as u64,
    }
}

fn after<'a>(output: &'a str, label: &str) -> Option<&'a str> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .map(str::trim)
}

fn leading_number(text: &str) -> Option<f64> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

/// How pgbench sends its statements.
#[derive(Debug, Clone, Copy)]
pub enum Protocol {
    /// Prepared once per connection, as the service's are: what is measured.
    Prepared,
    /// Simple queries: what pg_stat_statements counts completely (it does
    /// not see a prepared BEGIN or COMMIT).
    Simple,
}

/// Runs pgbench with `scripts` (equally weighted) as `url`'s role,
/// `connections` clients on two threads.
pub fn pgbench(
    binaries: &Binaries,
    url: &str,
    scripts: &[PathBuf],
    protocol: Protocol,
    connections: u32,
    seconds: u64,
) -> SqlFigures {
    let mut command = Command::new(binaries.tool("pgbench"));
    command
        .arg("--no-vacuum")
        .arg(match protocol {
            Protocol::Prepared => "--protocol=prepared",
            Protocol::Simple => "--protocol=simple",
        })
        .args(["--client", &connections.to_string(), "--jobs", "2"])
        .args(["--time", &seconds.to_string()]);
    for script in scripts {
        command.arg("--file").arg(format!("{}@1", script.display()));
    }
    let output = run_quietly(command.arg(url), "pgbench");
    let number = |label: &str| {
        after(&output, label)
            .and_then(leading_number)
            .unwrap_or_else(|| panic!("pgbench reported no {label:?}:\n{output}"))
    };
    SqlFigures {
        transactions: number("number of transactions actually processed:") as u64,
        per_s: number("tps ="),
        latency_ms: number("latency average ="),
        failed: after(&output, "number of failed transactions:")
            .and_then(leading_number)
            .unwrap_or(0.0) as u64,
    }
}
