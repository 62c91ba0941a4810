//! Damaged files never make coordsim panic: about 420 alterations (`fuzz/damage.rs`) of the
//! files of a whole run, a sharded run and an interrupted run (`fuzz/fixtures.rs`), each read
//! by the commands that read it: `verify` and `show`, `verify` and `merge` of the parts, and
//! `run --resume`. Each exits 0, 1 or 2, a failure with one line naming the damaged file and
//! no control characters; an altered result file never verifies, and a merge or resume that
//! succeeds gives the numbers of the undamaged run.

mod common;
#[path = "fuzz/damage.rs"]
mod damage;
#[path = "fuzz/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{coordsim, read_parquet, without};
use damage::{Damage, KEYS, RUN_FILE_KEYS, VALUES};
use fixtures::TARGETS;

const TIMING: [&str; 2] = ["elapsed_s", "trials_per_s"];

/// One alteration: which of [`TARGETS`], and the damage done to it, in order.
#[derive(Debug, Clone)]
struct Alteration {
    target: usize,
    damages: Vec<Damage>,
}

impl Alteration {
    /// The file `bytes` after the damages, or `None` if they change nothing.
    fn apply(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut out = bytes.to_vec();
        for damage in &self.damages {
            out = damage.apply(&out).unwrap_or(out);
        }
        (out != bytes).then_some(out)
    }
}

/// Where a Parquet file's footer starts (its end is 8 bytes before the file's).
fn footer_start(bytes: &[u8]) -> usize {
    let n = bytes.len();
    let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    n - 8 - len
}

/// `count` positions spread evenly over `[start, end)`.
fn spread(start: usize, end: usize, count: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |i| start + (end - start) * i / count)
}

/// The alterations of the file `bytes` of target `target`.
fn alterations_of(target: usize, bytes: &[u8]) -> Vec<Alteration> {
    let file = TARGETS[target].1;
    let n = bytes.len();
    let mut out = Vec::new();
    if file.ends_with(".parquet") {
        let footer = footer_start(bytes);
        out.extend(spread(0, n, 8).map(|at| Damage::Flip { at, mask: 0x10 }));
        out.extend(
            spread(footer, n, 12)
                .enumerate()
                .map(|(i, at)| Damage::Flip {
                    at,
                    mask: if i % 2 == 0 { 0x01 } else { 0x80 },
                }),
        );
        out.extend([0, n / 2, footer, n - 8, n - 1].map(|len| Damage::Truncate { len }));
        out.push(Damage::Splice {
            from: 0,
            to: footer,
            len: 64,
        });
        out.push(Damage::Splice {
            from: footer,
            to: 4,
            len: 32,
        });
        out.push(Damage::Insert {
            at: footer,
            bytes: vec![0],
        });
        out.push(Damage::Insert {
            at: n / 2,
            bytes: b"PAR1".to_vec(),
        });
        for (i, key) in KEYS.iter().enumerate() {
            out.push(Damage::Metadata {
                key: key.to_string(),
                value: VALUES[(i * 7 + target) % VALUES.len()].to_vec(),
            });
            let mut to = key.to_string();
            to.pop();
            to.push('X');
            out.push(Damage::RenameKey {
                key: key.to_string(),
                to,
            });
        }
    } else {
        out.extend(spread(0, n, 10).map(|at| Damage::Flip { at, mask: 0x20 }));
        out.extend([0, 1, n / 2, n - 1].map(|len| Damage::Truncate { len }));
        out.push(Damage::Insert {
            at: 0,
            bytes: b"\xff\xfe".to_vec(),
        });
        out.push(Damage::Insert {
            at: n,
            bytes: b"\nextra = \"\\u001b[2J\"\n".to_vec(),
        });
        if file == "coordsim-run.toml" {
            for (i, key) in RUN_FILE_KEYS.iter().enumerate() {
                let raw = VALUES[(i * 5 + 3) % VALUES.len()];
                let quoted = format!("\"{}\"", String::from_utf8_lossy(raw).escape_default());
                let control = b"\"\\u001b[31m\"".to_vec();
                let second = if i % 2 == 0 {
                    quoted.into_bytes()
                } else {
                    control
                };
                for value in [raw.to_vec(), second] {
                    out.push(Damage::TomlLine {
                        key: key.to_string(),
                        value,
                    });
                }
            }
        }
    }
    // Only those that change the file (a key it has, ...).
    out.into_iter()
        .filter(|damage| damage.apply(bytes).is_some())
        .map(|damage| Alteration {
            target,
            damages: vec![damage],
        })
        .collect()
}

