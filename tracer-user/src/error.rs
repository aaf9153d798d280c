//! Errors a user can act on. Each maps to one line on stderr and a distinct
//! exit code; anything else is an internal error (exit 1).
use thiserror::Error;

#[derive(Debug, Error)]
pub enum UserError {
    #[error("no process with pid {0}")]
    NoSuchProcess(u32),
    #[error("pid {pid} ({exe}) is not a Go program: {why}")]
    NotGo { pid: u32, exe: String, why: String },
    #[error("{path} is not a usable Go binary: {why}")]
    NotGoFile { path: String, why: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("permission denied: {0}; run as root (sudo) or grant CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE")]
    Permission(String),
    #[error("the kernel refused the BPF programs: {0}")]
    Kernel(String),
    #[error("cannot write {path}: {why}")]
    Output { path: String, why: String },
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Busy(String),
}

impl UserError {
    pub fn exit_code(&self) -> i32 {
        match self {
            UserError::Usage(_) => 2,
            UserError::NoSuchProcess(_) => 3,
            UserError::NotGo { .. } | UserError::NotGoFile { .. } => 4,
            UserError::Unsupported(_) => 5,
            UserError::Permission(_) => 6,
            UserError::Kernel(_) => 7,
            UserError::Output { .. } => 8,
            UserError::Busy(_) => 9,
        }
    }
}
