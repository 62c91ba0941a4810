//! What `advise` prints: a ranked table with the recommendation, or JSON for scripts.

use std::fmt::Write as _;

use serde_json::{Value, json as j};

use super::{Advice, Measured};
use crate::model::objective::Verdict;
use crate::store::table::sig;

/// A design in words: `quorum N=3 k=majority`.
fn design_words(m: &Measured) -> String {
    let mut words = format!("{} N={}", m.design.protocol, m.design.nodes);
    for (k, v) in &m.design.params {
        let v = match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ = write!(words, " {k}={v}");
    }
    words
}

/// Why a design fails, in words: the objectives it missed or left undecided.
fn failing(m: &Measured) -> String {
    m.verdicts
        .iter()
        .filter(|(_, j)| j.verdict != Verdict::Met)
        .map(|(metric, j)| {
            format!(
                "{metric} {} ({} in [{}, {}])",
                j.verdict,
                sig(j.estimate, 5),
                sig(j.low, 5),
                sig(j.high, 5)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ranked table, the recommendation and why each design ranked before it was passed over.
pub fn table(advice: &Advice) -> String {
    let r = &advice.requirements;
    let mut out = String::new();
    let mut objectives = format!("success_rate >= {}", r.success_rate);
    if let Some(p99) = r.latency_ms_p99 {
        let _ = write!(objectives, ", latency_ms_p99 <= {p99}");
    }
    let _ = writeln!(
        out,
        "requirements: {} consistency, surviving {} crash(es){}; {objectives}",
        r.consistency.word(),
        r.crashes,
        if r.byzantine > 0 {
            format!(" and {} Byzantine node(s)", r.byzantine)
        } else {
            String::new()
        }
    );
    let mut t = crate::store::table::table(
        &[
            "rank",
            "design",
            "consistency",
            "success",
            "p99 ms",
            "$/month",
            "trials",
            "verdict",
        ],
        3,
    );
    for (i, m) in advice.designs.iter().enumerate() {
        let s = &m.record.summary;
        t.add_row([
            (i + 1).to_string(),
            design_words(m),
            m.design.consistency.word().to_string(),
            format!("{:.6}", s.success_rate),
            s.latency_ms.as_ref().map_or("-".into(), |l| sig(l.p99, 4)),
            sig(m.usd_per_month, 4),
            s.trials.to_string(),
            if m.meets() {
                "meets all".to_string()
            } else {
                failing(m)
            },
        ]);
    }
    let _ = writeln!(out, "{t}");
    match advice.recommended() {
        Some(best) => {
            let _ = writeln!(
                out,
                "recommended: {} ({}), ${} per month: the cheapest design of the lowest rung that meets every objective",
                design_words(best),
                best.design.why,
                sig(best.usd_per_month, 4)
            );
            for m in advice.designs.iter().take_while(|m| !m.meets()) {
                let _ = writeln!(out, "  passed over: {}: {}", design_words(m), failing(m));
            }
        }
        None => {
            let _ = writeln!(out, "nothing meets every objective; the closest designs:");
            let mut closest: Vec<&Measured> = advice.designs.iter().collect();
            closest.sort_by_key(|m| {
                m.verdicts
                    .iter()
                    .filter(|(_, j)| j.verdict == Verdict::Missed)
                    .count()
            });
            for m in closest.iter().take(3) {
                let _ = writeln!(
                    out,
                    "  {} (${} per month): {}",
                    design_words(m),
                    sig(m.usd_per_month, 4),
                    failing(m)
                );
            }
        }
    }
    let _ = write!(
        out,
        "verdicts at the 95% level over all designs; results in {}",
        advice.dir.display()
    );
    out
}

fn design_json(m: &Measured) -> Value {
    let params: serde_json::Map<String, Value> = m
        .design
        .params
        .iter()
        .map(|(k, v)| {
            let v = match v {
                toml::Value::String(s) => Value::String(s.clone()),
                toml::Value::Integer(i) => j!(i),
                other => Value::String(other.to_string()),
            };
            (k.to_string(), v)
        })
        .collect();
    let verdicts: serde_json::Map<String, Value> = m
        .verdicts
        .iter()
        .map(|(metric, jd)| {
            (
                metric.to_string(),
                j!({
                    "verdict": jd.verdict.as_str(),
                    "estimate": finite(jd.estimate),
                    "low": finite(jd.low),
                    "high": finite(jd.high),
                }),
            )
        })
        .collect();
    j!({
        "protocol": m.design.protocol,
        "nodes": m.design.nodes,
        "params": params,
        "consistency": m.design.consistency.word(),
        "cell_id": m.cell,
        "trials": m.record.summary.trials,
        "success_rate": m.record.summary.success_rate,
        "latency_ms_p99": m.record.summary.latency_ms.as_ref().map(|l| l.p99),
        "usd_per_month": m.usd_per_month,
        "meets": m.meets(),
        "verdicts": verdicts,
    })
}

fn finite(x: f64) -> Value {
    if x.is_finite() { j!(x) } else { Value::Null }
}

/// The advice as JSON: `recommended` (null when nothing meets every objective) and `designs`,
/// cheapest first, each with its verdicts.
pub fn json(advice: &Advice) -> String {
    let value = j!({
        "recommended": advice.recommended().map(design_json),
        "designs": advice.designs.iter().map(design_json).collect::<Vec<_>>(),
        "dir": advice.dir.display().to_string(),
    });
    serde_json::to_string_pretty(&value).expect("JSON of plain values")
}
