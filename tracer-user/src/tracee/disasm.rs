//! Instruction-level facts about Go functions, from their machine code.
use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind, Register,
};

/// How far into a function its prologue may reach.
const PROLOGUE_WINDOW: usize = 64;

/// Offset (from the function's entry) of the first instruction after
/// `MOVQ SP, BP`, the point where the body starts and runs once per call.
///
/// A Go amd64 prologue is `CMPQ SP, 16(R14)` (or `LEAQ -N(SP), R12;
/// CMPQ R12, 16(R14)`), `JBE morestack`, `PUSHQ BP`, `MOVQ SP, BP`; the
/// morestack path jumps back to the entry. Returns None when the code
/// does not have that shape or touches an argument register before it.
pub fn after_prologue(code: &[u8], entry: u64) -> Option<u64> {
    let window = &code[..code.len().min(PROLOGUE_WINDOW)];
    let mut decoder = Decoder::with_ip(64, window, entry, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        if insn.is_invalid() {
            return None;
        }
        if is_mov_rbp_rsp(&insn) {
            return Some(insn.next_ip() - entry);
        }
        if !prologue_instruction(&insn) {
            return None;
        }
    }
    None
}

/// Offset (from the function's entry) of its prologue's `PUSHQ BP`, when
/// the prologue has the shape `after_prologue` accepts: past the stack
/// check, so it runs once per call, and the cheapest place for an entry
/// probe. The kernel emulates a `PUSH reg` (as it does jumps and calls)
/// where it single-steps most other instructions out of line: a hit there
/// costs ~0.7 us on this kernel against ~9 us one instruction later. At the
/// push the stack is as at the entry: BP still holds the caller's frame and
/// the return address is at `*SP`.
pub fn frame_push(code: &[u8], entry: u64) -> Option<u64> {
    let end = after_prologue(code, entry)? as usize;
    let mut decoder = Decoder::with_ip(64, &code[..end], entry, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        if insn.mnemonic() == Mnemonic::Push {
            return Some(insn.ip() - entry);
        }
    }
    None
}

/// Whether the kernel emulates the instruction at the start of `code`
/// when a uprobe sits on it (x86-64, Linux >= 6.11): `PUSH reg`, a
/// relative jump, conditional jump or call, and `NOP` (0x90). Anything
/// else is single-stepped out of line: a second trap, ~9 us a hit on
/// this machine's kernel against ~0.7 us for an emulated one.
pub fn emulated(code: &[u8]) -> bool {
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let insn = decoder.decode();
    if insn.is_invalid() {
        return false;
    }
    match insn.flow_control() {
        FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch => {
            insn.op0_kind() == OpKind::NearBranch64
        }
        FlowControl::Call => insn.op0_kind() == OpKind::NearBranch64,
        _ => {
            (insn.mnemonic() == Mnemonic::Push && insn.op0_kind() == OpKind::Register)
                || insn.code() == Code::Nopd
                || insn.code() == Code::Nopw
                || insn.code() == Code::Nopq
        }
    }
}

/// Offset (from `entry`) of the conditional jump that tests a call's
/// result: `CALL callee; TESTQ AX, AX; JE/JNE`, the first such in the
/// code. A probe there sees the callee's result in RAX, like a probe on
/// the callee's RETs, but the kernel emulates a jump (see [`emulated`]).
/// The caller's frame is set up there: BP is its own frame.
pub fn result_check_after_call(code: &[u8], entry: u64, callee: u64) -> Option<u64> {
    let mut decoder = Decoder::with_ip(64, code, entry, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    // 0: looking for the call; 1: call seen; 2: TEST AX,AX seen.
    let mut state = 0;
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        state = match state {
            _ if insn.flow_control() == FlowControl::Call
                && insn.op0_kind() == OpKind::NearBranch64
                && insn.near_branch_target() == callee =>
            {
                1
            }
            1 if insn.code() == Code::Test_rm64_r64
                && insn.op0_kind() == OpKind::Register
                && insn.op0_register() == Register::RAX
                && insn.op1_register() == Register::RAX =>
            {
                2
            }
            2 if matches!(insn.mnemonic(), Mnemonic::Je | Mnemonic::Jne) => {
                return Some(insn.ip() - entry);
            }
            _ => 0,
        };
    }
    None
}

