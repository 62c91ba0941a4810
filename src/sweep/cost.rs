//! The `[cost]` section: what a message and a wait cost, for the dollar columns of the
//! summary.

use std::collections::BTreeMap;

use super::fields::{FieldError, Fields};
use super::{Cell, Registry};
use crate::model::Value;
use crate::model::stats::Summary;

/// Prices that turn messages into bytes and dollars.
///
/// ```toml
/// [cost]
/// message_bytes = 1024          # bytes per message
/// ops_per_month = 1_000_000     # operations per month
/// usd_per_gb = 0.09             # transfer price
/// usd_per_hour = 0              # price of an hour of latency
/// [cost.premium]                # per-protocol multipliers, e.g. cross-region traffic
/// two-phase-commit = 5
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    /// Bytes per message.
    pub message_bytes: f64,
    /// Operations (trials) per month.
    pub ops_per_month: f64,
    /// Dollars per gigabyte (10^9 bytes) transferred.
    pub usd_per_gb: f64,
    /// Dollars per hour of latency: the essay's "latency × $/hour".
    pub usd_per_hour: f64,
    /// Price multiplier per protocol (1 when absent).
    pub premium: BTreeMap<String, f64>,
}

impl Default for Cost {
    fn default() -> Self {
        Self {
            message_bytes: 1024.0,
            ops_per_month: 1_000_000.0,
            usd_per_gb: 0.09,
            usd_per_hour: 0.0,
            premium: BTreeMap::new(),
        }
    }
}

impl Cost {
    /// Reads a `[cost]` table; absent keys keep their defaults.
    pub fn from_fields(mut fields: Fields<'_>, registry: &Registry) -> Result<Self, FieldError> {
        let mut cost = Cost::default();
        let positive = |value: f64, field: &super::fields::Field<'_>| {
            if value >= 0.0 {
                Ok(value)
            } else {
                Err(field.error(format!("{value} must be >= 0")))
            }
        };
        for (key, slot) in [
            ("message_bytes", &mut cost.message_bytes),
            ("ops_per_month", &mut cost.ops_per_month),
            ("usd_per_gb", &mut cost.usd_per_gb),
            ("usd_per_hour", &mut cost.usd_per_hour),
        ] {
            if let Some(field) = fields.take(key) {
                *slot = positive(field.number()?, &field)?;
            }
        }
        if let Some(field) = fields.take("premium") {
            let mut premiums = field.table()?;
            let keys: Vec<&str> = premiums.untaken().map(|(k, _)| k).collect();
            for key in keys {
                let field = premiums.take(key).expect("key is present");
                if registry.find(key).is_none() {
                    return Err(field.error(format!("unknown protocol `{key}`")));
                }
                cost.premium
                    .insert(key.to_string(), positive(field.number()?, &field)?);
            }
        }
        fields.finish()?;
        Ok(cost)
    }

    /// The multiplier of `protocol`.
    pub fn premium(&self, protocol: &str) -> f64 {
        self.premium.get(protocol).copied().unwrap_or(1.0)
    }

    /// Bytes per operation for `messages` messages per operation.
    pub fn bytes_per_op(&self, messages: f64) -> f64 {
        messages * self.message_bytes
    }

    /// Messages per month.
    pub fn messages_per_month(&self, messages: f64) -> f64 {
        messages * self.ops_per_month
    }

    /// Transfer dollars per month of `protocol` at `messages` messages per operation.
    pub fn usd_per_month(&self, protocol: &str, messages: f64) -> f64 {
        self.transfer_usd(
            protocol,
            self.messages_per_month(messages),
            self.message_bytes,
        )
    }

    /// Transfer dollars of `protocol` for `messages` messages of `bytes` bytes each.
    pub fn transfer_usd(&self, protocol: &str, messages: f64, bytes: f64) -> f64 {
        messages * bytes / 1e9 * self.usd_per_gb * self.premium(protocol)
    }

    /// Trials per month: `ops_per_month`, or for a periodic protocol, whose trial is one
    /// period of `period_ms`, the periods in `SECONDS_PER_MONTH`.
    pub fn trials_per_month(&self, period_ms: Option<f64>) -> f64 {
        match period_ms {
            Some(ms) => SECONDS_PER_MONTH * 1e3 / ms,
            None => self.ops_per_month,
        }
    }

    /// Latency dollars of `trials` trials of mean latency `latency_ms`: `usd_per_hour` for
    /// every hour waited.
    pub fn latency_usd(&self, trials: f64, latency_ms: f64) -> f64 {
        trials * latency_ms / 3.6e6 * self.usd_per_hour
    }
}

