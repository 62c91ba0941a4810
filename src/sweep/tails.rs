//! Warnings about empirical latency models too small for the cells that draw from them.
//!
//! A delay resampled from n measurements never exceeds the largest of them, while the law
//! they were measured from does: the slowest of M draws from it lies beyond the sample's
//! largest value with probability `1 - F(x_(n))^M`, about `1 - (1 - 1/(n + 1))^M` (the
//! largest of n draws sits at F = n / (n + 1) on average), close to M / n for M much below n.
//! In that fraction of trials, a latency that waits for the slowest message is clipped to the
//! sample's largest value. The p99 of the slowest of M messages is the `1 - 0.01 / M`
//! quantile of one delay, beyond the sample's resolution `1 - 1/n` unless n >= 100 M.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Cell, ParamsDisplay, Sweep};
use crate::latency::{Constant, Latency, Law, MAX_DELAY_MS, NS_PER_MS};
use crate::model::tally::Tally;

/// Measurements a p99 of the slowest of M messages needs: `SAMPLES_PER_MESSAGE * M`.
pub const SAMPLES_PER_MESSAGE: f64 = 100.0;

/// The empirical samples in `latency`: `(samples / the probability of drawing from them,
/// largest value in ns)` for the least resolved, or `None` if it has none.
fn least_resolved(latency: &Latency) -> Option<(f64, f64)> {
    let law = latency.law()?;
    law.parts()
        .iter()
        .filter_map(|part| match &part.base {
            Latency::Empirical(e) => {
                Some((e.samples() as f64 / part.weight, part.shift + e.support().1))
            }
            _ => None,
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

/// A constant delay at the median of a latency model with empirical samples (the model
/// itself otherwise): what a pilot run draws, so that it builds no table of the samples (the
/// run itself builds them, and its cells' time counts it).
fn typical(latency: &Arc<Latency>) -> Arc<Latency> {
    match (least_resolved(latency), latency.law()) {
        (Some(_), Some(law)) => {
            let ms = law.quantile(0.5) / NS_PER_MS;
            Arc::new(
                Constant::new(ms.clamp(0.0, MAX_DELAY_MS))
                    .map_or_else(|_| Latency::clone(latency), Latency::from),
            )
        }
        _ => latency.clone(),
    }
}

/// The most messages a trial of `cell` sent in a short pilot run (its count of delays drawn),
/// with delays fixed at the models' medians.
fn messages(sweep: &Sweep, cell: &Cell) -> u64 {
    let mut pilot = cell.clone();
    pilot.latency = typical(&cell.latency);
    if let Some((name, latency)) = &cell.cross_latency {
        pilot.cross_latency = Some((name.clone(), typical(latency)));
    }
    if let Some((name, latency)) = &cell.persist {
        pilot.persist = Some((name.clone(), typical(latency)));
    }
    if let Some((name, latency)) = &cell.process {
        pilot.process = Some((name.clone(), typical(latency)));
    }
    let Ok(model) = pilot.build() else {
        return 0;
    };
    let mut tally = Tally::empty();
    model.run(&mut crate::rng::stream(sweep.seed, 0, 0), 4, &mut tally);
    tally.messages_max
}

/// One line per empirical latency model whose samples are too few for the messages some
/// cell's trials draw from it (fewer than [`SAMPLES_PER_MESSAGE`] per message): its sample
/// count and largest value, the most messages a trial of those cells sends, the fraction of
/// such trials whose slowest message would lie beyond the samples, and the samples needed.
/// Each distinct cell (protocol, N, parameters, models) runs a few trials to count its
/// messages, its empirical models replaced by their medians (messages depend on delays only
/// through timeouts).
pub fn warnings(sweep: &Sweep) -> Vec<String> {
    // Per latency model: (samples, largest ns, most messages, the cell that sent them).
    let mut worst: HashMap<String, (f64, f64, u64, usize)> = HashMap::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (id, cell) in sweep.cells.iter().enumerate() {
        let models = std::iter::once((&cell.latency_name, &cell.latency))
            .chain(cell.cross_latency.as_ref().map(|(n, l)| (n, l)))
            .chain(cell.persist.as_ref().map(|(n, l)| (n, l)))
            .chain(cell.process.as_ref().map(|(n, l)| (n, l)));
        let small: Vec<(String, (f64, f64))> = models
            .filter_map(|(name, latency)| Some((name.to_string(), least_resolved(latency)?)))
            .collect();
        if small.is_empty() {
            continue;
        }
        let key = key(&cell);
        let m = match seen.get(&key) {
            Some(&m) if m > 0 => m,
            _ => {
                let m = messages(sweep, &cell);
                seen.insert(key, m);
                m
            }
        };
        for (name, (n, largest)) in small {
            if (m as f64) * SAMPLES_PER_MESSAGE <= n {
                continue;
            }
            let entry = worst.entry(name).or_insert((n, largest, 0, id));
            if m > entry.2 {
                *entry = (n, largest, m, id);
            }
        }
    }
    let mut names: Vec<&String> = worst.keys().collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let (n, largest, m, id) = worst[name];
            let cell = &sweep.cells.get(id);
            let beyond = -((m as f64) * (-1.0 / (n + 1.0)).ln_1p()).exp_m1();
            format!(
                "warning: latency `{name}` resamples {} measurements, none above {} ms, and \
                 {} N = {} sends up to {m} messages a trial: their slowest would lie beyond \
                 the largest measurement in {:.2}% of trials, where it is clipped to it (a p99 \
                 of the slowest of {m} needs {} measurements; README: Empirical tails)",
                n.round(),
                four_digits(largest / 1e6),
                cell.protocol.name,
                cell.nodes,
                100.0 * beyond,
                (SAMPLES_PER_MESSAGE * m as f64).round(),
            )
        })
        .collect()
}

/// What sets a cell's message count apart from another's, bar crash and loss rates.
fn key(cell: &Cell) -> String {
    format!(
        "{} {} {} {}",
        cell.protocol.name,
        cell.nodes,
        ParamsDisplay(cell),
        cell.latency_name
    )
}

/// `x` to 4 significant digits.
fn four_digits(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(protocol: &str, nodes: u32, samples: usize) -> (tempfile::TempDir, Sweep) {
        let dir = tempfile::tempdir().unwrap();
        let values: String = (1..=samples)
            .map(|i| format!("{}\n", i as f64 / 100.0))
            .collect();
        std::fs::write(dir.path().join("lat.csv"), values).unwrap();
        let text = format!(
            "name = \"t\"\nseed = 1\ntrials = 10\n[grid]\nprotocol = \"{protocol}\"\n\
             nodes = {nodes}\nlatency = [\"measured\", \"lan\"]\n\
             [latency.measured]\nkind = \"empirical\"\nfile = \"lat.csv\"\n\
             [latency.lan]\nkind = \"exponential\"\nmean_ms = 1\n"
        );
        let path = dir.path().join("t.toml");
        std::fs::write(&path, text).unwrap();
        let sweep = Sweep::load(&path).unwrap();
        (dir, sweep)
    }

    #[test]
    fn small_samples_under_many_messages_warn_once_per_model() {
        // A full mesh of 10 sends 90 messages: 9,000 samples are needed, 1,000 are too few.
        let (_dir, s) = sweep("full-mesh", 10, 1_000);
        let lines = warnings(&s);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert!(line.starts_with("warning: latency `measured` resamples 1000 measurements, none above 10 ms, and full-mesh N = 10 sends up to 90 messages"), "{line}");
        // 1 - (1 - 1/1001)^90 = 8.6%.
        assert!(line.contains(" 8.60% of trials"), "{line}");
        assert!(line.contains("needs 9000 measurements"), "{line}");
        let (_dir, s) = sweep("full-mesh", 10, 9_000);
        assert!(warnings(&s).is_empty());
    }
}
