//! Go's amd64 register ABI (ABIInternal, `internal/abi/abi_amd64.go`) and the
//! registers holding the arguments of the runtime functions the tracer probes,
//! read at function entry (before the prologue).
//!
//! Integer/pointer arguments take the next free register of
//! [`AbiInfo::int_arg_regs`]; a sub-word argument (bool, uint8) uses only the
//! low byte of its register, so readers must mask it.

use serde::Serialize;

/// An amd64 general-purpose register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reg {
    Rax,
    Rbx,
    Rcx,
    Rdi,
    Rsi,
    R8,
    R9,
    R10,
    R11,
    R14,
}

impl Reg {
    /// Byte offset of the register in the kernel's x86-64 `struct pt_regs`
    /// (what a uprobe BPF program receives).
    pub const fn pt_regs_offset(self) -> u64 {
        match self {
            Reg::R14 => 8,
            Reg::Rbx => 40,
            Reg::R11 => 48,
            Reg::R10 => 56,
            Reg::R9 => 64,
            Reg::R8 => 72,
            Reg::Rax => 80,
            Reg::Rcx => 88,
            Reg::Rsi => 104,
            Reg::Rdi => 112,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Reg::Rax => "rax",
            Reg::Rbx => "rbx",
            Reg::Rcx => "rcx",
            Reg::Rdi => "rdi",
            Reg::Rsi => "rsi",
            Reg::R8 => "r8",
            Reg::R9 => "r9",
            Reg::R10 => "r10",
            Reg::R11 => "r11",
            Reg::R14 => "r14",
        }
    }
}

/// Argument registers of the probed functions.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AbiInfo {
    /// Integer argument (and result) registers in order (`IntArgRegs = 9`).
    pub int_arg_regs: [Reg; 9],
    /// Register holding the current `*runtime.g` in Go code (not in ABI0
    /// assembly or cgo frames).
    pub g_reg: Reg,
    pub mallocgc: MallocgcArgs,
    pub makemap: MakemapArgs,
    /// `runtime.mapassign`, `mapaccess1`, `mapaccess2`, `mapdelete` (generic
    /// variants; the `_fast*` ones pass the key by value).
    pub map_access: MapAccessArgs,
    pub newproc1: Newproc1Args,
}

/// `func mallocgc(size uintptr, typ *_type, needzero bool) unsafe.Pointer`
/// (`runtime/malloc.go`, same in 1.21–1.27; 1.27's size-specialised
/// `mallocgc*SC*` functions share it).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MallocgcArgs {
    pub size: Reg,
    /// `*abi.Type`, nil for raw noscan memory.
    pub typ: Reg,
    /// bool: low byte only.
    pub needzero: Reg,
}

/// `func makemap(t *maptype, hint int, h *hmap) *hmap` (`runtime/map.go`;
/// 1.24+: `(t *abi.SwissMapType / *abi.MapType, hint int, m *maps.Map) *maps.Map`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MakemapArgs {
    pub t: Reg,
    pub hint: Reg,
    /// Preallocated header (stack map) or nil.
    pub m: Reg,
}

/// `func mapassign(t *maptype, h *hmap, key unsafe.Pointer) unsafe.Pointer` and
/// the other generic access functions (1.24+: defined in
/// `internal/runtime/maps/runtime*.go`, linknamed to the same `runtime.*` symbols).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MapAccessArgs {
    pub t: Reg,
    pub m: Reg,
    /// Pointer to the key.
    pub key: Reg,
}

/// `func newproc1(fn *funcval, callergp *g, callerpc uintptr) *g`
/// (`runtime/proc.go`); 1.23 appended `parked bool, waitreason waitReason`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Newproc1Args {
    pub fn_: Reg,
    pub callergp: Reg,
    pub callerpc: Reg,
    /// bool (low byte), 1.23+.
    pub parked: Option<Reg>,
    /// uint8 (low byte), 1.23+.
    pub waitreason: Option<Reg>,
}

/// `internal/abi/abi_amd64.go`: RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11.
pub const INT_ARG_REGS: [Reg; 9] = [
    Reg::Rax,
    Reg::Rbx,
    Reg::Rcx,
    Reg::Rdi,
    Reg::Rsi,
    Reg::R8,
    Reg::R9,
    Reg::R10,
    Reg::R11,
];
