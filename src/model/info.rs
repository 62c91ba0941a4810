//! A protocol as a registry knows it ([`ProtocolInfo`]), what it is built from
//! ([`Setting`]) and why a setting cannot be built ([`ModelError`]).

use std::fmt;

use thiserror::Error;

use super::env::Env;
use super::outcome::Extra;
use super::param::{Choice, ParamSpec, QuorumRule, Value};
use super::protocol::Simulate;

/// A parameter combination a protocol cannot run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ModelError {
    /// The parameter to blame: one of the protocol's, or `nodes`, `crash`, `loss`.
    pub param: &'static str,
    /// Why, on one line.
    pub message: String,
}

impl ModelError {
    /// An error blamed on `param`.
    pub fn new(param: &'static str, message: impl fmt::Display) -> Self {
        Self {
            param,
            message: message.to_string(),
        }
    }
}

/// A protocol as the registry knows it: its name, documentation, parameters and constructor.
pub struct ProtocolInfo {
    /// Its name in `grid.protocol`.
    pub name: &'static str,
    /// One line on what it models.
    pub summary: &'static str,
    /// The full model: what a trial is, what success means, which messages count.
    pub model: &'static str,
    /// Its parameters besides the grid's environment axes.
    pub params: &'static [ParamSpec],
    /// Its own counts: the model's [`crate::model::Protocol::EXTRAS`].
    pub extras: &'static [Extra],
    /// Builds the model of one setting (a grid cell).
    pub build: fn(&Setting<'_>) -> Result<Box<dyn Simulate>, ModelError>,
}

impl ProtocolInfo {
    /// The parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

impl PartialEq for ProtocolInfo {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl fmt::Debug for ProtocolInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtocolInfo")
            .field("name", &self.name)
            .finish()
    }
}

/// What a protocol is built from: the node count, the failure and delay environment, and a
/// value for each of its parameters (in the order of [`ProtocolInfo::params`]).
#[derive(Debug, Clone)]
pub struct Setting<'a> {
    /// Number of nodes N.
    pub nodes: u32,
    env: Env,
    params: &'a [ParamSpec],
    values: &'a [Value],
}

impl<'a> Setting<'a> {
    /// The setting of `nodes` nodes in `env` with `values` for the parameters `params`.
    pub fn new(nodes: u32, env: Env, params: &'a [ParamSpec], values: &'a [Value]) -> Self {
        assert_eq!(params.len(), values.len(), "a value for every parameter");
        Self {
            nodes,
            env,
            params,
            values,
        }
    }

    /// The failure and delay environment.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The value of parameter `name`, if the protocol has it.
    pub fn value(&self, name: &str) -> Option<Value> {
        let i = self.params.iter().position(|p| p.name == name)?;
        Some(self.values[i])
    }

    fn expect(&self, name: &str) -> Value {
        self.value(name)
            .unwrap_or_else(|| panic!("no parameter {name}"))
    }

    /// A [`Value::Count`] parameter. Panics if the protocol declares no such parameter.
    pub fn count(&self, name: &str) -> u32 {
        match self.expect(name) {
            Value::Count(n) => n,
            other => panic!("{name} is not a count: {other:?}"),
        }
    }

    /// A [`Value::Millis`] parameter. Panics if the protocol declares no such parameter.
    pub fn millis(&self, name: &str) -> f64 {
        match self.expect(name) {
            Value::Millis(ms) => ms,
            other => panic!("{name} is not a duration: {other:?}"),
        }
    }

    /// A [`Value::Probability`] parameter. Panics if the protocol declares no such parameter.
    pub fn probability(&self, name: &str) -> f64 {
        match self.expect(name) {
            Value::Probability(p) => p,
            other => panic!("{name} is not a probability: {other:?}"),
        }
    }

    /// A [`Value::Choice`] parameter, as the variant of `T` its word names. Panics if the
    /// protocol declares no such parameter, or if the word is not one of `T`'s.
    pub fn choice<T: Choice>(&self, name: &str) -> T {
        match self.expect(name) {
            Value::Choice(word) => T::from_word(word)
                .unwrap_or_else(|| panic!("{name}: \"{word}\" is not one of {:?}", T::WORDS)),
            other => panic!("{name} is not a choice: {other:?}"),
        }
    }

    /// A [`Value::Positive`] parameter. Panics if the protocol declares no such parameter.
    pub fn positive(&self, name: &str) -> f64 {
        match self.expect(name) {
            Value::Positive(x) => x,
            other => panic!("{name} is not a positive number: {other:?}"),
        }
    }

    /// A [`Value::Quorum`] parameter. Panics if the protocol declares no such parameter.
    pub fn quorum(&self, name: &str) -> QuorumRule {
        match self.expect(name) {
            Value::Quorum(rule) => rule,
            other => panic!("{name} is not a quorum size: {other:?}"),
        }
    }
}
