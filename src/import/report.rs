//! What the import tells its operator: rejected rows (on stderr, or in the
//! rejects CSV with --skip-invalid), progress, and the verification table.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use bigdecimal::BigDecimal;
use indicatif::{ProgressBar, ProgressStyle};

use super::rows::Reject;

/// Where rejected rows go.
pub struct Rejects {
    csv: Option<BufWriter<File>>,
    progress: Progress,
    /// Rows rejected (a row with several problems counts once).
    pub rows: u64,
    last_row: Option<(&'static str, i64)>,
}

/// A CSV field, quoted when it must be.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

impl Rejects {
    /// Rejects go to `csv` when given (with its header), else to stderr.
    pub fn new(csv: Option<&Path>, progress: Progress) -> io::Result<Self> {
        let csv = match csv {
            Some(path) => {
                let mut file = BufWriter::new(File::create(path)?);
                writeln!(file, "table,legacy_id,column,value,reason")?;
                Some(file)
            }
            None => None,
        };
        Ok(Self {
            csv,
            progress,
            rows: 0,
            last_row: None,
        })
    }

    pub fn record(&mut self, reject: &Reject) -> io::Result<()> {
        let row = (reject.table, reject.legacy_id);
        if self.last_row != Some(row) {
            self.rows += 1;
            self.last_row = Some(row);
        }
        match &mut self.csv {
            Some(csv) => writeln!(
                csv,
                "{},{},{},{},{}",
                reject.table,
                reject.legacy_id,
                csv_field(&reject.column),
                csv_field(&reject.value),
                csv_field(&reject.reason)
            ),
            None => {
                let line = format!(
                    "error: {} row {}: {} {:?} {}",
                    reject.table, reject.legacy_id, reject.column, reject.value, reject.reason
                );
                self.progress.println(&line);
                Ok(())
            }
        }
    }

    pub fn progress(&mut self) -> &mut Progress {
        &mut self.progress
    }

    pub fn finish(mut self) -> io::Result<Progress> {
        if let Some(csv) = &mut self.csv {
            csv.flush()?;
        }
        Ok(self.progress)
    }
}

/// A progress bar with rows per second on a terminal; a plain line every
/// few seconds otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
    done: u64,
    total: u64,
    stage: &'static str,
}

impl Progress {
    pub fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:>14} [{bar:32}] {human_pos}/{human_len} rows, {per_sec}, {eta} left",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar
        });
        Self {
            bar,
            started: Instant::now(),
            last_line: Instant::now(),
            done: 0,
            total,
            stage: "",
        }
    }

    pub fn stage(&mut self, stage: &'static str) {
        self.stage = stage;
        match &self.bar {
            Some(bar) => bar.set_message(stage),
            None => self.line(),
        }
    }

    pub fn advance(&mut self, rows: u64) {
        self.done += rows;
        match &self.bar {
            Some(bar) => bar.inc(rows),
            None if self.last_line.elapsed() >= Duration::from_secs(2) => self.line(),
            None => {}
        }
    }

    fn rate(&self) -> f64 {
        self.done as f64 / self.started.elapsed().as_secs_f64().max(0.001)
    }

    fn line(&mut self) {
        self.last_line = Instant::now();
        eprintln!(
            "import: {} {}/{} rows ({:.0} rows/s)",
            self.stage,
            self.done,
            self.total,
            self.rate()
        );
    }

    /// A line that does not tear the bar.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&mut self) {
        match self.bar.take() {
            Some(bar) => bar.finish_and_clear(),
            None => self.line(),
        }
    }

    pub fn rows_per_second(&self) -> f64 {
        self.rate()
    }
}

/// The tables of the verification table, in order.
pub const TABLES: [&str; 4] = ["customers", "invoices", "invoice_items", "payments"];

/// One account's numbers for one table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableCount {
    pub read: u64,
    /// Rows decided importable (written, once the import commits).
    pub written: u64,
    pub rejected: u64,
    /// Money of every source row, imported or rejected, as computed from
    /// the legacy values: the items' line totals (subtotal + tax), the
    /// payments' amounts.
    pub source_total: BigDecimal,
    /// The part of `source_total` in rejected rows.
    pub rejected_total: BigDecimal,
    /// Rejected rows whose money cannot be read as a number (in neither
    /// total).
    pub rejected_unreadable: u64,
    pub target_rows: u64,
    pub target_total: BigDecimal,
}

impl TableCount {
    fn has_money(table: &str) -> bool {
        matches!(table, "invoice_items" | "payments")
    }

