//! Damage done to a file of a run directory, shared by the deterministic test
//! (`tests/damaged_files.rs`) and the fuzz target (`tests/fuzz/fuzz_targets/files.rs`): a
//! byte flipped, the file cut short, a stretch of it copied over another, bytes inserted or
//! replaced, a value of a Parquet file's key-value metadata rewritten in its footer
//! (everything else byte for byte as it was), or a line of a TOML file rewritten.
//!
//! Only the standard library: the footer is edited as Thrift's compact encoding lays it out,
//! so a rewritten value is exactly what a hand edit of the footer would leave.

#![allow(dead_code)]

/// The metadata keys coordsim's Parquet files carry (the Arrow schema the Parquet writer adds,
/// and coordsim's own): the ones a rewrite picks from.
pub const KEYS: [&str; 24] = [
    "ARROW:schema",
    "coordsim.version",
    "coordsim.sweep",
    "coordsim.sweep_name",
    "coordsim.sweep_origin",
    "coordsim.inputs",
    "coordsim.seed",
    "coordsim.trials_per_cell",
    "coordsim.chunk_trials",
    "coordsim.cells",
    "coordsim.precision",
    "coordsim.p99_precision",
    "coordsim.shard",
    "coordsim.kind",
    "coordsim.items",
    "coordsim.work_items",
    "coordsim.targets",
    "coordsim.host",
    "coordsim.started_utc",
    "coordsim.finished_utc",
    "coordsim.threads",
    "coordsim.files",
    "coordsim.rows",
    "coordsim.checksum",
];

/// The entries of a run file (`coordsim-run.toml`) a rewrite picks from.
pub const RUN_FILE_KEYS: [&str; 10] = [
    "version",
    "sweep",
    "inputs",
    "seed",
    "trials_per_cell",
    "chunk_trials",
    "shard",
    "started_utc",
    "finished_utc",
    "files",
];

/// Values a rewrite puts in: out of range, malformed, control characters, not UTF-8.
pub const VALUES: [&[u8]; 24] = [
    b"",
    b"0",
    b"1",
    b"-1",
    b"18446744073709551615",
    b"18446744073709551616",
    b"0-18446744073709551615",
    b"18446744073709551615-18446744073709551615",
    b"0-0",
    b"0-1000000000000",
    b"5-2",
    b"0-3,1-2",
    b"0/1",
    b"1/2",
    b"2/2",
    b"0/0",
    b"NaN",
    b"1e308",
    b"checkpoint",
    b"part",
    b"\x1b[31mred\x1b[0m",
    b"\xff\xfe\x00",
    b"a\nb",
    b"summary.parquet=00000000:0,../x=1",
];

/// One alteration of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// XOR the byte at `at` (modulo the length) with `mask` (0 is taken as 1).
    Flip { at: usize, mask: u8 },
    /// Keep the first `len` bytes (modulo the length).
    Truncate { len: usize },
    /// Copy `len` bytes from `from` over those at `to` (positions modulo the length).
    Splice { from: usize, to: usize, len: usize },
    /// Insert `bytes` at `at` (modulo the length plus one).
    Insert { at: usize, bytes: Vec<u8> },
    /// Set the value of the Parquet key-value metadata entry `key` to `value`.
    Metadata { key: String, value: Vec<u8> },
    /// Rename the Parquet key-value metadata entry `key` to `to` (of the same length): as if
    /// the entry were missing.
    RenameKey { key: String, to: String },
    /// Replace the line `key = ...` of a TOML file by `key = <value>` (`value` verbatim).
    TomlLine { key: String, value: Vec<u8> },
    /// Replace the first occurrence of `from` by `to`.
    Replace { from: Vec<u8>, to: Vec<u8> },
}

impl Damage {
    /// The file `bytes` after this damage, or `None` when it does not apply (an empty file, a
    /// key it does not have) or changes nothing.
    pub fn apply(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let n = bytes.len();
        let out = match self {
            Self::Flip { at, mask } => {
                if n == 0 {
                    return None;
                }
                let mut out = bytes.to_vec();
                out[at % n] ^= if *mask == 0 { 1 } else { *mask };
                out
            }
            Self::Truncate { len } => {
                if n == 0 {
                    return None;
                }
                bytes[..len % n].to_vec()
            }
            Self::Splice { from, to, len } => {
                if n == 0 {
                    return None;
                }
                let (from, to) = (from % n, to % n);
                let len = (*len).min(n - from).min(n - to);
                let mut out = bytes.to_vec();
                out.copy_within(from..from + len, to);
                out
            }
            Self::Insert { at, bytes: extra } => {
                let at = at % (n + 1);
                let mut out = bytes[..at].to_vec();
                out.extend_from_slice(extra);
                out.extend_from_slice(&bytes[at..]);
                out
            }
            Self::Metadata { key, value } => set_metadata(bytes, key, value)?,
            Self::RenameKey { key, to } => rename_key(bytes, key, to)?,
            Self::TomlLine { key, value } => set_toml_line(bytes, key, value)?,
            Self::Replace { from, to } => {
                let at = bytes
                    .windows(from.len())
                    .position(|w| w == from.as_slice())?;
                let mut out = bytes[..at].to_vec();
                out.extend_from_slice(to);
                out.extend_from_slice(&bytes[at + from.len()..]);
                out
            }
        };
        (out != bytes).then_some(out)
    }

