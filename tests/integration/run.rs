//! `suivi run` as an operator's nightly job sees it: exit codes, atomic
//! outputs under SIGKILL, the lock, `--if-changed`, identical bytes.

use crate::common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pipeline() -> PathBuf {
    root().join("pipelines/loire.toml")
}

/// A copy of the committed 2020 sample (2019 left out: faster runs).
fn copy_sample(dir: &Path) {
    copy_year(dir, 2020);
}

/// A copy of the committed sample's deliveries of `year`.
fn copy_year(dir: &Path, year: i32) {
    for stem in [
        "caf_rsa_{}.csv",
        "departement_insertion_{}.xlsx",
        "pole_emploi_brsa_{}.xlsx",
        "finances_{}.xlsx",
    ] {
        let name = stem.replace("{}", &year.to_string());
        std::fs::copy(root().join("inputs").join(&name), dir.join(&name)).unwrap();
    }
}

fn run_args<'a>(inputs: &'a Path, out: &'a Path) -> Vec<&'a str> {
    let pipeline = Box::leak(Box::new(pipeline()));
    vec![
        "run",
        common::arg(pipeline),
        "--year",
        "2020",
        "--inputs",
        common::arg(inputs),
        "--out",
        common::arg(out),
    ]
}

/// Every file of a folder with its bytes, the lock file aside.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != ".suivi.lock" && p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

const OUTPUTS: [&str; 9] = [
    "indicateurs_2020.csv",
    "changements_2020.csv",
    "changements_excel_2020.csv",
    "indicateurs_excel_2020.csv",
    "indicateurs_2020.parquet",
    "rapport_execution_2020.xlsx",
    "suivi_financier_2020.xlsx",
    "qualite_donnees_2020.xlsx",
    "manifest_2020.json",
];

#[test]
fn exit_code_0_writes_every_output() {
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    common::assert_exit(&common::suivi(&run_args(inputs.path(), out.path())), 0);
    let files = snapshot(out.path());
    for name in OUTPUTS {
        assert!(
            files.get(name).is_some_and(|b| !b.is_empty()),
            "{name} missing"
        );
    }
}

