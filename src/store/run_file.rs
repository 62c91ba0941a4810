//! The run file of a run directory ([`RUN_FILE`]): what is being run, as metadata entries
//! without their `coordsim.` prefix, when it started and, once complete, when it finished
//! and a digest of each file it wrote.

use std::collections::BTreeMap;
use std::path::Path;

use super::OutputError;
use super::keys;
use super::layout::RUN_FILE;

/// The text of a run file: the metadata `entries` (as `coordsim.<name>` keys), when the run
/// started and, once it is complete, when it finished and its files' digests.
pub fn text(
    entries: Vec<(String, String)>,
    started: &str,
    finished: Option<&str>,
    files: Option<&str>,
) -> String {
    let mut table = toml::Table::new();
    for (k, v) in entries {
        table.insert(
            k.trim_start_matches(keys::PREFIX).to_string(),
            toml::Value::String(v),
        );
    }
    table.insert(
        keys::entry(keys::STARTED_UTC).to_string(),
        toml::Value::String(started.to_string()),
    );
    for (key, value) in [
        (keys::entry(keys::FINISHED_UTC), finished),
        (keys::entry(keys::FILES), files),
    ] {
        if let Some(value) = value {
            table.insert(key.to_string(), toml::Value::String(value.to_string()));
        }
    }
    toml::to_string(&table).expect("strings serialize")
}

/// The entries of a run file ([`RUN_FILE`]) as metadata keys (`coordsim.seed`, ...).
pub fn run_file_entries(text: &str) -> Result<BTreeMap<String, String>, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().trim().replace('\n', "; "))?;
    Ok(table
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_str()
                .map(|s| (format!("{}{k}", keys::PREFIX), s.to_string()))
        })
        .collect())
}

/// The entries of the run file at `path`, read as [`run_file_entries`] reads its text; a file
/// that is not UTF-8 TOML is an error naming it.
pub fn read_entries(path: &Path) -> Result<BTreeMap<String, String>, OutputError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    super::guard::open_regular(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(OutputError::io(path))?;
    let unusable = |message: String| OutputError::Format {
        path: path.to_path_buf(),
        message,
    };
    let text = String::from_utf8(bytes)
        .map_err(|e| unusable(format!("not a run file: not UTF-8 text ({e})")))?;
    run_file_entries(&text).map_err(|e| unusable(format!("not a run file: {e}")))
}

/// A file's bytes in short: `crc32:length`, the CRC-32 (IEEE) of its bytes in hex. Any
/// change of a byte, in values, statistics or footer alike, changes it.
pub fn file_digest(path: &Path) -> Result<String, OutputError> {
    use std::io::Read;
    let mut file = super::guard::open_regular(path).map_err(OutputError::io(path))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut length = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(OutputError::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        length += n as u64;
    }
    Ok(format!("{:08x}:{length}", hasher.finalize()))
}

/// Checks the files of `dir` against the digests a complete run's file lists in its `files`
/// entry (`name=digest,...`), which must name each of `required`: the first that differs, in
/// words.
pub fn check_file_digests(dir: &Path, files: &str, required: &[&str]) -> Result<(), String> {
    let run_file = dir.join(RUN_FILE);
    let bad = |why: &str| {
        format!(
            "{}: bad `{}` entry: {why}",
            run_file.display(),
            keys::entry(keys::FILES)
        )
    };
    let mut named = Vec::new();
    for entry in files.split(',').filter(|e| !e.is_empty()) {
        let (name, want) = entry
            .split_once('=')
            .ok_or_else(|| bad(&format!("`{entry}` is not NAME=DIGEST")))?;
        // A file of the run directory itself, never one elsewhere.
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) {
            return Err(bad(&format!("`{name}` is not a file name")));
        }
        named.push(name);
        let path = dir.join(name);
        let have = file_digest(&path)
            .map_err(|e| format!("{e} (named by the `files` entry of {RUN_FILE})"))?;
        if have != want {
            return Err(format!(
                "{}: its bytes (crc32:length {have}) are not those the run wrote ({want}, in {RUN_FILE}): the file was altered",
                path.display()
            ));
        }
    }
    match required.iter().find(|r| !named.contains(r)) {
        Some(missing) => Err(bad(&format!("no digest of {missing}"))),
        None => Ok(()),
    }
}
