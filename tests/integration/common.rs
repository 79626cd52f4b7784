//! Helpers shared by the integration tests: running the `suivi` binary and
//! reading what it prints or writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The pseudonymisation key every test run uses (at least 16 bytes).
pub const PSEUDONYM_KEY: &str = "integration-tests-only-key-0123456789";

/// Runs the `suivi` binary with `args`, a fixed pseudonymisation key and no
/// logging configuration inherited from the environment.
pub fn suivi(args: &[&str]) -> Output {
    suivi_command(args).output().expect("the suivi binary runs")
}

/// The command [`suivi`] runs, to add a working directory or environment.
pub fn suivi_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_suivi"));
    command
        .args(args)
        .env("SUIVI_PSEUDONYM_KEY", PSEUDONYM_KEY)
        .env_remove("SUIVI_PSEUDONYM_KEY_FILE")
        .env_remove("SUIVI_LOG")
        .env("NO_COLOR", "1");
    command
}

/// `tests/fixtures/<relative>`, as an absolute path.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// A path as the `&str` argument the binary takes.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "expected exit code {code}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(output),
        stderr(output)
    );
}

/// One line of the table `suivi check` prints: one file (or sheet) of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    pub source: String,
    pub file: String,
    /// `None` for CSV files (`-` in the table).
    pub sheet: Option<String>,
    pub header_row: usize,
    pub read: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub skipped: usize,
    /// Identical rows without an identifier, kept (possible double entries).
    pub repeats: usize,
    /// Accepted rows whose commune was mapped from a former code.
    pub mapped: usize,
}

impl CheckRow {
    /// The figures only, to compare two files holding the same table.
    pub fn figures(&self) -> [usize; 5] {
        [
            self.header_row,
            self.read,
            self.accepted,
            self.rejected,
            self.skipped,
        ]
    }

    /// Every row read is accepted, rejected or skipped.
    #[track_caller]
    pub fn assert_reconciled(&self) {
        assert_eq!(
            self.read,
            1 + self.accepted + self.rejected + self.skipped,
            "rows read != header + accepted + rejected + skipped for {self:?}"
        );
    }
}

/// The per-file table of `suivi check`'s standard output: the lines after
/// the `source file sheet header read accepted rejected skipped repeats
/// mapped` header, up to the first line starting with `(`. Sheet names may hold spaces; file names may not.
pub fn check_table(stdout: &str) -> Vec<CheckRow> {
    let mut lines = stdout.lines();
    lines
        .by_ref()
        .find(|l| l.split_whitespace().next() == Some("source"))
        .unwrap_or_else(|| panic!("no check table in:\n{stdout}"));
    lines
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('('))
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert!(words.len() >= 10, "unexpected check table line: {line:?}");
            let n = words.len();
            let number = |w: &str| -> usize {
                w.parse()
                    .unwrap_or_else(|_| panic!("not a number: {w:?} in {line:?}"))
            };
            let sheet = words[2..n - 7].join(" ");
            CheckRow {
                source: words[0].to_owned(),
                file: words[1].to_owned(),
                sheet: (sheet != "-").then_some(sheet),
                header_row: number(words[n - 7]),
                read: number(words[n - 6]),
                accepted: number(words[n - 5]),
                rejected: number(words[n - 4]),
                skipped: number(words[n - 3]),
                repeats: number(words[n - 2]),
                mapped: number(words[n - 1]),
            }
        })
        .collect()
}

/// The row of `source` in the check table.
#[track_caller]
pub fn check_row<'a>(table: &'a [CheckRow], source: &str) -> &'a CheckRow {
    table
        .iter()
        .find(|r| r.source == source)
        .unwrap_or_else(|| panic!("no source {source} in {table:#?}"))
}

/// One line of the `--rejects` CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectLine {
    pub file: String,
    pub sheet: String,
    pub row: usize,
    pub column: String,
    pub reason: String,
    pub message: String,
    pub value: String,
}

impl RejectLine {
    /// `(row, column, reason)`: what most assertions compare.
    pub fn key(&self) -> (usize, &str, &str) {
        (self.row, self.column.as_str(), self.reason.as_str())
    }
}

pub const REJECTS_HEADER: [&str; 7] = [
    "file", "sheet", "row", "column", "reason", "message", "value",
];

/// Reads a `--rejects` file (`;`-separated, with the documented header).
pub fn read_rejects(path: &Path) -> Vec<RejectLine> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let header: Vec<String> = reader
        .headers()
        .expect("a header line")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, REJECTS_HEADER, "header of {}", path.display());
    reader
        .records()
        .map(|record| {
            let r = record.expect("a well-formed rejects line");
            RejectLine {
                file: r[0].to_owned(),
                sheet: r[1].to_owned(),
                row: r[2].parse().expect("a row number"),
                column: r[3].to_owned(),
                reason: r[4].to_owned(),
                message: r[5].to_owned(),
                value: r[6].to_owned(),
            }
        })
        .collect()
}

/// Runs `suivi check PIPELINE --rejects <tmp>/rejects.csv` plus `extra`
/// arguments; returns the output, the check table and the rejects written
/// (empty when the file was not written).
pub fn check_with_rejects(
    pipeline: &Path,
    extra: &[&str],
) -> (Output, Vec<CheckRow>, Vec<RejectLine>) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let rejects = dir.path().join("rejects.csv");
    let mut args = vec!["check", arg(pipeline), "--rejects", arg(&rejects)];
    args.extend_from_slice(extra);
    let output = suivi(&args);
    let out = stdout(&output);
    let table = if out.lines().any(|l| l.starts_with("source")) {
        check_table(&out)
    } else {
        Vec::new()
    };
    let lines = if rejects.exists() {
        read_rejects(&rejects)
    } else {
        Vec::new()
    };
    (output, table, lines)
}

/// Asserts that `excel` is `tools` for French Excel: a UTF-8 byte order
/// mark, the same `;` records, and every number with a decimal point
/// written with a decimal comma. Returns how many numbers were converted.
pub fn assert_french_excel_twin(tools: &Path, excel: &Path) -> usize {
    let excel_bytes = std::fs::read(excel).expect("the Excel CSV");
    let body = excel_bytes
        .strip_prefix("\u{feff}".as_bytes())
        .unwrap_or_else(|| panic!("{} has no byte order mark", excel.display()));
    let read = |bytes: &[u8]| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .map(|r| r.expect("a record").iter().map(str::to_owned).collect())
            .collect()
    };
    let (tools_records, excel_records) =
        (read(&std::fs::read(tools).expect("the CSV")), read(body));
    assert_eq!(tools_records.len(), excel_records.len());
    let mut converted = 0;
    for (t, e) in tools_records.iter().zip(&excel_records) {
        assert_eq!(t.len(), e.len());
        for (t, e) in t.iter().zip(e) {
            if t.contains('.') && t.parse::<f64>().is_ok() {
                assert_eq!(*e, t.replace('.', ","));
                converted += 1;
            } else {
                assert_eq!(e, t);
            }
        }
    }
    converted
}
