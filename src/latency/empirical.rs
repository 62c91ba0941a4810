//! A delay resampled from measured latencies: a CSV column or an HdrHistogram log.

use std::path::Path;
use std::sync::Arc;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use rand::RngExt;

use super::{Delay, LatencyError, Law, NS_PER_MS, to_ns};
use crate::rng::SimRng;

/// Draws from the empirical distribution of measured delays: the bootstrap (each draw is one
/// of the measurements, uniformly) for a CSV column; for an HdrHistogram log, a bucket with
/// probability proportional to its count, then a uniform value within the bucket.
///
/// ```
/// use coordsim::latency::{Delay, Empirical};
/// use coordsim::rng::stream;
/// let d = Empirical::from_values_ms(&[1.0, 2.0, 3.0]).unwrap();
/// let ns = d.sample_ns(&mut stream(1, 0, 0));
/// assert!([1_000_000, 2_000_000, 3_000_000].contains(&ns));
/// assert!(Empirical::from_values_ms(&[]).is_err());
/// ```
#[derive(Clone, PartialEq)]
pub struct Empirical {
    /// Buckets: (cumulative count up to and including this bucket, low ns, high ns).
    /// Shared by the clones: every cell of a sweep holds the model, the samples are held once.
    buckets: Arc<[(u64, u64, u64)]>,
    /// A digest of the buckets, so that the debug form (which keys the direct samplers'
    /// caches) names the samples without listing them.
    digest: u64,
}

/// The size and a digest of the samples, not the samples themselves: a file of a million
/// latencies would otherwise print as a million numbers.
impl std::fmt::Debug for Empirical {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Empirical")
            .field("samples", &self.samples())
            .field("buckets", &self.buckets.len())
            .field("digest", &format_args!("{:016x}", self.digest))
            .finish()
    }
}

/// Nanoseconds per unit of a file's values: `"ns"`, `"us"`, `"ms"` or `"s"`.
pub fn unit_ns(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    })
}