/// Issue 36: what a run says matches what follows it. Every output is
/// listed, the manifest included; files and sheets are counted as such; the
/// lock file is empty once no run holds it; without a key in the
/// environment, the random-key line waits for `-v`.
#[test]
fn a_run_lists_every_output_and_counts_files_and_sheets() {
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    let output = common::suivi_command(&run_args(inputs.path(), out.path()))
        .env_remove("SUIVI_PSEUDONYM_KEY")
        .output()
        .unwrap();
    common::assert_exit(&output, 0);
    let listed: Vec<String> = common::stdout(&output)
        .lines()
        .map(|l| {
            Path::new(l)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut expected: Vec<String> = OUTPUTS.iter().map(|o| o.to_string()).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    assert_eq!(
        listed.last().map(String::as_str),
        Some("manifest_2020.json")
    );
    let err = common::stderr(&output);
    // The sample: one CSV file and three workbooks of 8 sheets read.
    assert!(
        err.contains("rows read from 4 files (8 sheets of workbooks and 1 CSV file)"),
        "{err}"
    );
    assert!(!err.contains("random key"), "{err}");
    let lock = std::fs::read(out.path().join(".suivi.lock")).unwrap();
    assert!(lock.is_empty(), "{}", String::from_utf8_lossy(&lock));

    let verbose = common::suivi_command(&["-v"])
        .args(run_args(inputs.path(), out.path()))
        .env_remove("SUIVI_PSEUDONYM_KEY")
        .output()
        .unwrap();
    common::assert_exit(&verbose, 0);
    assert!(common::stderr(&verbose).contains("random key"));
}

/// Issue 36: `check` names every missing delivery at once, by its source's
/// label and its pattern in the input folder, and the years the folder holds.
#[test]
fn check_names_every_missing_delivery_and_the_years_present() {
    let inputs = tempfile::tempdir().unwrap();
    copy_sample(inputs.path());
    copy_year(inputs.path(), 2019);
    std::fs::remove_file(inputs.path().join("pole_emploi_brsa_2020.xlsx")).unwrap();
    std::fs::remove_file(inputs.path().join("caf_rsa_2020.csv")).unwrap();
    let output = common::suivi(&[
        "check",
        common::arg(&pipeline()),
        "--year",
        "2020",
        "--inputs",
        common::arg(inputs.path()),
    ]);
    common::assert_exit(&output, 3);
    let err = common::stderr(&output);
    assert!(
        err.contains("2 of the 2020 deliveries cannot be used"),
        "{err}"
    );
    assert!(
        err.contains("  - CAF - foyers RSA (stock mensuel) (caf_rsa_2020.csv): no input file matches this name"),
        "{err}"
    );
    assert!(
        err.contains("(pole_emploi_brsa_2020.*): no input file matches this name"),
        "{err}"
    );
    assert!(!err.contains(".."), "{err}");
    assert!(
        err.contains("The folder holds a complete set of deliveries for 2019."),
        "{err}"
    );
}

#[test]
fn exit_code_2_for_a_bad_command_line_or_pipeline_file() {
    common::assert_exit(&common::suivi(&["run"]), 2);
    common::assert_exit(
        &common::suivi(&["run", common::arg(&pipeline()), "--year", "deux-mille"]),
        2,
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(pipeline())
            .unwrap()
            .replace("kind = \"share\"", "kind = \"part\""),
    )
    .unwrap();
    let output = common::suivi(&["run", common::arg(&bad), "--out", common::arg(dir.path())]);
    common::assert_exit(&output, 2);
    assert!(
        common::stderr(&output).contains("line "),
        "{}",
        common::stderr(&output)
    );
}

#[test]
fn exit_code_3_for_inputs_that_fail_validation() {
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    std::fs::remove_file(inputs.path().join("finances_2020.xlsx")).unwrap();
    let output = common::suivi(&run_args(inputs.path(), out.path()));
    common::assert_exit(&output, 3);
    assert!(
        common::stderr(&output).contains("finances_2020"),
        "{}",
        common::stderr(&output)
    );
    assert!(!out.path().join("indicateurs_2020.csv").exists());
}

#[test]
fn exit_code_1_when_an_output_cannot_be_written() {
    let inputs = tempfile::tempdir().unwrap();
    copy_sample(inputs.path());
    let blocker = inputs.path().join("not-a-folder");
    std::fs::write(&blocker, "a file where the output folder should be").unwrap();
    common::assert_exit(&common::suivi(&run_args(inputs.path(), &blocker)), 1);
}

#[test]
fn exit_code_4_while_another_process_holds_the_lock() {
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    // This test process is the other run: it takes the OS lock as suivi would.
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(out.path().join(".suivi.lock"))
        .unwrap();
    std::fs::write(
        out.path().join(".suivi.lock"),
        "pid 4242 since 2020-01-01 00:00:00",
    )
    .unwrap();
    lock.try_lock().unwrap();
    let output = common::suivi(&run_args(inputs.path(), out.path()));
    common::assert_exit(&output, 4);
    assert!(
        common::stderr(&output).contains("pid 4242"),
        "the message names the holder: {}",
        common::stderr(&output)
    );
    assert!(!out.path().join("indicateurs_2020.csv").exists());
    // Released (or its holder killed): the next run goes through.
    drop(lock);
    common::assert_exit(&common::suivi(&run_args(inputs.path(), out.path())), 0);
}

#[test]
fn two_runs_write_identical_bytes() {
    let inputs = tempfile::tempdir().unwrap();
    copy_sample(inputs.path());
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    common::assert_exit(&common::suivi(&run_args(inputs.path(), a.path())), 0);
    common::assert_exit(&common::suivi(&run_args(inputs.path(), b.path())), 0);
    let (first, second) = (snapshot(a.path()), snapshot(b.path()));
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &first {
        if name == "manifest_2020.json" {
            let strip = |b: &[u8]| -> serde_json::Value {
                let mut v: serde_json::Value = serde_json::from_slice(b).unwrap();
                let fields = v.as_object_mut().unwrap();
                // Measurements of the run, not results.
                for measure in ["timings_ms", "started_at", "peak_memory_mib"] {
                    assert!(fields.remove(measure).is_some(), "no {measure}");
                }
                for input in fields["inputs"].as_array_mut().unwrap() {
                    let input = input.as_object_mut().unwrap();
                    assert!(input.remove("read_ms").is_some(), "no read_ms");
                }
                v
            };
            assert_eq!(
                strip(bytes),
                strip(&second[name]),
                "manifest apart from its timings and peak memory"
            );
        } else {
            assert!(
                bytes == &second[name],
                "{name} differs between two identical runs"
            );
        }
    }
}

#[test]
fn if_changed_skips_an_unchanged_run_and_reruns_a_changed_one() {
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    // A run without the flag makes its fingerprint after reading, from the
    // readers' hashes: the same as the one `--if-changed` makes before.
    common::assert_exit(&common::suivi(&run_args(inputs.path(), out.path())), 0);
    let mut args = run_args(inputs.path(), out.path());
    args.push("--if-changed");
    let before = snapshot(out.path());
    let modified = std::fs::metadata(out.path().join("indicateurs_2020.csv"))
        .unwrap()
        .modified()
        .unwrap();

    let output = common::suivi(&args);
    common::assert_exit(&output, 0);
    assert!(
        common::stderr(&output).contains("unchanged"),
        "{}",
        common::stderr(&output)
    );
    assert_eq!(
        std::fs::metadata(out.path().join("indicateurs_2020.csv"))
            .unwrap()
            .modified()
            .unwrap(),
        modified
    );
    assert_eq!(snapshot(out.path()), before, "nothing rewritten");

    // The CAF resends its file with one more line (a duplicate, rejected): the run must happen.
    let caf = inputs.path().join("caf_rsa_2020.csv");
    let mut text = std::fs::read(&caf).unwrap();
    let last_line_start = text[..text.len() - 2]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    let last_line = text[last_line_start..].to_vec();
    text.extend_from_slice(&last_line);
    std::fs::write(&caf, text).unwrap();
    let output = common::suivi(&args);
    common::assert_exit(&output, 0);
    assert!(!common::stderr(&output).contains("unchanged"));
    assert_ne!(
        snapshot(out.path())["manifest_2020.json"],
        before["manifest_2020.json"]
    );
}

#[test]
fn a_run_killed_at_any_moment_leaves_complete_outputs_or_none() {
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    common::assert_exit(&common::suivi(&run_args(inputs.path(), out.path())), 0);
    // Time runs and their write stage (from the manifest), then kill runs
    // at pseudo-random moments, most of them inside the write stage. The
    // shortest of three runs: on a busy machine one run can be slow, and
    // kills timed after it would come too late.
    let length = (0..3)
        .map(|_| {
            let start = std::time::Instant::now();
            common::assert_exit(&common::suivi(&run_args(inputs.path(), out.path())), 0);
            start.elapsed()
        })
        .min()
        .unwrap();
    // A rerun's set, which compares with a previous run (the first one could not).
    let reference = snapshot(out.path());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest_2020.json")).unwrap())
            .unwrap();
    let write = Duration::from_millis(manifest["timings_ms"]["write"].as_u64().unwrap());
    let mut length = length;
    let mut seed: u64 = std::process::id().into();
    let mut killed = 0;
    // Sixteen kills, in at most 32 runs: a run that ends before its kill
    // shows runs are now shorter, and later kills are timed earlier.
    for i in 0..32u32 {
        if killed == 16 {
            break;
        }
        let write_start = length.saturating_sub(write + Duration::from_millis(50));
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let fraction = (seed >> 11) as f64 / (1u64 << 53) as f64;
        // Three kills in four land in the write stage, the others anywhere after the start.
        let at = if i % 4 == 3 {
            length.mul_f64(0.2 + 0.8 * fraction)
        } else {
            write_start + (length - write_start).mul_f64(fraction)
        };
        let mut child = common::suivi_command(&run_args(inputs.path(), out.path()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        } else {
            length = length.min(at.mul_f64(0.95));
        }
        child.wait().unwrap();
        // Whatever the moment, every output is the complete previous one.
        for (name, bytes) in snapshot(out.path()) {
            if name.starts_with(".suivi-") {
                // A stale temporary file or a commit journal: the next run
                // removes it, completing the set.
                continue;
            }
            if name == "manifest_2020.json" {
                continue; // rewritten with new timings by runs that finished
            }
            assert!(
                bytes == reference[&name],
                "{name} is not the complete output after a kill at {at:?}"
            );
        }
    }
    assert!(
        killed >= 6,
        "only {killed} runs were killed before they ended"
    );
    common::assert_exit(&common::suivi(&run_args(inputs.path(), out.path())), 0);
    let left: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".suivi-") && n != ".suivi.lock")
        .collect();
    assert!(
        left.is_empty(),
        "stale temporary files, journals and staging folders are removed: {left:?}"
    );
}

/// The manifest's input hashes are those of the files read, whether the
/// reader reused the fingerprint's hash or computed its own.
#[test]
fn the_manifest_records_the_sha256_of_every_input() {
    use sha2::{Digest, Sha256};
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    common::assert_exit(&common::suivi(&run_args(inputs.path(), out.path())), 0);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest_2020.json")).unwrap())
            .unwrap();
    let recorded = manifest["inputs"].as_array().unwrap();
    // 9 sources: the Département workbook is recorded once per sheet.
    assert_eq!(recorded.len(), 9);
    for input in recorded {
        let file = input["file"].as_str().unwrap();
        let bytes = std::fs::read(inputs.path().join(file)).unwrap();
        assert_eq!(
            input["sha256"].as_str().unwrap(),
            hex::encode(Sha256::digest(&bytes)),
            "{file}"
        );
    }
}

/// Issue 15: every output used to be 0600 whatever the umask.
#[cfg(unix)]
#[test]
fn outputs_get_the_permissions_of_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg("umask 027 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_suivi"))
        .args(run_args(inputs.path(), out.path()))
        .env("SUIVI_PSEUDONYM_KEY", common::PSEUDONYM_KEY);
    let output = command.output().unwrap();
    common::assert_exit(&output, 0);
    for name in OUTPUTS {
        let mode = std::fs::metadata(out.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "{name}: {mode:o}");
    }
}

