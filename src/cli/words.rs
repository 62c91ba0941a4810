//! Numbers in the words of the messages: counts with their nouns, rates as `12.3M`.

/// `n` and `noun`, plural unless `n` is 1: "1 cell", "2 cells".
pub(super) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `12.3M`-style numbers.
pub(super) fn si(x: f64) -> String {
    let (value, suffix) = match x {
        x if x >= 1e9 => (x / 1e9, "G"),
        x if x >= 1e6 => (x / 1e6, "M"),
        x if x >= 1e3 => (x / 1e3, "k"),
        x => (x, ""),
    };
    format!("{value:.1}{suffix}")
}
