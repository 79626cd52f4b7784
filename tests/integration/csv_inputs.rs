//! National-scale deliveries come as one CSV file per sheet. The same
//! generated year, delivered as workbooks and as CSV files, must give the
//! same indicators, value for value: the two readers agree on every cell
//! that matters (dates, decimal commas, identifiers stored as numbers).

use crate::common;

use common::arg;
use std::path::Path;

#[test]
fn every_source_as_csv_gives_the_same_indicators_as_workbooks() {
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let (xlsx, csv, out_xlsx, out_csv) = (
        dirs[0].path(),
        dirs[1].path(),
        dirs[2].path(),
        dirs[3].path(),
    );
    let sample = [
        "sample", "--year", "2020", "--scale", "0.2", "--seed", "7", "--out",
    ];
    common::assert_exit(&common::suivi(&[&sample[..], &[arg(xlsx)]].concat()), 0);
    common::assert_exit(
        &common::suivi(&[&sample[..], &[arg(csv), "--csv"]].concat()),
        0,
    );
    assert!(
        csv.join("departement_insertion_2020_orientations.csv")
            .is_file()
    );
    assert!(!csv.join("departement_insertion_2020.xlsx").exists());

    let loire = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/loire.toml");
    let csv_pipeline = suivi_sample::csv_pipeline(&loire, csv).unwrap();
    for (pipeline, inputs, out) in [(&loire, xlsx, out_xlsx), (&csv_pipeline, csv, out_csv)] {
        let run = [
            "run",
            arg(pipeline),
            "--year",
            "2020",
            "--inputs",
            arg(inputs),
            "--out",
            arg(out),
        ];
        common::assert_exit(&common::suivi(&run), 0);
    }
    let read = |out: &Path| std::fs::read_to_string(out.join("indicateurs_2020.csv")).unwrap();
    let (from_xlsx, from_csv) = (read(out_xlsx), read(out_csv));
    // 34 indicators, each for the département and its territories, by month.
    assert!(
        from_xlsx.lines().count() > 1000,
        "{} lines",
        from_xlsx.lines().count()
    );
    assert!(
        from_xlsx == from_csv,
        "the indicators differ between workbook and CSV inputs"
    );
}