/// Issue 15: a set interrupted between two renames is completed (its
/// journal lists every staged file) or rolled back (no journal) by the next
/// run, which says so.
#[test]
fn an_interrupted_set_is_completed_or_rolled_back_at_the_next_start() {
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    common::assert_exit(&common::suivi(&run_args(inputs.path(), out.path())), 0);
    let complete = snapshot(out.path());

    // Killed after its journal: two files staged, one already moved.
    let staging = out.path().join(".suivi-staging-2020");
    std::fs::create_dir(&staging).unwrap();
    std::fs::write(staging.join("indicateurs_2020.csv"), "new").unwrap();
    std::fs::write(
        out.path().join(".suivi-commit-2020"),
        "indicateurs_2020.csv\nindicateurs_2020.parquet",
    )
    .unwrap();
    // Killed before its journal: nothing of it may land.
    let other = out.path().join(".suivi-staging-2019");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("indicateurs_2019.csv"), "half").unwrap();

    let mut args = run_args(inputs.path(), out.path());
    args.push("--if-changed");
    let output = common::suivi(&args);
    common::assert_exit(&output, 0);
    let err = common::stderr(&output);
    assert!(
        err.contains("completed the outputs 2020 of an interrupted run (2 files)"),
        "{err}"
    );
    assert!(
        err.contains("rolled back the outputs 2019 of an interrupted run"),
        "{err}"
    );
    assert!(!out.path().join("indicateurs_2019.csv").exists());
    // The completed file differed from its manifest: the run rewrote the set.
    let after = snapshot(out.path());
    assert_eq!(
        after["indicateurs_2020.csv"],
        complete["indicateurs_2020.csv"]
    );
    let left: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".suivi-") && n != ".suivi.lock")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Issue 15: an unmounted share got a local tree and a success.
