//! The protocols a sweep may name: coordsim's own ([`crate::protocols::BUILTIN`]) and any a
//! library user adds.

use thiserror::Error;

use crate::model::ProtocolInfo;
use crate::protocols::BUILTIN;

/// A protocol that cannot join a registry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a protocol named `{0}` is registered already")]
pub struct Duplicate(pub &'static str);

/// The protocols a sweep may name, by their `name`, in the order `coordsim protocols` lists
/// them.
///
/// ```
/// use coordsim::sweep::Registry;
/// let registry = Registry::builtin();
/// assert!(registry.find("quorum").is_some());
/// let quorum = registry.find("quorum").unwrap();
/// assert!(registry.clone().with(quorum).is_err()); // names are unique
/// ```
#[derive(Debug, Clone)]
pub struct Registry {
    protocols: Vec<&'static ProtocolInfo>,
}

impl Registry {
    /// coordsim's own protocols.
    pub fn builtin() -> Self {
        Self {
            protocols: BUILTIN.to_vec(),
        }
    }

    /// This registry and `protocol`, whose name must be new.
    pub fn with(mut self, protocol: &'static ProtocolInfo) -> Result<Self, Duplicate> {
        if self.find(protocol.name).is_some() {
            return Err(Duplicate(protocol.name));
        }
        self.protocols.push(protocol);
        Ok(self)
    }

    /// The protocol named `name`.
    pub fn find(&self, name: &str) -> Option<&'static ProtocolInfo> {
        self.protocols.iter().copied().find(|p| p.name == name)
    }

    /// Every protocol, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'static ProtocolInfo> + '_ {
        self.protocols.iter().copied()
    }

    /// Their names, comma-separated: what an error about an unknown name lists.
    pub fn names(&self) -> String {
        self.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}
