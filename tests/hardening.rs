//! The run directory's contract under stress: signals save like Ctrl-C, one process at a time,
//! a finish interrupted half-way is finished by --resume, results of other input files are
//! never mixed, and a damaged file is refused in one line, never with a panic.

mod common;

use arrow_array::ArrayAccessor;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{coordsim, data, error_line, read_parquet, without};

const TIMING: [&str; 2] = ["elapsed_s", "trials_per_s"];
/// Trials per cell of tests/data/tiny.toml: a run on two threads outlasts its checkpoints.
const TRIALS: &str = "2400000";

fn start(dir: &Path, out: &str, extra: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("coordsim"))
        .current_dir(dir)
        .args(["run", data("tiny.toml").to_str().unwrap(), "--out", out])
        .args(["--quiet", "--threads", "2", "--checkpoint-secs", "0.2"])
        .args(["--trials", TRIALS])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the run directory `out` holds a committed checkpoint file.
fn wait_for_checkpoint(out: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let committed = std::fs::read_dir(out.join("checkpoint"))
            .map(|d| {
                d.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.ends_with(".parquet") && !name.starts_with('.')
                })
            })
            .unwrap_or(false);
        if committed {
            return;
        }
        assert!(Instant::now() < deadline, "no checkpoint after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_same(dir: &Path, a: &str, b: &str) {
    for file in ["summary.parquet", "histograms.parquet"] {
        let (x, _) = read_parquet(&dir.join(a).join(file));
        let (y, _) = read_parquet(&dir.join(b).join(file));
        assert_eq!(without(&x, &TIMING), without(&y, &TIMING), "{file}");
    }
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn sigterm_saves_one_process_at_a_time_and_a_half_finish_is_finished() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = start(dir, "reference", &[]).wait_with_output().unwrap();
    assert!(reference.status.success(), "{}", stderr(&reference));

    let victim = start(dir, "stopped", &[]);
    wait_for_checkpoint(&dir.join("stopped"));
    // A second process on the same directory is refused while the first runs.
    let second = start(dir, "stopped", &["--resume"])
        .wait_with_output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(
        error_line(&second).ends_with(
            "stopped: another coordsim process is running in this directory; wait for it to end"
        ),
        "{}",
        stderr(&second)
    );
    // SIGTERM, as Slurm and Kubernetes send it, saves like Ctrl-C.
    let status = Command::new("kill")
        .args(["-TERM", &victim.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stopped = victim.wait_with_output().unwrap();
    assert_eq!(stopped.status.code(), Some(130), "{}", stderr(&stopped));
    assert!(stderr(&stopped).contains("--out stopped --resume"));

    // A finish cut short after the summary was renamed into place, with a temporary file of
    // the histograms left: the run is not complete, and --resume finishes it.
    let out = dir.join("stopped");
    std::fs::copy(
        dir.join("reference/summary.parquet"),
        out.join("summary.parquet"),
    )
    .unwrap();
    std::fs::write(out.join(".histograms.parquet.tmp"), b"half a file").unwrap();
    let verified = coordsim(dir).args(["verify", "stopped"]).output().unwrap();
    assert_eq!(verified.status.code(), Some(1));
    assert!(error_line(&verified).contains("the run did not finish"));
    let resumed = start(dir, "stopped", &["--resume"])
        .wait_with_output()
        .unwrap();
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_same(dir, "reference", "stopped");
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "leftovers: {names:?}"
    );
    coordsim(dir).args(["verify", "stopped"]).assert().success();
}

#[test]
fn a_byte_changed_anywhere_is_refused_and_nothing_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    coordsim(dir)
        .args(["run", data("tiny.toml").to_str().unwrap(), "--out", "run"])
        .args(["--trials", "3000", "--quiet"])
        .assert()
        .success();
    let path = dir.join("run/summary.parquet");
    let original = std::fs::read(&path).unwrap();
    // Every 97th byte: values, column statistics, page headers and the footer alike.
    for at in (0..original.len()).step_by(97) {
        let mut bytes = original.clone();
        bytes[at] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let verified = coordsim(dir).args(["verify", "run"]).output().unwrap();
        assert_eq!(
            verified.status.code(),
            Some(1),
            "byte {at}: {}",
            stderr(&verified)
        );
        let line = error_line(&verified);
        assert!(line.contains("summary.parquet"), "byte {at}: {line}");
        let shown = coordsim(dir).args(["show", "run"]).output().unwrap();
        assert!(
            matches!(shown.status.code(), Some(0 | 1)),
            "byte {at}: show exited {:?}: {}",
            shown.status.code(),
            stderr(&shown)
        );
        if shown.status.code() == Some(1) {
            error_line(&shown);
        }
    }
    std::fs::write(&path, &original).unwrap();
    coordsim(dir).args(["verify", "run"]).assert().success();
}