fn is_mov_rbp_rsp(i: &Instruction) -> bool {
    matches!(i.code(), Code::Mov_r64_rm64 | Code::Mov_rm64_r64)
        && i.op0_kind() == OpKind::Register
        && i.op1_kind() == OpKind::Register
        && i.op0_register() == Register::RBP
        && i.op1_register() == Register::RSP
}

/// Instructions a Go prologue has before `MOVQ SP, BP`: none of them
/// writes an argument register.
fn prologue_instruction(i: &Instruction) -> bool {
    match i.mnemonic() {
        Mnemonic::Cmp | Mnemonic::Jbe | Mnemonic::Nop => true,
        Mnemonic::Push => i.op0_kind() == OpKind::Register && i.op0_register() == Register::RBP,
        // Large frames compute the new stack bottom in R12 (not an argument register).
        Mnemonic::Lea => i.op0_register() == Register::R12,
        _ => false,
    }
}

/// Offsets (from the entry) of every RET in a function's code: where a
/// plain uprobe sees the function return, without a uretprobe (which
/// rewrites the return address on a stack Go may move, and kills the
/// program). Decoding is linear: Go keeps no data in its text, and the
/// code after the last RET (the morestack call, INT3 padding) decodes too.
pub fn ret_offsets(code: &[u8], entry: u64) -> Vec<u64> {
    let mut decoder = Decoder::with_ip(64, code, entry, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    let mut rets = Vec::new();
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        if insn.mnemonic() == Mnemonic::Ret {
            rets.push(insn.ip() - entry);
        }
    }
    rets
}

/// Offset of the code that `runtime.mallocgc` (Go 1.27) runs for sizes
/// that are not forwarded to a size-specialised function: the target of
/// the `CMPQ AX, $table_len; JAE` right after the prologue. Probing there
/// instead of at the entry saves small allocations a second probe hit
/// (mallocgc's, filtered, then the specialised function's). Only a short
/// run of flag-only instructions (TEST/JE/NOP) may precede the compare, so
/// the arguments are still in RAX/RBX at the target.
pub fn size_dispatch_target(code: &[u8], entry: u64, table_len: u64) -> Option<u64> {
    let start = after_prologue(code, entry)?;
    let window = code.get(start as usize..)?;
    let window = &window[..window.len().min(PROLOGUE_WINDOW)];
    let mut decoder = Decoder::with_ip(64, window, entry + start, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    let mut compared = false;
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        match insn.mnemonic() {
            Mnemonic::Jae if compared => return Some(insn.near_branch_target() - entry),
            Mnemonic::Cmp
                if insn.op0_kind() == OpKind::Register
                    && insn.op0_register() == Register::RAX
                    && matches!(
                        insn.op1_kind(),
                        OpKind::Immediate8to64 | OpKind::Immediate32to64
                    )
                    && insn.immediate(1) == table_len =>
            {
                compared = true
            }
            Mnemonic::Test | Mnemonic::Je | Mnemonic::Nop if !compared => {}
            // The frame allocation ends the prologue: SUBQ $N, SP.
            Mnemonic::Sub if !compared && insn.op0_register() == Register::RSP => {}
            _ => return None,
        }
    }
    None
}

/// Link-time addresses that `LEAQ sym(SB), AX` (RIP-relative) puts into RAX
/// right before each direct CALL to `callee`: the first argument (or
/// receiver) of those calls, when it is the address of a global. This is how
/// `memstats.heapStats.acquire()` compiles (`LEAQ runtime.memstats(SB), AX;
/// CALL runtime.(*consistentHeapStats).acquire(SB)`), which finds
/// `runtime.memstats` in stripped binaries. NOPs between the LEA and the
/// CALL are skipped; a CALL whose RAX comes from anything else adds nothing.
/// One entry per such call, in code order.
pub fn rax_globals_passed_to(code: &[u8], entry: u64, callee: u64) -> Vec<u64> {
    let mut decoder = Decoder::with_ip(64, code, entry, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    let mut rax: Option<u64> = None;
    let mut out = Vec::new();
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        if insn.is_invalid() {
            rax = None;
            continue;
        }
        match insn.mnemonic() {
            Mnemonic::Nop => {}
            Mnemonic::Lea
                if insn.op0_register() == Register::RAX && insn.is_ip_rel_memory_operand() =>
            {
                rax = Some(insn.ip_rel_memory_address());
            }
            _ => {
                if insn.flow_control() == FlowControl::Call
                    && insn.op0_kind() == OpKind::NearBranch64
                    && insn.near_branch_target() == callee
                {
                    out.extend(rax);
                }
                rax = None;
            }
        }
    }
    out
}