impl Empirical {
    fn with_buckets(buckets: Vec<(u64, u64, u64)>) -> Self {
        // FNV-1a over the buckets' numbers.
        let mut digest = 0xcbf2_9ce4_8422_2325u64;
        for &(c, low, high) in &buckets {
            for v in [c, low, high] {
                for byte in v.to_le_bytes() {
                    digest = (digest ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
        Self {
            buckets: buckets.into(),
            digest,
        }
    }

    /// How many latencies the distribution was built from (the histogram's count for a log).
    pub fn samples(&self) -> u64 {
        self.buckets.last().map_or(0, |b| b.0)
    }

    /// True if every bucket is a single value (as for a CSV): the law is the sample's own.
    pub fn is_sample(&self) -> bool {
        self.buckets.iter().all(|b| b.1 == b.2)
    }

    /// The distribution as runs of equally likely integers, in increasing order:
    /// `(low ns, high ns, count)`, each integer of `low..=high` drawn with probability
    /// `count / (samples * (high - low + 1))`. Equal measurements are one run.
    pub fn runs(&self) -> Vec<(u64, u64, u64)> {
        let mut runs: Vec<(u64, u64, u64)> = Vec::new();
        let mut before = 0;
        for &(cumulative, low, high) in self.buckets.iter() {
            let count = cumulative - before;
            before = cumulative;
            match runs.last_mut() {
                Some(last) if low == high && last.0 == low && last.1 == high => last.2 += count,
                _ => runs.push((low, high, count)),
            }
        }
        runs
    }

    /// Values at or below `x`, counted (a bucket's integers each carry an equal share).
    fn count_at_or_below(&self, x: f64) -> f64 {
        let i = self.buckets.partition_point(|b| (b.2 as f64) <= x);
        let before = if i == 0 { 0 } else { self.buckets[i - 1].0 };
        let Some(&(cumulative, low, high)) = self.buckets.get(i) else {
            return before as f64;
        };
        if (low as f64) > x {
            return before as f64;
        }
        // low <= x < high: the integers low..=floor(x) of the bucket.
        let share = (x.floor() - low as f64 + 1.0) / (high - low + 1) as f64;
        before as f64 + share * (cumulative - before) as f64
    }

    /// The smallest value whose cumulative count reaches `rank` (1 ..= samples, fractional
    /// within a bucket's share).
    fn value_at_rank(&self, rank: f64) -> f64 {
        let total = self.samples();
        let rank = rank.clamp(f64::MIN_POSITIVE, total as f64);
        let i = self
            .buckets
            .partition_point(|b| (b.0 as f64) < rank)
            .min(self.buckets.len() - 1);
        let before = if i == 0 { 0 } else { self.buckets[i - 1].0 };
        let (cumulative, low, high) = self.buckets[i];
        let width = (high - low + 1) as f64;
        let j = ((rank - before as f64) / (cumulative - before) as f64 * width).ceil() - 1.0;
        low as f64 + j.clamp(0.0, width - 1.0)
    }

    /// The bootstrap distribution of `values`, in milliseconds (finite, >= 0, at least one).
    pub fn from_values_ms(values: &[f64]) -> Result<Self, LatencyError> {
        Self::from_values(values, NS_PER_MS)
    }

    /// The measured delays `values`, in units of `unit_ns` nanoseconds each.
    pub fn from_values(values: &[f64], unit_ns: f64) -> Result<Self, LatencyError> {
        if values.is_empty() {
            return Err(LatencyError::new("file", "no latencies in the file"));
        }
        let mut ns = Vec::with_capacity(values.len());
        for &v in values {
            if !(v.is_finite() && v >= 0.0) {
                return Err(LatencyError::new(
                    "file",
                    format!("latency {v} is not a finite number >= 0"),
                ));
            }
            if v * unit_ns > super::MAX_DELAY_MS * NS_PER_MS {
                return Err(LatencyError::new(
                    "file",
                    format!(
                        "latency {v} exceeds one hour ({} ms), the longest delay a model may name",
                        super::MAX_DELAY_MS
                    ),
                ));
            }
            ns.push(to_ns(v * unit_ns));
        }
        ns.sort_unstable();
        Ok(Self::with_buckets(
            ns.iter()
                .enumerate()
                .map(|(i, &v)| (i as u64 + 1, v, v))
                .collect(),
        ))
    }

    /// The distribution recorded in `histogram`, whose values are in units of `unit_ns`.
    pub fn from_histogram(histogram: &Histogram<u64>, unit_ns: f64) -> Result<Self, LatencyError> {
        let mut buckets = Vec::new();
        let mut total = 0;
        for v in histogram.iter_recorded() {
            total += v.count_at_value();
            let high = v.value_iterated_to();
            let low = histogram.lowest_equivalent(high);
            buckets.push((
                total,
                to_ns(low as f64 * unit_ns),
                to_ns(high as f64 * unit_ns),
            ));
        }
        if total == 0 {
            return Err(LatencyError::new(
                "file",
                "the histogram log records no latencies",
            ));
        }
        let longest_ms = histogram.max() as f64 * unit_ns / NS_PER_MS;
        if longest_ms > super::MAX_DELAY_MS {
            return Err(LatencyError::new(
                "file",
                format!(
                    "latency {longest_ms} ms exceeds one hour ({} ms), the longest delay a model may name",
                    super::MAX_DELAY_MS
                ),
            ));
        }
        Ok(Self::with_buckets(buckets))
    }

    /// The values of a CSV file: its column `column` (the file then has a header row), or
    /// its first column without a header.
    pub fn read_csv(path: &Path, column: Option<&str>) -> Result<Vec<f64>, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(column.is_some())
            .from_path(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let index = match column {
            Some(name) => reader
                .headers()
                .map_err(|e| e.to_string())?
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| format!("{} has no column `{name}`", path.display()))?,
            None => 0,
        };
        let mut values = Vec::new();
        for (line, record) in reader.records().enumerate() {
            let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
            let cell = record.get(index).unwrap_or("").trim();
            let row = line + 1 + usize::from(column.is_some());
            let value: f64 = cell
                .parse()
                .map_err(|_| format!("{} line {row}: `{cell}` is not a number", path.display()))?;
            values.push(value);
        }
        Ok(values)
    }

    /// The sum of the histograms of an HdrHistogram interval log.
    pub fn read_hdr_log(path: &Path) -> Result<Histogram<u64>, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut merged: Option<Histogram<u64>> = None;
        let mut deserializer = Deserializer::new();
        for entry in IntervalLogIterator::new(&bytes) {
            let entry = entry
                .map_err(|e| format!("{}: not an HdrHistogram log ({e:?})", path.display()))?;
            let LogEntry::Interval(interval) = entry else {
                continue;
            };
            let decoded = base64_decode(interval.encoded_histogram())
                .ok_or_else(|| format!("{}: bad base64 in an interval", path.display()))?;
            let h: Histogram<u64> = deserializer
                .deserialize(&mut decoded.as_slice())
                .map_err(|e| format!("{}: bad histogram ({e:?})", path.display()))?;
            match merged.as_mut() {
                Some(m) => m
                    .add(&h)
                    .map_err(|e| format!("{}: {e:?}", path.display()))?,
                None => merged = Some(h),
            }
        }
        merged.ok_or_else(|| format!("{}: the log holds no histogram", path.display()))
    }
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

impl Delay for Empirical {
    const KIND: &'static str = "empirical";
    const FIELDS: &'static [(&'static str, &'static str)] = &[
        (
            "file",
            "CSV of latencies, or an HdrHistogram interval log (.hlog); relative to the sweep file",
        ),
        (
            "column",
            "CSV column name (the file then has a header row); default: the first column, no header",
        ),
        (
            "unit",
            "unit of the file's values: \"ns\", \"us\", \"ms\" or \"s\"; default \"ms\" for a CSV, \
             required for an .hlog",
        ),
    ];

    #[inline]
    fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        let total = self.buckets.last().map_or(0, |b| b.0);
        let u = rng.random_range(0..total);
        let i = self.buckets.partition_point(|b| b.0 <= u);
        let (_, low, high) = self.buckets[i];
        if low == high {
            low
        } else {
            rng.random_range(low..=high)
        }
    }
}

/// The distribution the samples define: the sorted sample for a CSV (every measurement
/// equally likely), a bucket's integers equally likely for a log. It has no density.
impl Law for Empirical {
    fn support(&self) -> (f64, f64) {
        let first = self.buckets.first().map_or(0, |b| b.1);
        let last = self.buckets.last().map_or(0, |b| b.2);
        (first as f64, last as f64)
    }