/// The commands that read the fixture `top` (run in the alteration's folder).
fn commands(top: &str, sweep_file: &Path) -> Vec<Vec<String>> {
    let strings = |args: &[&str]| args.iter().map(|a| a.to_string()).collect();
    match top {
        "whole" => vec![strings(&["verify", "whole"]), strings(&["show", "whole"])],
        "parts" => vec![
            strings(&["verify", "parts"]),
            strings(&["merge", "parts/0", "parts/1", "--out", "merged", "--quiet"]),
        ],
        _ => vec![strings(&[
            "run",
            &sweep_file.to_string_lossy(),
            "--out",
            "stopped",
            "--resume",
            "--quiet",
            "--threads",
            "1",
        ])],
    }
}

/// Whether `text` holds a control character other than a line feed.
fn has_control(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

/// What is wrong with `output` of `command` after `alteration`, if anything.
fn judge(
    root: &Path,
    work: &Path,
    alteration: &Alteration,
    command: &[String],
    output: &Output,
) -> Result<(), String> {
    let (fixture, file) = TARGETS[alteration.target];
    let name = Path::new(file).file_name().unwrap().to_string_lossy();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let code = output.status.code();
    if !matches!(code, Some(0..=2)) {
        return Err(format!("exit {code:?}: {stderr}"));
    }
    if has_control(&stderr) || has_control(&stdout) {
        return Err(format!("control characters: {stderr:?} {stdout:?}"));
    }
    if code == Some(0) {
        let verb = command[0].as_str();
        let result_file = file != "coordsim-run.toml";
        if verb == "verify" && fixture == "whole" && result_file {
            return Err("verified".to_string());
        }
        // A merge or resume that succeeds gives the numbers of the undamaged run, exactly
        // (merge needs a part's values, not its bytes: verify holds it to those).
        let result = match verb {
            "merge" => Some("merged"),
            "run" => Some("stopped"),
            _ => None,
        };
        if let Some(result) = result {
            let (want, _) = read_parquet(&root.join("whole/summary.parquet"));
            let (have, _) = read_parquet(&work.join(result).join("summary.parquet"));
            if without(&want, &TIMING) != without(&have, &TIMING) {
                return Err(format!("{verb}: other numbers"));
            }
        }
        return Ok(());
    }
    // One error line, last (a resumed run says what it resumes first), naming the file.
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    match errors.as_slice() {
        [line] if stderr.lines().last() == Some(line) && line.contains(&*name) => Ok(()),
        _ => Err(format!(
            "exit {code:?}, not one line naming {name}: {stderr}"
        )),
    }
}

/// What went wrong, and how many commands exited with 0, 1 and 2.
type Findings = (Vec<String>, [usize; 3]);

/// A command's verb, exit code and last line on stderr.
type Outcome = (String, Option<i32>, String);

/// Applies `alteration` to a copy of its fixture in `work` and runs its commands: each
/// command's outcome, and what went wrong.
fn outcomes(root: &Path, work: &Path, alteration: &Alteration) -> (Vec<Outcome>, Vec<String>) {
    let (fixture, file) = TARGETS[alteration.target];
    let top = fixture.split('/').next().unwrap();
    let original = std::fs::read(root.join(fixture).join(file)).unwrap();
    let Some(bytes) = alteration.apply(&original) else {
        return Default::default();
    };
    fixtures::copy_dir(&root.join(top), &work.join(top));
    std::fs::write(work.join(fixture).join(file), bytes).unwrap();
    let mut seen = Vec::new();
    let mut problems = Vec::new();
    for command in commands(top, &root.join(fixtures::SWEEP_FILE)) {
        let output = coordsim(work).args(&command).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").to_string();
        seen.push((command[0].clone(), output.status.code(), last));
        if let Err(problem) = judge(root, work, alteration, &command, &output) {
            problems.push(format!(
                "{fixture}/{file} {:?}: coordsim {}: {problem}",
                alteration.damages,
                command.join(" ")
            ));
        }
    }
    std::fs::remove_dir_all(work).unwrap();
    (seen, problems)
}

/// [`outcomes`], counted.
fn try_one(root: &Path, work: &Path, alteration: &Alteration) -> Findings {
    let (seen, problems) = outcomes(root, work, alteration);
    let mut codes = [0; 3];
    for (_, code, _) in seen {
        if let Some(count) = code.and_then(|c| codes.get_mut(c as usize)) {
            *count += 1;
        }
    }
    (problems, codes)
}

/// Runs every alteration on `threads` threads; returns what went wrong, and the exit codes.
fn run_all(root: &Path, alterations: &[Alteration], threads: usize) -> Findings {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let next = &next;
                s.spawn(move || {
                    let mut found: Findings = Default::default();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(alteration) = alterations.get(i) else {
                            return found;
                        };
                        let work: PathBuf = root.parent().unwrap().join(format!("work-{t}"));
                        let (problems, codes) = try_one(root, &work, alteration);
                        found.0.extend(problems);
                        (0..3).for_each(|c| found.1[c] += codes[c]);
                    }
                })
            })
            .collect();
        let mut all: Findings = Default::default();
        for worker in workers {
            let (problems, codes) = worker.join().unwrap();
            all.0.extend(problems);
            (0..3).for_each(|c| all.1[c] += codes[c]);
        }
        all
    })
}

