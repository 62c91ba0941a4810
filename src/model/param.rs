//! Protocol parameters: their kinds, values and defaults.

use std::fmt;

/// How many replies a quorum needs: a number, or a rule resolved against the node count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumRule {
    /// Exactly this many.
    Fixed(u32),
    /// `floor(N / 2) + 1`.
    Majority,
    /// All `N`.
    All,
}

impl QuorumRule {
    /// The size of the quorum among `nodes` nodes.
    pub fn resolve(self, nodes: u32) -> u32 {
        match self {
            Self::Fixed(k) => k,
            Self::Majority => nodes / 2 + 1,
            Self::All => nodes,
        }
    }
}

impl fmt::Display for QuorumRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(k) => write!(f, "{k}"),
            Self::Majority => f.write_str("majority"),
            Self::All => f.write_str("all"),
        }
    }
}

/// What a parameter holds; decides how it is read, checked and written to the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// An integer in `[min, max]`; a `UInt32` column.
    Count {
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
    /// A duration in milliseconds, finite and > 0 (>= 0 if `zero_ok`); a `Float64` column.
    Millis {
        /// Whether 0 is allowed.
        zero_ok: bool,
    },
    /// A finite number > 0; a `Float64` column.
    Positive,
    /// One of a fixed set of words; a dictionary string column.
    Choice(&'static [&'static str]),
    /// A probability in `[0, 1]`; a `Float64` column.
    Probability,
    /// A [`QuorumRule`]: an integer >= 1, `"majority"` or `"all"`; a `UInt32` column of the
    /// resolved size and a string column `<name>_spec` as written.
    Quorum,
}

/// How a parameter is stored in `summary.parquet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// `UInt32`.
    UInt32,
    /// `Float64`.
    Float64,
    /// A dictionary-encoded string.
    String,
    /// `UInt32` of the resolved size, and a string column `<name>_spec` as written.
    QuorumSize,
}

/// A parameter value, of the variant its [`ParamKind`] names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A [`ParamKind::Count`].
    Count(u32),
    /// A [`ParamKind::Millis`], in milliseconds.
    Millis(f64),
    /// A [`ParamKind::Positive`].
    Positive(f64),
    /// A [`ParamKind::Choice`].
    Choice(&'static str),
    /// A [`ParamKind::Probability`].
    Probability(f64),
    /// A [`ParamKind::Quorum`].
    Quorum(QuorumRule),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Millis(ms) => write!(f, "{ms}"),
            Self::Positive(x) => write!(f, "{x}"),
            Self::Choice(word) => f.write_str(word),
            Self::Probability(p) => write!(f, "{p}"),
            Self::Quorum(rule) => write!(f, "{rule}"),
        }
    }
}

/// One parameter of a protocol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamSpec {
    /// Its key in `[grid]` and `[params.<protocol>]`, and its summary column.
    pub name: &'static str,
    /// What it holds.
    pub kind: ParamKind,
    /// The value used when the sweep does not set it.
    pub default: Value,
    /// One line for `coordsim protocols`.
    pub doc: &'static str,
}

impl ParamKind {
    /// The summary column(s) this kind is written as: two kinds with the same column can
    /// share a parameter name across protocols.
    pub fn column(self) -> Column {
        match self {
            Self::Count { .. } => Column::UInt32,
            Self::Millis { .. } | Self::Positive | Self::Probability => Column::Float64,
            Self::Choice(_) => Column::String,
            Self::Quorum => Column::QuorumSize,
        }
    }

    /// Words for `coordsim protocols`.
    pub fn describe(self) -> String {
        match self {
            Self::Count { min, max } if max == u32::MAX => format!("integer >= {min}"),
            Self::Count { min, max } => format!("integer in [{min}, {max}]"),
            Self::Millis { zero_ok: false } => "milliseconds > 0".into(),
            Self::Millis { zero_ok: true } => "milliseconds >= 0".into(),
            Self::Positive => "number > 0".into(),
            Self::Choice(words) => words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" | "),
            Self::Probability => "probability in [0, 1]".into(),
            Self::Quorum => "integer >= 1, \"majority\" or \"all\"".into(),
        }
    }
}

/// A [`ParamKind::Choice`] as an enum: the word `WORDS[i]` names the variant `ALL[i]`, so a
/// model matches on variants, never on strings. The crate declares them with `choice!`.
pub trait Choice: Copy + 'static {
    /// The words a sweep file may write, in the order of [`Choice::ALL`].
    const WORDS: &'static [&'static str];
    /// Every variant.
    const ALL: &'static [Self];

    /// The variant `word` names.
    fn from_word(word: &str) -> Option<Self> {
        Self::WORDS
            .iter()
            .position(|w| *w == word)
            .map(|i| Self::ALL[i])
    }

    /// The parameter kind whose values are these words.
    const KIND: ParamKind = ParamKind::Choice(Self::WORDS);
}

/// Declares a [`Choice`]: an enum whose variants are each written with their word
/// (`Push = "push",`), so the words are written once, in the order a sweep's error and
/// `coordsim protocols` list them. The enum gets `word`, a `const fn` for parameter defaults.
macro_rules! choice {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $word:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $crate::model::Choice for $name {
            const WORDS: &'static [&'static str] = &[$($word),+];
            const ALL: &'static [Self] = &[$(Self::$variant),+];
        }

        impl $name {
            /// The word a sweep file writes for this variant.
            pub const fn word(self) -> &'static str {
                <Self as $crate::model::Choice>::WORDS[self as usize]
            }
        }
    };
}

pub(crate) use choice;

#[cfg(test)]
mod tests {
    use super::*;

    choice! {
        /// A test choice.
        enum Fruit {
            /// The first.
            Apple = "apple",
            /// The second.
            Pear = "pear",
        }
    }

    #[test]
    fn a_choice_names_each_variant_by_its_word() {
        assert_eq!(Fruit::KIND, ParamKind::Choice(&["apple", "pear"]));
        assert_eq!(Fruit::ALL, &[Fruit::Apple, Fruit::Pear]);
        for (word, fruit) in Fruit::WORDS.iter().zip(Fruit::ALL) {
            assert_eq!(fruit.word(), *word);
            assert_eq!(Fruit::from_word(word), Some(*fruit));
        }
        assert_eq!(Fruit::from_word("plum"), None);
    }
}