#[test]
fn an_output_folder_whose_parent_is_missing_is_exit_2() {
    let (inputs, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    let out = root.path().join("partage").join("suivi");
    let output = common::suivi(&run_args(inputs.path(), &out));
    common::assert_exit(&output, 2);
    assert!(common::stderr(&output).contains("its parent folder does not exist"));
    assert!(!root.path().join("partage").exists());
}

/// Issue 15: the indicator table for French Excel (BOM, decimal comma)
/// beside the machine CSV (no BOM, decimal point), cell for cell the same;
/// and one manifest per year and diffusion.
#[test]
fn the_excel_table_and_the_manifests_of_each_diffusion() {
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    common::assert_exit(&common::suivi(&run_args(inputs.path(), out.path())), 0);
    let machine = std::fs::read(out.path().join("indicateurs_2020.csv")).unwrap();
    let excel = std::fs::read(out.path().join("indicateurs_excel_2020.csv")).unwrap();
    assert!(!machine.starts_with("\u{feff}".as_bytes()));
    assert!(excel.starts_with("\u{feff}".as_bytes()));
    let records = |bytes: &[u8]| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    };
    let (machine, excel) = (records(&machine), records(&excel[3..]));
    assert_eq!(machine.len(), excel.len());
    let mut commas = 0;
    for (m, e) in machine.iter().zip(&excel) {
        for (col, (a, b)) in m.iter().zip(e).enumerate() {
            if [6, 7, 8, 9, 11].contains(&col) && a.parse::<f64>().is_ok() {
                assert_eq!(&a.replace('.', ","), b);
                commas += usize::from(b.contains(','));
            } else {
                assert_eq!(a, b);
            }
        }
    }
    assert!(commas > 0, "shares are written with a decimal comma");

    let public = std::fs::read(out.path().join("manifest_2020.json")).unwrap();
    let mut args = run_args(inputs.path(), out.path());
    args.extend(["--diffusion", "interne"]);
    common::assert_exit(&common::suivi(&args), 0);
    assert_eq!(
        std::fs::read(out.path().join("manifest_2020.json")).unwrap(),
        public
    );
    let internal: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join("manifest_2020_interne.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(internal["diffusion"], "interne");
}

/// (indicateur, territoire, mois, ventilation) → valeur, read from a `;` CSV
/// with those headers.
fn cells(text: &str, value: &str) -> BTreeMap<[String; 4], String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (i, t, m, v, x) = (
        col("indicateur"),
        col("territoire"),
        col("mois"),
        col("ventilation"),
        col(value),
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let f = |k: usize| r[k].to_owned();
            ([f(i), f(t), f(m), f(v)], f(x))
        })
        .collect()
}

