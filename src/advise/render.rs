//! What `advise` prints: a ranked table with the recommendation, or JSON for scripts.

use std::fmt::Write as _;

use serde_json::{Value, json as j};

use super::sensitivity::{Input, Point, Sensitivity};
use super::{Advice, Design, Measured};
use crate::model::objective::Verdict;
use crate::store::table::sig;

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
            "frontier",
            "trials",
            "verdict",
        ],
        3,
    );
    for (i, m) in advice.designs.iter().enumerate() {
        let s = &m.record.summary;
        t.add_row([
            (i + 1).to_string(),
            m.design.label(),
            m.design.consistency.word().to_string(),
            format!("{:.6}", s.success_rate),
            s.latency_ms.as_ref().map_or("-".into(), |l| sig(l.p99, 4)),
            sig(m.usd_per_month, 4),
            if m.frontier { "*" } else { "" }.to_string(),
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
                "recommended: {} ({}), ${} per month: the cheapest design that meets every objective",
                best.design.label(),
                best.design.why,
                sig(best.usd_per_month, 4)
            );
            for m in advice.designs.iter().take_while(|m| !m.meets()) {
                let _ = writeln!(out, "  passed over: {}: {}", m.design.label(), failing(m));
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
                    m.design.label(),
                    sig(m.usd_per_month, 4),
                    failing(m)
                );
            }
        }
    }
    if !advice.sensitivity.is_empty() {
        let _ = writeln!(
            out,
            "sensitivity (one input moved at a time, the others as stated):"
        );
        for s in &advice.sensitivity {
            let _ = writeln!(out, "  {}", sensitivity_words(s));
        }
    }
    let _ = write!(
        out,
        "$/month is transfer plus latency; * marks the frontier (no other design is as consistent, as fast at p99 and as cheap); verdicts at the 95% level over all designs; results in {}",
        advice.dir.display()
    );
    out
}

/// A value of an input in words: a rate, or latency's factor (`x2`).
fn value_words(input: Input, value: f64) -> String {
    match input {
        Input::Latency => format!("x{value}"),
        Input::Crash | Input::Loss => value.to_string(),
    }
}

/// What a point recommends, in words.
fn recommendation_words(p: &Point) -> String {
    match &p.recommended {
        Some((d, _)) => d.label(),
        None => "nothing meets every objective".to_string(),
    }
}

/// One input's line: over which values the recommendation holds, and what it becomes beyond.
fn sensitivity_words(s: &Sensitivity) -> String {
    let name = s.input.word();
    if let Some(why) = s.not_moved {
        return format!("{name}: not moved ({why})");
    }
    let Some((low, high)) = s.holds() else {
        return format!("{name}: not measured");
    };
    let stated = s
        .points
        .iter()
        .find(|p| p.value == s.stated)
        .expect("the stated value is a point");
    let holds = match &stated.recommended {
        Some((d, _)) => format!("{} holds", d.label()),
        None => "nothing meets every objective".to_string(),
    };
    let mut line = format!(
        "{name} {}: {holds} from {} to {}",
        value_words(s.input, s.stated),
        value_words(s.input, low),
        value_words(s.input, high)
    );
    match s.changes() {
        (None, None) => line.push_str(" (every value tried)"),
        (below, above) => {
            for p in [below, above].into_iter().flatten() {
                let _ = write!(
                    line,
                    "; at {}: {}",
                    value_words(s.input, p.value),
                    recommendation_words(p)
                );
            }
        }
    }
    line
}

fn design_json(m: &Measured) -> Value {
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
    let mut v = identity_json(&m.design);
    let more = j!({
        "consistency": m.design.consistency.word(),
        "cell_id": m.cell,
        "trials": m.record.summary.trials,
        "success_rate": m.record.summary.success_rate,
        "latency_ms_p99": m.record.summary.latency_ms.as_ref().map(|l| l.p99),
        "transfer_usd_per_month": m.price.transfer_usd,
        "latency_usd_per_month": m.price.latency_usd,
        "usd_per_month": m.usd_per_month,
        "frontier": m.frontier,
        "meets": m.meets(),
        "verdicts": verdicts,
    });
    for (key, value) in more.as_object().expect("an object") {
        v[key] = value.clone();
    }
    v
}

/// A design's identity: protocol, nodes and parameters.
fn identity_json(d: &Design) -> Value {
    let params: serde_json::Map<String, Value> = d
        .params
        .iter()
        .map(|(k, v)| (k.to_string(), param_json(v)))
        .collect();
    j!({ "protocol": d.protocol, "nodes": d.nodes, "params": params })
}

fn param_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => j!(i),
        other => Value::String(other.to_string()),
    }
}

fn sensitivity_json(s: &Sensitivity) -> Value {
    let points: Vec<Value> = s
        .points
        .iter()
        .map(|p| {
            j!({
                "value": p.value,
                "recommended": p.recommended.as_ref().map(|(d, usd)| {
                    let mut v = identity_json(d);
                    v["usd_per_month"] = j!(usd);
                    v
                }),
            })
        })
        .collect();
    j!({
        "input": s.input.word(),
        "stated": s.stated,
        "holds": s.holds().map(|(low, high)| j!({ "low": low, "high": high })),
        "not_moved": s.not_moved,
        "points": points,
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
        "frontier": advice
            .designs
            .iter()
            .filter(|m| m.frontier)
            .map(|m| identity_json(&m.design))
            .collect::<Vec<_>>(),
        "sensitivity": advice.sensitivity.iter().map(sensitivity_json).collect::<Vec<_>>(),
        "dir": advice.dir.display().to_string(),
    });
    serde_json::to_string_pretty(&value).expect("JSON of plain values")
}
