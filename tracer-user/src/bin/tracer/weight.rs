//! `--weight` of `attach` and `diff`: the flag's values, for the report's
//! own [`tracer::report::folded::Weight`].
use clap::ValueEnum;

/// What folded stacks and flame graphs are weighed by.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    /// Requested bytes.
    Bytes,
    /// Allocated objects.
    Objects,
    /// On-CPU time of the target's sampled stacks (attach only).
    Cpu,
    /// Bytes held now (after the last GC), by the stack that allocated them.
    Inuse,
}

impl From<Weight> for tracer::report::folded::Weight {
    fn from(w: Weight) -> Self {
        match w {
            Weight::Bytes => Self::Bytes,
            Weight::Objects => Self::Objects,
            Weight::Cpu => Self::Cpu,
            Weight::Inuse => Self::Inuse,
        }
    }
}