#[test]
fn parts_read_from_other_file_contents_are_not_merged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sweep = "name = \"measured\"\nseed = 3\ntrials = 5000\n[grid]\n\
        protocol = \"quorum\"\nnodes = [3, 5]\nlatency = \"mine\"\n\
        [latency.mine]\nkind = \"empirical\"\nfile = \"latencies.csv\"\n";
    std::fs::write(dir.join("measured.toml"), sweep).unwrap();
    let shard = |index: &str, latencies: &str| {
        std::fs::write(dir.join("latencies.csv"), latencies).unwrap();
        coordsim(dir)
            .args(["run", "measured.toml", "--shard", index, "--quiet"])
            .args(["--out", &format!("parts/{}", &index[..1])])
            .assert()
            .success();
    };
    shard("0/2", "1.0\n2.0\n3.0\n");
    shard("1/2", "1.0\n2.0\n30.0\n");
    let merged = coordsim(dir)
        .args(["merge", "parts/*", "--out", "merged"])
        .output()
        .unwrap();
    assert_eq!(merged.status.code(), Some(2), "{}", stderr(&merged));
    assert!(
        error_line(&merged)
            .contains("other contents of the files the sweep reads (latency model mine)"),
        "{}",
        stderr(&merged)
    );
    assert!(!dir.join("merged").exists());
    // With the same contents, the parts merge.
    std::fs::remove_dir_all(dir.join("parts/1")).unwrap();
    shard("1/2", "1.0\n2.0\n3.0\n");
    coordsim(dir)
        .args(["merge", "parts/*", "--out", "merged", "--quiet"])
        .assert()
        .success();
}

#[test]
fn latencies_of_days_are_reported_as_they_are() {
    // 100,000 items of 4 sequential round trips of 2 x 10 ms: 8,000,000 ms in every trial,
    // far beyond the hour the latency histograms once ended at.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sweep = "name = \"slow\"\nseed = 1\ntrials = 20\n[grid]\nprotocol = \"chatty\"\n\
        nodes = 2\nlatency = \"l\"\n[params.chatty]\nitems = 100000\n\
        [latency.l]\nkind = \"constant\"\nms = 10\n";
    std::fs::write(dir.join("slow.toml"), sweep).unwrap();
    coordsim(dir)
        .args(["run", "slow.toml", "--out", "run", "--quiet"])
        .assert()
        .success();
    let (summary, _) = read_parquet(&dir.join("run/summary.parquet"));
    for column in [
        "latency_ms_mean",
        "latency_ms_p50",
        "latency_ms_p99",
        "latency_ms_max",
    ] {
        let value = summary
            .column_by_name(column)
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::Float64Array>()
            .unwrap()
            .value(0);
        // The histograms keep 3 significant digits.
        assert!(
            (value - 8_000_000.0).abs() <= 8_000_000.0 * 1e-3,
            "{column} = {value}"
        );
    }
    coordsim(dir).args(["verify", "run"]).assert().success();
}