    /// A rejected row, with its money if it can be read.
    pub fn reject(&mut self, money: Option<BigDecimal>) {
        self.read += 1;
        self.rejected += 1;
        match money {
            Some(money) => {
                self.source_total += &money;
                self.rejected_total += money;
            }
            None => self.rejected_unreadable += 1,
        }
    }

    /// Read = written + rejected, the database holds what was written, and
    /// its money is the source's less what was rejected.
    pub fn mismatch(&self, table: &str) -> bool {
        self.read != self.written + self.rejected
            || self.target_rows != self.written
            || (Self::has_money(table)
                && &self.source_total - &self.rejected_total != self.target_total)
    }
}

/// Per account (`-` for rows whose account cannot be told) and table.
#[derive(Debug, Default)]
pub struct Verification {
    /// By account, then table: an account's entry is found without
    /// allocating its name (this runs for every row).
    counts: BTreeMap<String, BTreeMap<&'static str, TableCount>>,
}

impl Verification {
    pub fn entry(&mut self, account: Option<&str>, table: &'static str) -> &mut TableCount {
        let account = account.unwrap_or("-");
        if !self.counts.contains_key(account) {
            self.counts.insert(account.to_owned(), BTreeMap::new());
        }
        let tables = self.counts.get_mut(account).expect("inserted above");
        tables.entry(table).or_default()
    }

    /// Every account's counts of every table, by account and table.
    pub fn counts(&self) -> impl Iterator<Item = (&str, &'static str, &TableCount)> {
        self.counts.iter().flat_map(|(account, tables)| {
            tables
                .iter()
                .map(move |(table, count)| (account.as_str(), *table, count))
        })
    }

    pub fn mismatches(&self) -> Vec<(String, &'static str)> {
        self.counts()
            .filter(|(_, table, count)| count.mismatch(table))
            .map(|(account, table, _)| (account.to_owned(), table))
            .collect()
    }

    /// Prints the table; `committed` false shows 0 written (nothing was),
    /// while the target columns still show what the rolled-back
    /// transaction held, which is what was checked.
    pub fn print(&self, out: &mut dyn Write, committed: bool) -> io::Result<()> {
        let width = self
            .counts
            .keys()
            .map(|account| account.len())
            .max()
            .unwrap_or(7)
            .max(7);
        writeln!(
            out,
            "{:<width$}  {:<13} {:>9} {:>9} {:>9}  {:>16} {:>16} {:>16}",
            "account",
            "table",
            "read",
            "written",
            "rejected",
            "source total",
            "rejected money",
            "target total"
        )?;
        for (account, table, count) in self.counts() {
            let (source, rejected, target) = if TableCount::has_money(table) {
                let mut rejected = count.rejected_total.to_plain_string();
                if count.rejected_unreadable > 0 {
                    rejected = format!("{rejected} +{}?", count.rejected_unreadable);
                }
                (
                    count.source_total.to_plain_string(),
                    rejected,
                    count.target_total.to_plain_string(),
                )
            } else {
                (String::new(), String::new(), String::new())
            };
            let written = if committed { count.written } else { 0 };
            let flag = if count.mismatch(table) {
                "  MISMATCH"
            } else {
                ""
            };
            writeln!(
                out,
                "{account:<width$}  {table:<13} {:>9} {written:>9} {:>9}  {source:>16} {rejected:>16} {target:>16}{flag}",
                count.read, count.rejected
            )?;
        }
        if self.counts().any(|(_, _, c)| c.rejected_unreadable > 0) {
            writeln!(
                out,
                "(+n? in rejected money: n rejected rows whose amounts are not numbers, in neither total)"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn a_count_that_does_not_add_up_is_a_mismatch() {
        let ok = TableCount {
            read: 3,
            written: 2,
            rejected: 1,
            source_total: "7.00".parse().unwrap(),
            rejected_total: "2.00".parse().unwrap(),
            rejected_unreadable: 0,
            target_rows: 2,
            target_total: "5.00".parse().unwrap(),
        };
        assert!(!ok.mismatch("payments"));
        assert!(
            TableCount {
                target_rows: 1,
                ..ok.clone()
            }
            .mismatch("customers")
        );
        assert!(
            TableCount {
                target_total: "5.01".parse().unwrap(),
                ..ok.clone()
            }
            .mismatch("payments")
        );
        assert!(
            !TableCount {
                target_total: "0".parse().unwrap(),
                ..ok.clone()
            }
            .mismatch("customers")
        );
    }
}