/// Issue 14: two nightly runs, the second on a CAF file with a tenth of
/// its households removed: `changements_2020.csv` lists exactly the cells
/// that differ between the two published tables, with their old and new
/// values, and the final log line gives their number.
#[test]
fn the_second_nightly_run_lists_exactly_the_cells_that_changed() {
    let inputs = tempfile::tempdir().unwrap();
    copy_sample(inputs.path());
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out");
    let first = common::suivi(&run_args(inputs.path(), &out));
    common::assert_exit(&first, 0);
    assert!(common::stderr(&first).contains("no previous run to compare with"));
    let changes = std::fs::read_to_string(out.join("changements_2020.csv")).unwrap();
    assert_eq!(
        changes,
        "indicateur;territoire;mois;ventilation;avant;apres\n"
    );
    let before = std::fs::read_to_string(out.join("indicateurs_2020.csv")).unwrap();

    // Households whose number ends with 7 leave the CAF file.
    let caf = inputs.path().join("caf_rsa_2020.csv");
    let text = std::fs::read_to_string(&caf).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, line)| *i == 0 || !line.split(';').nth(1).is_some_and(|n| n.ends_with('7')))
        .map(|(_, line)| line)
        .collect();
    assert!(kept.len() < text.lines().count() * 95 / 100);
    std::fs::write(&caf, kept.join("\r\n") + "\r\n").unwrap();
    let mut args = run_args(inputs.path(), &out);
    args.extend(["--log-format", "json"]);
    let second = common::suivi(&args);
    common::assert_exit(&second, 0);
    let after = std::fs::read_to_string(out.join("indicateurs_2020.csv")).unwrap();

    // The expected changes, from the two tables alone.
    let (old, new) = (cells(&before, "valeur"), cells(&after, "valeur"));
    let mut expected: Vec<([String; 4], String, String)> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| {
            (
                k.clone(),
                old.get(k).cloned().unwrap_or_default(),
                v.clone(),
            )
        })
        .chain(
            old.iter()
                .filter(|(k, _)| !new.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone(), String::new())),
        )
        .collect();
    expected.sort();
    assert!(expected.len() > 10, "{} changes", expected.len());
    let written = std::fs::read_to_string(out.join("changements_2020.csv")).unwrap();
    let mut listed: Vec<([String; 4], String, String)> = cells(&written, "avant")
        .into_iter()
        .zip(cells(&written, "apres"))
        .map(|((k, before), (_, after))| (k, before, after))
        .collect();
    listed.sort();
    assert_eq!(listed, expected);
    let converted = common::assert_french_excel_twin(
        &out.join("changements_2020.csv"),
        &out.join("changements_excel_2020.csv"),
    );
    assert!(converted > 0, "some changed values have decimals");
    // A masked cell shows as its symbol on both sides, never as a figure.
    assert!(listed.iter().all(|(_, b, a)| b != a));

    // The final log line gives the count; the quality workbook lists them too.
    let log = common::stderr(&second);
    assert!(
        log.contains(&format!("\"changed_cells\":{}", expected.len())),
        "{log}"
    );
    let mut workbook = calamine::open_workbook_auto(out.join("qualite_donnees_2020.xlsx")).unwrap();
    let sheet = calamine::Reader::worksheet_range(&mut workbook, "Changements").unwrap();
    let rows: Vec<_> = sheet.rows().collect();
    let header = rows
        .iter()
        .position(|r| r.first().is_some_and(|c| *c == "Indicateur"))
        .unwrap();
    assert_eq!(rows.len() - header - 1, expected.len());
    let notes: String = rows[..header].iter().map(|r| r[0].to_string()).collect();
    assert!(
        notes.contains("Fichier caf_rsa_2020.csv : modifié"),
        "{notes}"
    );
}

