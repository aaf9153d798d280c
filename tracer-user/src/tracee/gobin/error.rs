//! Errors of [`super::GoBinary`]. Messages are single lines meant for users.

#[derive(Debug, thiserror::Error)]
pub enum GoBinError {
    /// The file is not a 64-bit little-endian ELF file.
    #[error("not a 64-bit little-endian ELF file")]
    NotElf,
    /// An ELF file, but no Go runtime tables (build info / pclntab) in it.
    #[error("not a Go binary: {0}")]
    NotGo(String),
    /// A Go binary this module cannot read (old toolchain, other arch).
    #[error("unsupported Go binary: {0}")]
    Unsupported(String),
    /// The Go tables are present but inconsistent.
    #[error("corrupt Go binary: {0}")]
    Corrupt(String),
    /// Reading the file failed.
    #[error("cannot read {0}: {1}")]
    Io(String, #[source] std::io::Error),
}
