//! Bounds-checked little-endian readers over untrusted bytes.
//!
//! Every accessor returns `None` instead of panicking when the requested
//! range is outside the slice, so the table parsers built on top of them can
//! be fed arbitrary (fuzzed, truncated) input.

/// `len` bytes at `off`, or `None` if that range is not inside `data`.
pub fn slice(data: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    data.get(off..off.checked_add(len)?)
}

/// Converts a `u64` offset (as found in headers) to `usize`.
pub fn to_usize(v: u64) -> Option<usize> {
    usize::try_from(v).ok()
}

pub fn u8_at(data: &[u8], off: usize) -> Option<u8> {
    data.get(off).copied()
}

pub fn u32_at(data: &[u8], off: usize) -> Option<u32> {
    let b = slice(data, off, 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub fn i32_at(data: &[u8], off: usize) -> Option<i32> {
    u32_at(data, off).map(|v| v as i32)
}

pub fn u64_at(data: &[u8], off: usize) -> Option<u64> {
    let b = slice(data, off, 8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    Some(u64::from_le_bytes(w))
}

/// NUL-terminated byte string starting at `off` (without the NUL). A string
/// running to the end of `data` without a terminator is rejected: in every Go
/// table we read, strings are NUL-terminated, so a missing NUL means the
/// offset is bogus.
pub fn cstr_at(data: &[u8], off: usize) -> Option<&[u8]> {
    let rest = data.get(off..)?;
    let n = rest.iter().position(|&b| b == 0)?;
    rest.get(..n)
}

/// Unsigned LEB128 varint as used by Go (`encoding/binary.Uvarint`, the
/// pcvalue tables, the build info length prefixes). Returns the value and the
/// number of bytes consumed; `None` on truncation or overflow past 64 bits.
pub fn uvarint(data: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, &b) in data.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return None; // more than 64 bits
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// The pcvalue tables use 32-bit varints (`runtime.readvarint`): bits beyond
/// 32 are dropped the same way the runtime drops them (shift masked to 31).
pub fn uvarint32(data: &[u8]) -> Option<(u32, usize)> {
    let mut v: u32 = 0;
    let mut shift: u32 = 0;
    for (i, &b) in data.iter().enumerate() {
        v |= u32::from(b & 0x7f).wrapping_shl(shift & 31);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
        shift = shift.wrapping_add(7);
        if i >= 9 {
            return None; // no sane table uses more than 5 bytes
        }
    }
    None
}

/// Lossy UTF-8 conversion: Go symbol and file names are UTF-8, but a corrupt
/// table must not make us fail.
pub fn string_lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