/// (indicator, territory, month, breakdown) → (valeur, valeur_n1) of an
/// indicator CSV.
fn indicator_values(path: &Path) -> BTreeMap<[String; 4], (String, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let key = ["indicateur", "territoire", "mois", "ventilation"].map(col);
    let (value, previous) = (col("valeur"), col("valeur_n1"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                key.map(|c| r[c].to_owned()),
                (r[value].to_owned(), r[previous].to_owned()),
            )
        })
        .collect()
}

/// Issue 36: one missing file of the previous year dropped every N-1 value.
/// Without the Pôle emploi file of 2019, the indicators computed from it
/// (RSA-11, RSA-12, as the catalogue defines them) have no N-1 value, every
/// other keeps 2019's, as a run of 2019 alone gives it; the run warns naming
/// the file, and so does the report.
#[test]
fn a_missing_file_of_the_previous_year_only_drops_the_indicators_reading_it() {
    let inputs = tempfile::tempdir().unwrap();
    copy_sample(inputs.path());
    copy_year(inputs.path(), 2019);
    let run = |year: &str, out: &Path| {
        let mut args = run_args(inputs.path(), out);
        args[3] = year;
        args.extend(["--diffusion", "interne"]);
        common::suivi(&args)
    };
    let out_2019 = tempfile::tempdir().unwrap();
    common::assert_exit(&run("2019", out_2019.path()), 0);
    let last_year = indicator_values(&out_2019.path().join("indicateurs_2019_interne.csv"));

    std::fs::remove_file(inputs.path().join("pole_emploi_brsa_2019.xlsx")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = run("2020", out.path());
    common::assert_exit(&output, 0);
    let err = common::stderr(&output);
    assert!(
        err.contains("WARN")
            && err.contains(
                "Pôle emploi - demandeurs d'emploi bénéficiaires du RSA \
                 (pole_emploi_brsa_2019.*): no input file matches this name"
            ),
        "{err}"
    );
    let this_year = indicator_values(&out.path().join("indicateurs_2020_interne.csv"));
    let from_pole_emploi = ["RSA-11", "RSA-12"];
    let mut kept = 0;
    for (key, (_, previous)) in &this_year {
        if from_pole_emploi.contains(&key[0].as_str()) {
            assert_eq!(previous, "", "{key:?}");
        } else {
            let expected = last_year.get(key).map(|v| v.0.as_str()).unwrap_or("");
            assert_eq!(previous, expected, "{key:?}");
            kept += usize::from(!previous.is_empty());
        }
    }
    assert!(kept > 1000, "{kept} N-1 values kept");
    let mut workbook =
        calamine::open_workbook_auto(out.path().join("rapport_execution_2020_interne.xlsx"))
            .unwrap();
    use calamine::Reader;
    let summary = workbook.worksheet_range("Synthèse").unwrap();
    let notes: String = summary.rows().take(6).map(|r| r[0].to_string()).collect();
    assert!(
        notes.contains("sauf pour les indicateurs qui lisent un fichier 2019 absent")
            && notes.contains("pole_emploi_brsa_2019.*"),
        "{notes}"
    );
}

/// Issue 38: folders others can write into. A link planted as the lock file
/// is refused, and the file it points at is left as it was.
#[test]
fn a_link_planted_as_the_lock_file_is_refused_and_its_target_untouched() {
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, out.path().join(".suivi.lock")).unwrap();
    let output = common::suivi(&run_args(inputs.path(), out.path()));
    common::assert_exit(&output, 2);
    assert!(common::stderr(&output).contains("is a symbolic link, not a lock file"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
}

/// Issue 38: a planted journal naming `../x` beside an empty staging folder
/// moved `x` out of the output folder; a planted journal alone failed the
/// run. Now neither moves anything, and the run goes on.
#[test]
fn a_planted_journal_moves_nothing_out_of_the_folder() {
    let (inputs, parent) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    let out = parent.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("x"), "stays").unwrap();
    std::fs::write(out.join(".suivi-commit-2020"), "../x").unwrap();
    std::fs::create_dir(out.join(".suivi-staging-2020")).unwrap();
    common::assert_exit(&common::suivi(&run_args(inputs.path(), &out)), 0);
    assert_eq!(std::fs::read_to_string(out.join("x")).unwrap(), "stays");
    assert!(!parent.path().join("x").exists());
    assert!(!out.join(".suivi-commit-2020").exists());

    // A journal alone, listing plain output names: nothing to move, no failure.
    std::fs::write(out.join(".suivi-commit-2019"), "indicateurs_2019.csv").unwrap();
    common::assert_exit(&common::suivi(&run_args(inputs.path(), &out)), 0);
    assert!(!out.join(".suivi-commit-2019").exists());
}

/// Issue 38: a staging folder planted as a link to another folder: the run
/// removes the link, never what it points at, and writes nothing there.
#[test]
fn a_staging_folder_planted_as_a_link_is_not_followed() {
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("precious.csv"), "keep").unwrap();
    std::os::unix::fs::symlink(outside.path(), out.path().join(".suivi-staging-2020")).unwrap();
    common::assert_exit(&common::suivi(&run_args(inputs.path(), out.path())), 0);
    let left: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["precious.csv"]);
    assert_eq!(
        std::fs::read_to_string(outside.path().join("precious.csv")).unwrap(),
        "keep"
    );
    assert!(out.path().join("indicateurs_2020.csv").is_file());
}