    /// A list of damages read from fuzz input: each a kind byte and its operands, until the
    /// input ends (at most `most`).
    pub fn list_from(data: &[u8], most: usize) -> Vec<Damage> {
        let mut input = Input(data);
        let mut out = Vec::new();
        while out.len() < most {
            let Some(kind) = input.byte() else { break };
            let damage = match kind % 8 {
                0 | 1 => Self::Flip {
                    at: input.number(),
                    mask: input.byte().unwrap_or(1),
                },
                2 => Self::Truncate {
                    len: input.number(),
                },
                3 => Self::Splice {
                    from: input.number(),
                    to: input.number(),
                    len: input.byte().unwrap_or(8) as usize,
                },
                4 => Self::Insert {
                    at: input.number(),
                    bytes: input.value(),
                },
                5 => Self::Metadata {
                    key: KEYS[input.byte().unwrap_or(0) as usize % KEYS.len()].to_string(),
                    value: input.value(),
                },
                6 => {
                    let key = KEYS[input.byte().unwrap_or(0) as usize % KEYS.len()];
                    let mut to = key.as_bytes().to_vec();
                    let last = to.len() - 1;
                    to[last] = b'A' + input.byte().unwrap_or(0) % 26;
                    Self::RenameKey {
                        key: key.to_string(),
                        to: String::from_utf8(to).expect("ASCII"),
                    }
                }
                _ => Self::TomlLine {
                    key: RUN_FILE_KEYS[input.byte().unwrap_or(0) as usize % RUN_FILE_KEYS.len()]
                        .to_string(),
                    value: input.value(),
                },
            };
            out.push(damage);
        }
        out
    }
}

/// Fuzz input read a piece at a time; an exhausted input reads as zeros.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    /// A position: two bytes, little-endian, often near the end of a file (the footer) when
    /// the high bit of the first is set (read as a distance from the end, below `1 << 15`).
    fn number(&mut self) -> usize {
        let low = self.byte().unwrap_or(0) as usize;
        let high = self.byte().unwrap_or(0) as usize;
        (high << 8) | low
    }

    /// A value: one of [`VALUES`], or up to 32 raw bytes of the input.
    fn value(&mut self) -> Vec<u8> {
        let choice = self.byte().unwrap_or(0) as usize;
        if choice < 192 {
            return VALUES[choice % VALUES.len()].to_vec();
        }
        let len = (choice - 192).min(self.0.len());
        let (value, rest) = self.0.split_at(len);
        self.0 = rest;
        value.to_vec()
    }
}

/// Thrift compact encoding of an unsigned varint.
fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a varint at `bytes[at..]`: its value and length.
fn read_varint(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, &b) in bytes.get(at..)?.iter().take(5).enumerate() {
        value |= ((b & 0x7f) as usize) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The footer of a Parquet file: where its Thrift-encoded metadata starts and ends.
fn footer(bytes: &[u8]) -> Option<(usize, usize)> {
    let n = bytes.len();
    if n < 12 || &bytes[n - 4..] != b"PAR1" {
        return None;
    }
    let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().ok()?) as usize;
    let end = n - 8;
    Some((end.checked_sub(len)?, end))
}

/// Where the key-value entry `key` of the footer `[start, end)` is: the position of its key's
/// bytes and of its value's length.
fn find_entry(bytes: &[u8], start: usize, end: usize, key: &str) -> Option<(usize, usize)> {
    // KeyValue { 1: key (binary), 2: value (binary) }: field header 0x18 for each.
    let mut pattern = vec![0x18];
    pattern.extend(varint(key.len()));
    pattern.extend_from_slice(key.as_bytes());
    pattern.push(0x18);
    let at = bytes[start..end]
        .windows(pattern.len())
        .position(|w| w == pattern.as_slice())?
        + start;
    let key_at = at + pattern.len() - 1 - key.len();
    Some((key_at, at + pattern.len()))
}

/// `bytes` with the footer `[start, end)` replaced by `footer`, its length updated.
fn with_footer(bytes: &[u8], start: usize, end: usize, footer: &[u8]) -> Vec<u8> {
    let mut out = bytes[..start].to_vec();
    out.extend_from_slice(footer);
    out.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    out.extend_from_slice(&bytes[end + 4..]);
    out
}

fn set_metadata(bytes: &[u8], key: &str, value: &[u8]) -> Option<Vec<u8>> {
    let (start, end) = footer(bytes)?;
    let (_, length_at) = find_entry(bytes, start, end, key)?;
    let (old, width) = read_varint(bytes, length_at)?;
    let value_end = length_at + width + old;
    if value_end > end {
        return None;
    }
    let mut new = bytes[start..length_at].to_vec();
    new.extend(varint(value.len()));
    new.extend_from_slice(value);
    new.extend_from_slice(&bytes[value_end..end]);
    Some(with_footer(bytes, start, end, &new))
}

fn rename_key(bytes: &[u8], key: &str, to: &str) -> Option<Vec<u8>> {
    if key.len() != to.len() {
        return None;
    }
    let (start, end) = footer(bytes)?;
    let (key_at, _) = find_entry(bytes, start, end, key)?;
    let mut out = bytes.to_vec();
    out[key_at..key_at + key.len()].copy_from_slice(to.as_bytes());
    Some(out)
}

fn set_toml_line(bytes: &[u8], key: &str, value: &[u8]) -> Option<Vec<u8>> {
    let prefix = format!("{key} = ");
    let mut out = Vec::with_capacity(bytes.len() + value.len());
    let mut found = false;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if !found && line.starts_with(prefix.as_bytes()) {
            found = true;
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(value);
            out.push(b'\n');
        } else {
            out.extend_from_slice(line);
        }
    }
    found.then_some(out)
}