/// The prologue of `runtime.mallocgc`, go1.27.3 (entry 0x47c7c0):
/// `CMPQ SP,0x10(R14); JBE; PUSHQ BP; MOVQ SP,BP; SUBQ $0x20,SP`.
#[cfg(test)]
pub(crate) const MALLOCGC_PROLOGUE: [u8; 18] = [
    0x49, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0x9c, 0x01, 0x00, 0x00, 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83,
    0xec, 0x20,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mallocgc_size_dispatch() {
        // go1.27.3 runtime.mallocgc: prologue; TESTQ AX,AX; JE; NOPL; CMPQ AX,$0x51; JAE 0x47c83c
        let mut code = MALLOCGC_PROLOGUE.to_vec();
        code.extend([
            0x48, 0x85, 0xc0, 0x0f, 0x84, 0x5b, 0x01, 0x00, 0x00, 0x0f, 0x1f, 0x44, 0x00, 0x00,
            0x48, 0x83, 0xf8, 0x51, 0x73, 0x56,
        ]);
        assert_eq!(
            size_dispatch_target(&code, 0x47c7c0, 81),
            Some(0x47c83c - 0x47c7c0)
        );
        assert_eq!(size_dispatch_target(&code, 0x47c7c0, 513), None);
    }

    #[test]
    fn global_receivers() {
        // runtime.(*mcache).refill, go1.21.13: LEAQ runtime.memstats(SB), AX
        // (0x54ff40); CALL runtime.(*consistentHeapStats).acquire (0x42cae0).
        let lea_call = [
            0x48, 0x8d, 0x05, 0x9a, 0xd2, 0x13, 0x00, 0xe8, 0x35, 0x9e, 0x01, 0x00,
        ];
        assert_eq!(
            rax_globals_passed_to(&lea_call, 0x412c9f, 0x42cae0),
            vec![0x54ff40]
        );
        // Another callee: nothing.
        assert!(rax_globals_passed_to(&lea_call, 0x412c9f, 0x42cae1).is_empty());

        // LEAQ; NOPL 0(AX); CALL: the NOP is skipped (same target as above,
        // the CALL displacement shortened by the 3-byte NOP).
        let with_nop = [
            0x48, 0x8d, 0x05, 0x9a, 0xd2, 0x13, 0x00, 0x0f, 0x1f, 0x00, 0xe8, 0x32, 0x9e, 0x01,
            0x00,
        ];
        assert_eq!(
            rax_globals_passed_to(&with_nop, 0x412c9f, 0x42cae0),
            vec![0x54ff40]
        );

        // LEAQ; MOVQ BX, AX; CALL: RAX is no longer the global.
        let overwritten = [
            0x48, 0x8d, 0x05, 0x9a, 0xd2, 0x13, 0x00, 0x48, 0x89, 0xd8, 0xe8, 0x32, 0x9e, 0x01,
            0x00,
        ];
        assert!(rax_globals_passed_to(&overwritten, 0x412c9f, 0x42cae0).is_empty());
        assert!(rax_globals_passed_to(&[], 0, 0).is_empty());
    }

    #[test]
    fn rets() {
        // PUSHQ BP; MOVQ SP,BP; TESTQ AX,AX; JE +3; POPQ BP; RET; MOVL $1,AX; POPQ BP; RET; INT3
        let code = [
            0x55, 0x48, 0x89, 0xe5, 0x48, 0x85, 0xc0, 0x74, 0x02, 0x5d, 0xc3, 0xb8, 0x01, 0x00,
            0x00, 0x00, 0x5d, 0xc3, 0xcc,
        ];
        assert_eq!(ret_offsets(&code, 0x1000), vec![10, 17]);
        assert!(ret_offsets(&[], 0).is_empty());
    }

    #[test]
    fn emulated_instructions() {
        assert!(emulated(&[0x55])); // PUSHQ BP
        assert!(emulated(&[0x41, 0x54])); // PUSHQ R12
        assert!(emulated(&[0xeb, 0x0d])); // JMP rel8
        assert!(emulated(&[0x0f, 0x84, 0x82, 0, 0, 0])); // JE rel32
        assert!(emulated(&[0xe8, 0xad, 0x05, 0, 0])); // CALL rel32
        assert!(emulated(&[0x90])); // NOP
        assert!(!emulated(&[0x48, 0x89, 0xe5])); // MOVQ SP, BP
        assert!(!emulated(&[0x48, 0x83, 0xec, 0x20])); // SUBQ $0x20, SP
        assert!(!emulated(&[0xc3])); // RET
        assert!(!emulated(&[0x5d])); // POPQ BP
        assert!(!emulated(&[0xff, 0xd0])); // CALL AX (indirect)
        assert!(!emulated(&[0x0f, 0x1f, 0x44, 0, 0])); // NOPL 0(AX)(AX*1)
        assert!(!emulated(&[]));
    }

    #[test]
    fn result_checks() {
        // runtime.(*mcache).refill, go1.25.5: CALL cacheSpan (0x418c60);
        // TESTQ AX, AX; JE; MOVZX 0x60(AX), DX
        let code = [
            0xe8, 0xad, 0x05, 0x00, 0x00, 0x48, 0x85, 0xc0, 0x0f, 0x84, 0x82, 0x00, 0x00, 0x00,
            0x0f, 0xb7, 0x50, 0x60,
        ];
        assert_eq!(result_check_after_call(&code, 0x4186ae, 0x418c60), Some(8));
        assert_eq!(result_check_after_call(&code, 0x4186ae, 0x418c61), None);
        // Something between the call and the test: not the result's check.
        let moved = [
            0xe8, 0xad, 0x05, 0x00, 0x00, 0x48, 0x89, 0xc3, 0x48, 0x85, 0xc0, 0x74, 0x02,
        ];
        assert_eq!(result_check_after_call(&moved, 0x4186ae, 0x418c60), None);
    }

    #[test]
    fn frame_pushes() {
        // The PUSHQ BP after CMPQ and JBE.
        assert_eq!(frame_push(&MALLOCGC_PROLOGUE, 0x47c7c0), Some(10));
        // No MOVQ SP, BP after it: not a Go prologue.
        assert_eq!(frame_push(&[0x55, 0xc3], 0), None);
    }

    #[test]
    fn go_prologue() {
        assert_eq!(after_prologue(&MALLOCGC_PROLOGUE, 0x47c7c0), Some(14));
    }

    #[test]
    fn large_frame_prologue() {
        // LEAQ -0x1000(SP), R12; CMPQ R12, 0x10(R14); JBE; PUSHQ BP; MOVQ SP, BP
        let code = [
            0x4c, 0x8d, 0xa4, 0x24, 0x00, 0xf0, 0xff, 0xff, 0x4d, 0x3b, 0x66, 0x10, 0x0f, 0x86,
            0x10, 0x00, 0x00, 0x00, 0x55, 0x48, 0x89, 0xe5,
        ];
        assert_eq!(after_prologue(&code, 0x1000), Some(22));
    }

    #[test]
    fn refuses_unknown_shapes() {
        // MOVQ AX, BX first: writes an argument register.
        assert_eq!(
            after_prologue(&[0x48, 0x89, 0xc3, 0x55, 0x48, 0x89, 0xe5], 0),
            None
        );
        // No frame at all.
        assert_eq!(after_prologue(&[0xc3], 0), None);
        assert_eq!(after_prologue(&[], 0), None);
    }
}