fn fixture_root() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("fixtures");
    fixtures::make(&root);
    (tmp, root)
}

#[test]
fn no_damaged_file_makes_coordsim_panic() {
    let (_tmp, root) = fixture_root();
    let mut alterations = Vec::new();
    for (target, (fixture, file)) in TARGETS.iter().enumerate() {
        let bytes = std::fs::read(root.join(fixture).join(file)).unwrap();
        alterations.extend(alterations_of(target, &bytes));
    }
    assert!(alterations.len() >= 400, "{}", alterations.len());
    let started = std::time::Instant::now();
    let (problems, codes) = run_all(&root, &alterations, 4);
    println!(
        "{} alterations in {:.1} s; exit codes 0, 1, 2: {codes:?}",
        alterations.len(),
        started.elapsed().as_secs_f64()
    );
    // Most damage is refused as such (exit code 1).
    assert!(codes[1] > codes[0] + codes[2], "{codes:?}");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Damage to the first checkpoint: its `key` set to `value`, and the metadata checksum
/// made to match ([`common::resealed`]).
fn resealed(root: &Path, key: &str, value: &str) -> Vec<Damage> {
    let path = root.join("stopped/checkpoint/000001.parquet");
    common::resealed(&path, key, value)
        .into_iter()
        .map(|(key, value)| Damage::Metadata {
            key,
            value: value.into_bytes(),
        })
        .collect()
}

/// The index of `file` of `fixture` in [`TARGETS`].
fn target(fixture: &str, file: &str) -> usize {
    TARGETS.iter().position(|t| *t == (fixture, file)).unwrap()
}

#[test]
fn each_reader_fix_holds() {
    let (_tmp, root) = fixture_root();
    let line = |key: &str, value: &str| Damage::TomlLine {
        key: key.to_string(),
        value: value.as_bytes().to_vec(),
    };
    let checkpoint = target("stopped", "checkpoint/000001.parquet");
    let (_, metadata) = read_parquet(&root.join(TARGETS[checkpoint].0).join(TARGETS[checkpoint].1));
    let items = &metadata
        .iter()
        .find(|(k, _)| k == "coordsim.items")
        .unwrap()
        .1;
    // The fixture's first checkpoint holds neither the last item nor its cell.
    assert!(!items.contains("11"), "{items}");
    let cases: Vec<(&str, Alteration, &str, i32, String)> = vec![
        (
            "control characters from a damaged file are escaped",
            Alteration {
                target: target("whole", "coordsim-run.toml"),
                damages: vec![line("version", "\"\\u001b[31m\"")],
            },
            "verify",
            1,
            "but coordsim-run.toml says `\\u{1b}[31m`".to_string(),
        ),
        (
            "control characters in a damaged summary's values are shown escaped",
            Alteration {
                target: target("whole", "summary.parquet"),
                damages: vec![Damage::Replace {
                    from: b"quorum".to_vec(),
                    to: b"quor\x1b[".to_vec(),
                }],
            },
            "show",
            0,
            String::new(),
        ),
        (
            "a bad files entry names the run file",
            Alteration {
                target: target("whole", "coordsim-run.toml"),
                damages: vec![line("files", "\"summary.parquet\"")],
            },
            "verify",
            1,
            "whole/coordsim-run.toml: bad `files` entry: `summary.parquet` is not NAME=DIGEST"
                .to_string(),
        ),
        (
            "a files entry outside the run directory is refused",
            Alteration {
                target: target("whole", "coordsim-run.toml"),
                damages: vec![line("files", "\"../whole/summary.parquet=0:0\"")],
            },
            "verify",
            1,
            "whole/coordsim-run.toml: bad `files` entry: `../whole/summary.parquet` is not a file name"
                .to_string(),
        ),
        (
            "a files entry without the result files is refused",
            Alteration {
                target: target("whole", "coordsim-run.toml"),
                damages: vec![line("files", "\"\"")],
            },
            "verify",
            1,
            "whole/coordsim-run.toml: bad `files` entry: no digest of summary.parquet".to_string(),
        ),
        (
            "a files entry naming a missing file names the run file",
            Alteration {
                target: target("whole", "coordsim-run.toml"),
                damages: vec![Damage::Replace {
                    from: b"summary.parquet=".to_vec(),
                    to: b"summary.parQuet=".to_vec(),
                }],
            },
            "verify",
            1,
            "whole/summary.parQuet: No such file or directory (named by the `files` entry of coordsim-run.toml)"
                .to_string(),
        ),
        (
            "a checkpoint's work items must be those its rows count",
            Alteration {
                target: checkpoint,
                damages: resealed(&root, "coordsim.items", &format!("{items},11-11")),
            },
            "run",
            1,
            "000001.parquet: cell 3: its rows count 0 work items of 0 trials, but its metadata's work items are 1 of 7232 trials"
                .to_string(),
        ),
        (
            "a checkpoint's rows must be of its work items' cells",
            Alteration {
                target: checkpoint,
                damages: resealed(&root, "coordsim.items", "11-11"),
            },
            "run",
            1,
            "which none of its work items 11-11 is of".to_string(),
        ),
        (
            "a checkpoint's work items rewritten are refused",
            Alteration {
                target: checkpoint,
                damages: vec![Damage::Metadata {
                    key: "coordsim.items".to_string(),
                    value: b"11-11".to_vec(),
                }],
            },
            "run",
            1,
            "in its metadata: the metadata was altered".to_string(),
        ),
        (
            "an item range ending at u64::MAX is refused",
            Alteration {
                target: checkpoint,
                damages: resealed(&root, "coordsim.items", "0-18446744073709551615"),
            },
            "run",
            1,
            "000001.parquet: bad range `0-18446744073709551615`".to_string(),
        ),
        (
            "work items beyond the run are refused",
            Alteration {
                target: checkpoint,
                damages: resealed(&root, "coordsim.items", "0-1000000000000"),
            },
            "run",
            1,
            "000001.parquet: work items 0-1000000000000 are not all among the run's 0-11".to_string(),
        ),
        (
            "a run file that is not UTF-8 is unusable",
            Alteration {
                target: target("stopped", "coordsim-run.toml"),
                damages: vec![Damage::Insert {
                    at: 0,
                    bytes: b"\xff\xfe".to_vec(),
                }],
            },
            "run",
            1,
            "stopped/coordsim-run.toml: not a run file: not UTF-8 text (invalid utf-8 sequence of 1 bytes from index 0)"
                .to_string(),
        ),
        (
            "a part's metadata rewritten is not merged",
            Alteration {
                target: target("parts/0", "part.parquet"),
                damages: vec![Damage::Metadata {
                    key: "coordsim.host".to_string(),
                    value: b"elsewhere".to_vec(),
                }],
            },
            "merge",
            1,
            "part.parquet: metadata checksum ".to_string(),
        ),
        (
            "a part whose damage adds work items to a cell names the part",
            Alteration {
                target: target("parts/0", "part.parquet"),
                // Found by the fuzz target: a cell id flipped from 0 to 1.
                damages: vec![Damage::Flip { at: 63, mask: 1 }],
            },
            "merge",
            1,
            "parts/0/part.parquet: cell 1: its rows and those read before them hold more than the cell's 3 work items"
                .to_string(),
        ),
    ];
    let work = root.parent().unwrap().join("work");
    let mut problems = Vec::new();
    for (name, alteration, verb, code, expected) in &cases {
        let (seen, found) = outcomes(&root, &work, alteration);
        problems.extend(found.iter().map(|p| format!("{name}: {p}")));
        let Some((_, have, last)) = seen.iter().find(|(v, _, _)| v == verb) else {
            problems.push(format!("{name}: the damage changed nothing"));
            continue;
        };
        if *have != Some(*code) || !last.contains(expected.as_str()) {
            problems.push(format!("{name}: coordsim {verb} exited {have:?}: {last}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