    fn cdf(&self, x: f64) -> f64 {
        self.count_at_or_below(x) / self.samples() as f64
    }

    fn sf(&self, x: f64) -> f64 {
        let total = self.samples() as f64;
        (total - self.count_at_or_below(x)) / total
    }

    fn pdf(&self, _x: f64) -> f64 {
        0.0
    }

    fn quantile(&self, p: f64) -> f64 {
        self.value_at_rank(p * self.samples() as f64)
    }

    fn quantile_sf(&self, t: f64) -> f64 {
        // The smallest x with P(X > x) <= t: rank total - floor(t total), fractional in a bucket.
        let total = self.samples() as f64;
        self.value_at_rank(total - t * total)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use hdrhistogram::serialization::V2DeflateSerializer;
    use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;

    use crate::latency::Latency;
    use crate::latency::tests::assert_cdf;
    use crate::sweep::fields::Fields;

    fn parse(
        dir: &std::path::Path,
        text: &str,
    ) -> Result<Latency, crate::sweep::fields::FieldError> {
        let table: toml::Table = text.parse().unwrap();
        crate::sweep::delays::read(Fields::with_base("latency.prod", &table, dir))
    }

    #[test]
    fn resamples_a_csv_column() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = std::fs::File::create(dir.path().join("lat.csv")).unwrap();
        writeln!(f, "host,latency_ms").unwrap();
        for i in 0..100 {
            writeln!(f, "a,{}", f64::from(i) / 10.0).unwrap();
        }
        drop(f);
        let d = parse(
            dir.path(),
            "kind = \"empirical\"\nfile = \"lat.csv\"\ncolumn = \"latency_ms\"",
        )
        .unwrap();
        // Values 0.0, 0.1, ..., 9.9 ms: P(X <= 4.95 ms) = 0.5.
        assert_cdf(&d, 4.95e6, 0.5, 200_000);
    }

    #[test]
    fn resamples_an_hdr_histogram_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1_000_000, 3).unwrap();
        h.record_n(100, 900).unwrap(); // 100 us
        h.record_n(10_000, 100).unwrap(); // 10 ms
        let mut bytes = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        let mut log = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut bytes, &mut serializer)
            .unwrap();
        log.write_histogram(
            &h,
            std::time::Duration::ZERO,
            std::time::Duration::from_secs(1),
            None,
        )
        .unwrap();
        drop(log);
        std::fs::write(dir.path().join("lat.hlog"), &bytes).unwrap();
        let d = parse(
            dir.path(),
            "kind = \"empirical\"\nfile = \"lat.hlog\"\nunit = \"us\"",
        )
        .unwrap();
        assert_cdf(&d, 1e6, 0.9, 200_000);
    }

    #[test]
    fn an_hdr_histogram_log_must_name_its_unit() {
        // Checked before the file is read: the log need not even exist.
        let dir = tempfile::tempdir().unwrap();
        let e = parse(dir.path(), "kind = \"empirical\"\nfile = \"lat.hlog\"").unwrap_err();
        assert_eq!(e.field, "latency.prod.unit");
        assert!(
            e.message.starts_with("missing: an HdrHistogram log"),
            "{}",
            e.message
        );
        // A CSV keeps its default, ms.
        std::fs::write(dir.path().join("lat.csv"), "2\n").unwrap();
        let d = parse(dir.path(), "kind = \"empirical\"\nfile = \"lat.csv\"").unwrap();
        assert_cdf(&d, 2e6, 1.0, 1_000);
    }

    #[test]
    fn bad_files_are_refused_with_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let e = parse(dir.path(), "kind = \"empirical\"\nfile = \"missing.csv\"").unwrap_err();
        assert_eq!(e.field, "latency.prod.file");
        assert!(e.message.starts_with("cannot read"), "{}", e.message);
        std::fs::write(dir.path().join("empty.csv"), "").unwrap();
        let e = parse(dir.path(), "kind = \"empirical\"\nfile = \"empty.csv\"").unwrap_err();
        assert!(
            e.message.ends_with("no latencies in the file"),
            "{}",
            e.message
        );
        std::fs::write(dir.path().join("text.csv"), "1.5\nfast\n").unwrap();
        let e = parse(dir.path(), "kind = \"empirical\"\nfile = \"text.csv\"").unwrap_err();
        assert!(
            e.message.ends_with("line 2: `fast` is not a number"),
            "{}",
            e.message
        );
        std::fs::write(dir.path().join("neg.csv"), "1.5\n-2\n").unwrap();
        let e = parse(dir.path(), "kind = \"empirical\"\nfile = \"neg.csv\"").unwrap_err();
        assert!(
            e.message
                .ends_with("latency -2 is not a finite number >= 0"),
            "{}",
            e.message
        );
    }
}
