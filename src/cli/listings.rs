//! The `protocols` and `latency` commands: what can be simulated, with its parameters.

use std::process::ExitCode;

use anyhow::Result;

use coordsim::advise;
use coordsim::latency::Latency;
use coordsim::model::ProtocolInfo;
use coordsim::protocols;
use coordsim::sweep::Registry;

use super::error::UsageError;

/// Lists the protocols, or prints the full model of the one called `name`.
pub(super) fn protocols(name: Option<String>) -> Result<ExitCode> {
    match name {
        None => {
            println!("{}", protocol_list());
            Ok(ExitCode::SUCCESS)
        }
        Some(name) => {
            let registry = Registry::builtin();
            let protocol = registry.find(&name).ok_or_else(|| {
                let known: Vec<&str> = registry.iter().map(|p| p.name).collect();
                UsageError(format!(
                    "unknown protocol `{name}` (known: {})",
                    known.join(", ")
                ))
            })?;
            println!("{}", protocol_model(protocol));
            if let Some((_, provides)) = advise::PROVIDES.iter().find(|(p, _)| *p == name) {
                println!("\nConsistency (coordsim advise): {provides}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Lists the latency models and their keys.
pub(super) fn latency() -> Result<ExitCode> {
    println!("{}", latency_list());
    Ok(ExitCode::SUCCESS)
}

fn protocol_list() -> String {
    let mut out = String::from("Protocols (coordsim protocols NAME prints the full model):\n\n");
    for p in protocols::BUILTIN {
        out.push_str(&format!("  {:<20} {}\n", p.name, p.summary));
        for spec in p.params {
            out.push_str(&format!(
                "  {:<20}   {} = {} ({}): {}\n",
                "",
                spec.name,
                spec.default,
                spec.kind.describe(),
                spec.doc
            ));
        }
    }
    out.push_str(
        "\nEvery protocol also takes the grid's environment axes: nodes, crash (per-node crash \
         probability per trial), loss (per-message loss probability), zones and zone_crash \
         (correlated failures), partition (probability of a two-way split), regions and \
         cross_latency, latency (the one-way delay model), and persist and process (latency \
         models of a durable write and of handling one message at a node, none by default; \
         applied by the protocols whose model text names them).",
    );
    out
}

fn protocol_model(p: &ProtocolInfo) -> String {
    let mut out = format!("{}: {}\n\n{}\n\nParameters:\n", p.name, p.summary, p.model);
    out.push_str("  nodes, crash, loss, zones, zone_crash, partition, regions, latency, cross_latency, persist, process: the grid's environment axes\n");
    for spec in p.params {
        out.push_str(&format!(
            "  {} = {} ({}): {}\n",
            spec.name,
            spec.default,
            spec.kind.describe(),
            spec.doc
        ));
    }
    if !p.extras.is_empty() {
        out.push_str("\nIts own counts (summary columns <name>_mean, the mean per trial):\n");
        for extra in p.extras {
            out.push_str(&format!("  {}: {}\n", extra.name, extra.doc));
        }
    }
    out.trim_end().to_string()
}

fn latency_list() -> String {
    let mut out = String::from(
        "Latency models: one-way message delay, defined under [latency.NAME] with kind = \"...\"\n\n",
    );
    for (kind, fields) in Latency::KINDS {
        out.push_str(&format!("  {kind}\n"));
        for (key, doc) in *fields {
            out.push_str(&format!("      {key:<12} {doc}\n"));
        }
    }
    out.trim_end().to_string()
}
