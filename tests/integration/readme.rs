//! The README's API examples, pasted top to bottom into a shell against
//! `invoiced dev`, as a new user would: every curl command answers the
//! status the README shows beside it (`# → 201`), so the examples cannot
//! drift from the service.

use std::process::Command;
use std::time::Duration;

use crate::harness::process::RunningService;
use crate::harness::{invoiced, output_within};

const README: &str = include_str!("../../README.md");

/// The admin token the README's examples use (and dev is started with).
fn admin_token() -> String {
    README
        .lines()
        .find_map(|line| line.trim().strip_prefix("export ADMIN_TOKEN="))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the README exports an ADMIN_TOKEN")
        .to_owned()
}

/// One logical shell line (continuations joined) and, for a curl command,
/// the status the README says it answers.
#[derive(Debug)]
struct Step {
    line: String,
    expected: Option<u16>,
}

/// The `sh` blocks of the README's API section, in order.
fn api_blocks() -> Vec<Vec<String>> {
    let start = README
        .find("\n## The API")
        .expect("the README has an API section");
    let section = &README[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |n| n + 3);
    let section = &section[..end];
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in section.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), text) => block.push(text.to_owned()),
            (None, _) => {}
        }
    }
    blocks
}

/// A block's lines as steps: continuation lines joined, each curl command
/// paired with the `# → NNN` comment that follows it.
fn steps(block: &[String]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut pending = String::new();
    for line in block {
        let trimmed = line.trim();
        if pending.is_empty() && trimmed.starts_with('#') {
            if let Some(status) = trimmed.strip_prefix("# → ") {
                let code: u16 = status
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("a status, not {trimmed:?}"));
                let last = steps
                    .iter_mut()
                    .rev()
                    .find(|s| s.line.trim_start().starts_with("curl "))
                    .unwrap_or_else(|| panic!("{trimmed:?} follows no curl command"));
                assert!(last.expected.is_none(), "two statuses for {}", last.line);
                last.expected = Some(code);
            }
            continue;
        }
        if let Some(continued) = line.strip_suffix('\\') {
            pending.push_str(continued);
            continue;
        }
        pending.push_str(line);
        if !pending.trim().is_empty() {
            steps.push(Step {
                line: std::mem::take(&mut pending),
                expected: None,
            });
        }
        pending.clear();
    }
    assert!(pending.is_empty(), "a block ends in a continuation");
    steps
}

/// The shell script: the README's lines, each curl command run through a
/// function that compares its status.
fn script(base: &str, key: &str, body_file: &str) -> (String, usize) {
    let mut script = format!(
        "set -u\n\
         expect_status() {{\n\
           local expected=$1; shift\n\
           local status\n\
           status=$(\"$@\" -o '{body_file}' -w '%{{http_code}}') || {{ echo \"FAIL curl failed: $*\"; return; }}\n\
           if [ \"$status\" = \"$expected\" ]; then echo \"ok $expected\"; \
           else echo \"FAIL expected $expected, got $status: $* → $(cat '{body_file}')\"; fi\n\
         }}\n"
    );
    let mut commands = 0;
    for block in api_blocks() {
        for step in steps(&block) {
            let mut line = step.line.replace("http://127.0.0.1:8080", base);
            // The one thing a reader fills in: the key dev printed.
            if line.trim_start().starts_with("export KEY=") {
                line = format!("export KEY='{key}'");
            }
            match step.expected {
                Some(status) => {
                    commands += 1;
                    script.push_str(&format!("expect_status {status} {}\n", line.trim_start()));
                }
                None => {
                    assert!(
                        !line.trim_start().starts_with("curl "),
                        "the README shows no status for: {line}"
                    );
                    script.push_str(&line);
                    script.push('\n');
                }
            }
        }
    }
    (script, commands)
}

#[test]
fn the_readme_api_examples_pasted_in_order_answer_as_shown() {
    let dir = crate::harness::server::server()
        .run_dir()
        .join("readme-project");
    std::fs::create_dir_all(&dir).unwrap();
    let service = RunningService::start(
        invoiced()
            .arg("dev")
            .current_dir(&dir)
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("ADMIN_TOKEN", admin_token()),
    );
    let output = service.output_with(|line| line.contains("API key: "));
    let key = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("API key: "))
        .expect("dev prints the key")
        .to_owned();
    let base = format!("http://{}", service.address);
    let body_file = dir.join("body");
    let (script, commands) = script(&base, &key, &body_file.to_string_lossy());
    assert!(commands >= 20, "only {commands} curl commands found");
    let run = output_within(
        Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(&dir),
        Duration::from_secs(120),
    );
    let printed = String::from_utf8_lossy(&run.stdout);
    let failures: Vec<&str> = printed.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        failures.is_empty(),
        "{} of {commands} README commands answered otherwise:\n{}\nstderr:\n{}",
        failures.len(),
        failures.join("\n"),
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        printed.lines().filter(|l| l.starts_with("ok ")).count(),
        commands,
        "{printed}"
    );
}