#[test]
fn a_mixture_of_ten_thousand_terms_costs_its_draws_not_their_square() {
    // Tabulating a quorum's round trips convolves every pair of terms (days for 10^4 of
    // them): beyond a few continuous terms the cell is sampled node by node instead, a
    // binary search per draw. The terms tile [1, 1.001] ms evenly, so a round trip lies in
    // [2, 2.002] ms.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let n = 10_000;
    let components: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "{{ weight = {}, of = {{ kind = \"uniform\", low_ms = {}, high_ms = {} }} }}",
                if i + 1 < n {
                    1.0 / f64::from(n)
                } else {
                    1.0 - f64::from(n - 1) / f64::from(n)
                },
                1.0 + f64::from(i) * 1e-7,
                1.0 + f64::from(i + 1) * 1e-7,
            )
        })
        .collect();
    let sweep = format!(
        "name = \"wide-mixture\"\nseed = 1\ntrials = 20000\n[grid]\nprotocol = \"quorum\"\n\
         nodes = 3\nlatency = \"m\"\n[latency.m]\nkind = \"mixture\"\ncomponents = [\n{}\n]\n",
        components.join(",\n")
    );
    std::fs::write(dir.join("mix.toml"), sweep).unwrap();
    coordsim(dir)
        .args(["run", "mix.toml", "--out", "run", "--quiet"])
        .assert()
        .success();
    let (summary, _) = read_parquet(&dir.join("run/summary.parquet"));
    let column = |name: &str| {
        summary
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::Float64Array>()
            .unwrap()
            .value(0)
    };
    // Within the 3 significant digits the histograms keep.
    for name in ["latency_ms_p50", "latency_ms_max", "latency_ms_mean"] {
        let ms = column(name);
        assert!((2.0 * 0.999..=2.002 * 1.001).contains(&ms), "{name} = {ms}");
    }
    let sampler = summary
        .column_by_name("sampler")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::DictionaryArray<arrow_array::types::Int32Type>>()
        .unwrap()
        .downcast_dict::<arrow_array::StringArray>()
        .unwrap()
        .value(0)
        .to_string();
    assert_eq!(sampler, "per-node");
}

#[test]
fn out_of_memory_is_one_line_and_leaves_nothing() {
    // A gossip of 50 million nodes simulated node by node allocates 200 MB at once: under a
    // 300 MB address-space limit that fails.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sweep = "name = \"big\"\nseed = 1\ntrials = 1\n[grid]\nprotocol = \"gossip\"\n\
        nodes = 50000000\nlatency = \"l\"\nsampling = \"per-node\"\n\
        [latency.l]\nkind = \"constant\"\nms = 1\n";
    std::fs::write(dir.join("big.toml"), sweep).unwrap();
    let output = Command::new("sh")
        .current_dir(dir)
        .args(["-c", "ulimit -v 300000 && exec \"$0\" \"$@\""])
        .arg(assert_cmd::cargo::cargo_bin("coordsim"))
        .args([
            "run",
            "big.toml",
            "--out",
            "run",
            "--quiet",
            "--yes",
            "--threads",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let errors: Vec<String> = stderr(&output)
        .lines()
        .filter(|l| !l.starts_with("running "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "error: out of memory: 200000000 bytes more could not be allocated (run with fewer \
          --threads, fewer cells or trials at once, or more memory)"
        ]
    );
    assert!(!dir.join("run").exists());
}

#[test]
fn huge_election_timeouts_saturate_instead_of_overflowing() {
    // A timeout spread of 1e300 puts election timers past 2^64 ns: they saturate, and the
    // run reports what it measured instead of overflowing.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sweep = "name = \"slow-elections\"\nseed = 1\ntrials = 200\n[grid]\nprotocol = \"raft\"\n\
        nodes = 3\nlatency = \"l\"\n[params.raft]\nphase = \"election\"\ntimeout_spread = 1e300\n\
        [latency.l]\nkind = \"constant\"\nms = 1\n";
    std::fs::write(dir.join("slow.toml"), sweep).unwrap();
    coordsim(dir)
        .args(["run", "slow.toml", "--out", "run", "--quiet"])
        .assert()
        .success();
    coordsim(dir).args(["verify", "run"]).assert().success();
}