/// Issue 38: a link named like a delivery in the drop folder is not read
/// (its values would reach the rejects listing), unless the pipeline says
/// links there are trusted.
#[test]
fn a_link_named_like_a_delivery_is_not_read() {
    let (inputs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_sample(inputs.path());
    let elsewhere = tempfile::tempdir().unwrap();
    let real = elsewhere.path().join("secret.csv");
    std::fs::rename(inputs.path().join("caf_rsa_2020.csv"), &real).unwrap();
    std::os::unix::fs::symlink(&real, inputs.path().join("caf_rsa_2020.csv")).unwrap();
    let output = common::suivi(&run_args(inputs.path(), out.path()));
    common::assert_exit(&output, 3);
    let err = common::stderr(&output);
    assert!(
        err.contains("caf_rsa_2020.csv is a symbolic link") && err.contains("follow_links"),
        "{err}"
    );
    assert!(!out.path().join("indicateurs_2020.csv").exists());

    let dir = tempfile::tempdir().unwrap();
    let trusting = dir.path().join("pipeline.toml");
    let text = std::fs::read_to_string(pipeline()).unwrap().replace(
        "\"../inputs/referentiel/",
        &format!("\"{}/inputs/referentiel/", env!("CARGO_MANIFEST_DIR")),
    );
    std::fs::write(
        &trusting,
        text.replacen("[pipeline]\n", "[pipeline]\nfollow_links = true\n", 1),
    )
    .unwrap();
    let mut args = run_args(inputs.path(), out.path());
    args[1] = common::arg(&trusting);
    common::assert_exit(&common::suivi(&args), 0);
}
