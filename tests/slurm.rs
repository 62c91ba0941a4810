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

/// Longest wait for a job.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// The one-node cluster; stopped when dropped, whatever the test's outcome. One at a time:
/// two clusters on one host would share MUNGE's socket and Slurm's ports.
struct Cluster {
    scratch: PathBuf,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static ONE_CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Cluster {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slurm/cluster.sh")
    }

    fn start(scratch: &Path) -> Self {
        // The guard first: if the start fails half way, dropping it stops what did start.
        let cluster = Self {
            scratch: scratch.to_path_buf(),
            _one_at_a_time: ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner()),
        };
        let status = Command::new(Self::script())
            .arg("start")
            .arg(scratch)
            .status()
            .unwrap();
        assert!(status.success(), "the Slurm cluster did not start");
        cluster
    }

    /// Runs sbatch with `args`, giving up after `MAX_WAIT` (a job that never runs, such as a
    /// dependency that can never be met, must fail the test, not hang it).
    fn sbatch<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
        &self,
        dir: &Path,
        args: &[S],
    ) -> String {
        let out = self.try_sbatch(dir, args);
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_ne!(
            out.status.code(),
            Some(124),
            "sbatch {args:?}: no result after {MAX_WAIT:?}"
        );
        assert!(
            out.status.success(),
            "sbatch {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }
}

impl Cluster {
    /// Runs sbatch with `args` under `timeout MAX_WAIT` and returns what it did.
    fn try_sbatch<S: AsRef<std::ffi::OsStr>>(
        &self,
        dir: &Path,
        args: &[S],
    ) -> std::process::Output {
        Command::new("timeout")
            .arg(MAX_WAIT.as_secs().to_string())
            .arg("sbatch")
            .current_dir(dir)
            .env("SLURM_CONF", self.scratch.join("slurm.conf"))
            .args(args)
            .output()
            .unwrap()
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
    let binary = assert_cmd::cargo::cargo_bin("coordsim");
    let job = submit_array(
        &cluster,
        dir,
        4,
        &format!("{},COORDSIM_ARGS=--trials 50000", binary.display()),
    );
    cluster.sbatch(dir, &merge_args(dir, &job));
    assert!(
        dir.join("merged/summary.parquet").is_file(),
        "the merge job wrote no merged/summary.parquet (see coordsim-merge-*.out in {})",
        dir.display()
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

#[test]
#[ignore = "needs root to install and start Slurm; run by tests/all.sh"]
fn a_failed_array_task_cancels_the_merge() {
    // Every task fails (coordsim is `false`): the merge's afterok dependency can never be
    // met, and with --kill-on-invalid-dep the merge is cancelled instead of pending forever.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cluster = Cluster::start(&dir.join("slurm"));
    let job = submit_array(&cluster, dir, 2, "false");
    let merge = cluster.try_sbatch(dir, &merge_args(dir, &job));
    // sbatch --wait returns (it exits 0 for a job cancelled before it ran), and the job
    // was cancelled for its dependency.
    assert_ne!(merge.status.code(), Some(124), "the merge still waits");
    let stdout = String::from_utf8_lossy(&merge.stdout);
    let id = stdout.trim().rsplit(' ').next().unwrap();
    let state = Command::new("scontrol")
        .env("SLURM_CONF", cluster.scratch.join("slurm.conf"))
        .args(["show", "job", id])
        .output()
        .unwrap();
    let state = String::from_utf8_lossy(&state.stdout);
    assert!(state.contains("JobState=CANCELLED"), "{state}");
    assert!(!dir.join("merged").exists());
}

/// Submits `sweeps/slurm/run-array.sbatch` over tests/data/tiny.toml as an array of `tasks`,
/// with `COORDSIM` set to `coordsim` (and what follows it in the export list); returns the
/// array's job id.
fn submit_array(cluster: &Cluster, dir: &Path, tasks: u32, coordsim: &str) -> String {
    let export = format!(
        "--export=ALL,SWEEP={},PARTS={},COORDSIM={coordsim}",
        data("tiny.toml").display(),
        dir.join("parts").display(),
    );
    let array = cluster.sbatch(
        dir,
        &[
            "--parsable",
            &format!("--array=0-{}", tasks - 1),
            &export,
            script("run-array.sbatch").as_str(),
        ],
    );
    array.split(';').next().unwrap().to_string()
}

/// sbatch's arguments for the merge of `job`'s parts into `dir/merged`, waiting for it to
/// end; cancelled, not pending forever, if an array task fails.
fn merge_args(dir: &Path, job: &str) -> Vec<String> {
    vec![
        "--wait".to_string(),
        format!("--dependency=afterok:{job}"),
        "--kill-on-invalid-dep=yes".to_string(),
        format!(
            "--export=ALL,PARTS={},OUT={},COORDSIM={}",
            dir.join("parts").display(),
            dir.join("merged").display(),
            assert_cmd::cargo::cargo_bin("coordsim").display()
        ),
        script("merge.sbatch"),
    ]
}

fn script(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    root.join("sweeps/slurm").join(name).display().to_string()
}