/// What one cell costs at these prices, from its summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Bytes per operation (trial).
    pub bytes_per_op: f64,
    /// Messages per month.
    pub messages_per_month: f64,
    /// Messages per second, for a periodic protocol.
    pub messages_per_s: Option<f64>,
    /// Transfer dollars per month.
    pub transfer_usd: f64,
    /// Latency dollars per month, when some trial succeeded and so has a latency.
    pub latency_usd: Option<f64>,
}

impl Price {
    /// Transfer and latency dollars per month: the essay's messages x size x $/GB + latency
    /// x $/hour.
    pub fn usd_per_month(&self) -> Option<f64> {
        Some(self.transfer_usd + self.latency_usd?)
    }
}

/// The parameter of a periodic protocol, whose trial is one period: its period in ms.
const PERIOD: &str = "period_ms";
/// The count of a protocol whose messages differ in size: the bytes it sent.
const BYTES: &str = "bytes";

impl Cost {
    /// What `cell` costs per month, given its `summary`. A trial is an operation, or one
    /// period of a periodic protocol (one with a `period_ms` parameter); its bytes are the
    /// protocol's own `bytes` count where messages differ in size, messages x
    /// `message_bytes` otherwise.
    pub fn price(&self, cell: &Cell, summary: &Summary) -> Price {
        let period_ms = match cell.value(PERIOD) {
            Some(Value::Millis(ms)) => Some(ms),
            _ => None,
        };
        let bytes_mean = cell
            .protocol
            .extras
            .iter()
            .position(|e| e.name == BYTES)
            .map(|i| summary.extras_mean[i]);
        let trials = self.trials_per_month(period_ms);
        let messages_per_month = summary.messages_mean * trials;
        let transfer_usd = match bytes_mean {
            Some(bytes) => self.transfer_usd(cell.protocol.name, trials, bytes),
            None => self.transfer_usd(cell.protocol.name, messages_per_month, self.message_bytes),
        };
        Price {
            bytes_per_op: bytes_mean.unwrap_or_else(|| self.bytes_per_op(summary.messages_mean)),
            messages_per_month,
            messages_per_s: period_ms.map(|ms| summary.messages_mean * 1e3 / ms),
            transfer_usd,
            latency_usd: summary
                .latency_ms
                .as_ref()
                .map(|latency| self.latency_usd(trials, latency.mean)),
        }
    }
}

/// The seconds of a month, as the rates of periodic protocols count them: 30 days.
pub const SECONDS_PER_MONTH: f64 = 30.0 * 86_400.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_economics_arithmetic() {
        let text = "message_bytes = 1000\nops_per_month = 1_000_000\nusd_per_gb = 0.09\n\
                    [premium]\ntwo-phase-commit = 5\n";
        let table: toml::Table = text.parse().unwrap();
        let cost = Cost::from_fields(Fields::new("cost", &table), &Registry::builtin()).unwrap();
        // 2 messages per op: 2e6 messages, 2e9 bytes = 2 GB a month, $0.18; x5 for 2PC.
        assert!((cost.usd_per_month("ack", 2.0) - 0.18).abs() < 1e-12);
        assert!((cost.usd_per_month("two-phase-commit", 2.0) - 0.9).abs() < 1e-12);
        let bad: toml::Table = "[premium]\nfoo = 2\n".parse().unwrap();
        let e = Cost::from_fields(Fields::new("cost", &bad), &Registry::builtin()).unwrap_err();
        assert_eq!(e.field, "cost.premium.foo");
    }

    #[test]
    fn periods_and_hours_are_priced() {
        let cost = Cost {
            usd_per_hour: 36.0,
            ..Cost::default()
        };
        // A period of 100 ms: 25,920,000 periods in 30 days.
        assert_eq!(cost.trials_per_month(Some(100.0)), 25_920_000.0);
        assert_eq!(cost.trials_per_month(None), 1_000_000.0);
        // A million operations waiting 3.6 ms each wait an hour: $36.
        assert!((cost.latency_usd(1e6, 3.6) - 36.0).abs() < 1e-9);
        // 10^6 messages of 10^3 bytes: 1 GB, $0.09.
        assert!((cost.transfer_usd("ack", 1e6, 1e3) - 0.09).abs() < 1e-12);
        let table: toml::Table = "usd_per_hour = 12.5".parse().unwrap();
        let cost = Cost::from_fields(Fields::new("cost", &table), &Registry::builtin()).unwrap();
        assert_eq!(cost.usd_per_hour, 12.5);
        assert_eq!(Cost::default().usd_per_hour, 0.0);
    }
}
