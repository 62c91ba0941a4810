//! A real Slurm: a one-node cluster on localhost runs a 4-task array of a sweep, an `afterok`
//! job merges the parts, and the result equals a local run's.
//!
//! It installs Slurm and MUNGE from Debian's packages if needed and starts daemons, so it
//! needs root: plain `cargo test` skips it, `tests/all.sh` (the README's test command) runs it
//! with `cargo test --profile ci --test slurm -- --ignored`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{coordsim, data, read_parquet, without};

const TIMING: [&str; 2] = ["elapsed_s", "trials_per_s"];

/// The one-node cluster; stopped when dropped, whatever the test's outcome.
struct Cluster {
    scratch: PathBuf,
}

impl Cluster {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slurm/cluster.sh")
    }

    fn start(scratch: &Path) -> Self {
        let status = Command::new(Self::script())
            .arg("start")
            .arg(scratch)
            .status()
            .unwrap();
        assert!(status.success(), "the Slurm cluster did not start");
        Self {
            scratch: scratch.to_path_buf(),
        }
    }

    fn sbatch(&self, dir: &Path, args: &[&str]) -> String {
        let out = Command::new("sbatch")
            .current_dir(dir)
            .env("SLURM_CONF", self.scratch.join("slurm.conf"))
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success(),
            "sbatch {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(Self::script())
            .arg("stop")
            .arg(&self.scratch)
            .status();
    }
}

#[test]
#[ignore = "needs root to install and start Slurm; run by tests/all.sh"]
fn a_slurm_array_merges_to_a_local_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cluster = Cluster::start(&dir.join("slurm"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let binary = assert_cmd::cargo::cargo_bin("coordsim");
    let export = format!(
        "ALL,SWEEP={},PARTS={},COORDSIM={},COORDSIM_ARGS=--trials 50000",
        data("tiny.toml").display(),
        dir.join("parts").display(),
        binary.display()
    );
    let array = cluster.sbatch(
        dir,
        &[
            "--parsable",
            "--array=0-3",
            &format!("--export={export}"),
            root.join("sweeps/slurm/run-array.sbatch").to_str().unwrap(),
        ],
    );
    let job = array.split(';').next().unwrap();
    let merge_export = format!(
        "ALL,PARTS={},OUT={},COORDSIM={}",
        dir.join("parts").display(),
        dir.join("merged").display(),
        binary.display()
    );
    cluster.sbatch(
        dir,
        &[
            "--wait",
            &format!("--dependency=afterok:{job}"),
            &format!("--export={merge_export}"),
            root.join("sweeps/slurm/merge.sbatch").to_str().unwrap(),
        ],
    );
    for k in 0..4 {
        let log = std::fs::read_to_string(dir.join(format!("coordsim-{job}_{k}.out"))).unwrap();
        assert!(
            log.contains(&format!("running shard {k}/4 (from SLURM_ARRAY_TASK_ID")),
            "{log}"
        );
    }

    coordsim(dir)
        .args([
            "run",
            data("tiny.toml").to_str().unwrap(),
            "--out",
            "local",
            "--quiet",
        ])
        .args(["--trials", "50000"])
        .assert()
        .success();
    let (merged, _) = read_parquet(&dir.join("merged/summary.parquet"));
    let (local, _) = read_parquet(&dir.join("local/summary.parquet"));
    assert_eq!(without(&merged, &TIMING), without(&local, &TIMING));
    let (merged, _) = read_parquet(&dir.join("merged/histograms.parquet"));
    let (local, _) = read_parquet(&dir.join("local/histograms.parquet"));
    assert_eq!(merged, local);
}
