//! Read-only access to another process's memory.
//!
//! `process_vm_readv(2)` rather than `/proc/PID/mem` or ptrace: it needs no
//! file descriptor kept open, does not stop the target, and reports a fault
//! in the target (unmapped address, process gone) as an error instead of a
//! signal. It is subject to the same access check as ptrace attach
//! (`PTRACE_MODE_ATTACH_REALCREDS`): root, or a child of ours under the
//! default Yama scope. There is deliberately no write method.

// The readers that use this are wired in separately.

use std::io;

/// A handle on the memory of process `pid`. Holds no resources.
#[derive(Debug, Clone, Copy)]
pub struct ProcMem {
    pub pid: u32,
}

impl ProcMem {
    pub fn new(pid: u32) -> ProcMem {
        ProcMem { pid }
    }

    /// Fills `buf` from the target's address `addr`. A range that is only
    /// partly mapped is an error (EFAULT, or `UnexpectedEof` if the kernel
    /// stops without one): callers never see a half-filled buffer as
    /// success.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if addr.checked_add(buf.len() as u64).is_none() {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        let pid = libc::pid_t::try_from(self.pid)
            .map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
        let mut done = 0usize;
        // The kernel may return fewer bytes than asked when the range spans
        // pages that are not all mapped; continue from there, and stop at
        // the first page that reads nothing.
        while done < buf.len() {
            let rest = &mut buf[done..];
            let local = libc::iovec {
                iov_base: rest.as_mut_ptr().cast(),
                iov_len: rest.len(),
            };
            let remote = libc::iovec {
                iov_base: (addr + done as u64) as usize as *mut libc::c_void,
                iov_len: rest.len(),
            };
            // SAFETY: `local` describes memory we exclusively borrow for the
            // duration of the call; `remote` is only interpreted by the kernel
            // in the other process's address space.
            let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "short read of pid {} at {:#x}: {} of {} bytes",
                        self.pid,
                        addr,
                        done,
                        buf.len()
                    ),
                ));
            }
            done += n as usize;
        }
        Ok(())
    }

    pub fn read_u64(&self, addr: u64) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    pub fn read_u32(&self, addr: u64) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub fn read_u8(&self, addr: u64) -> io::Result<u8> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }

    /// `n` little-endian words starting at `addr`, in one system call.
    pub fn read_u64s(&self, addr: u64, n: usize) -> io::Result<Vec<u64>> {
        let len = n
            .checked_mul(8)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut b = vec![0u8; len];
        self.read(addr, &mut b)?;
        Ok(b.as_chunks::<8>()
            .0
            .iter()
            .map(|&w| u64::from_le_bytes(w))
            .collect())
    }

    /// Reads many ranges at once: `ranges[i] = (addr, len)` fills the next
    /// `len` bytes of `out`, in order (`out.len()` must be the sum of the
    /// lengths). Up to [`IOV_MAX`] ranges go into one `process_vm_readv`,
    /// so scanning 100,000 map buckets costs ~100 system calls instead of
    /// 100,000. As with [`ProcMem::read`], any byte that cannot be read is
    /// an error (naming the first unreadable address), never a partly
    /// filled buffer.
    pub fn read_ranges(&self, ranges: &[(u64, usize)], out: &mut [u8]) -> io::Result<()> {
        let mut total = 0usize;
        for &(addr, len) in ranges {
            if addr.checked_add(len as u64).is_none() {
                return Err(io::Error::from_raw_os_error(libc::EFAULT));
            }
            total = total
                .checked_add(len)
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        }
        if total != out.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "read_ranges: {} bytes of ranges, {} of buffer",
                    total,
                    out.len()
                ),
            ));
        }
        let pid = libc::pid_t::try_from(self.pid)
            .map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
        let mut remote: Vec<libc::iovec> = Vec::with_capacity(IOV_MAX.min(ranges.len()));
        // Cursor: range `i`, of which `skip` bytes are read; `pos` in `out`.
        let (mut i, mut skip, mut pos) = (0usize, 0usize, 0usize);
        while pos < total {
            remote.clear();
            let mut want = 0usize;
            for (k, &(addr, len)) in ranges[i..].iter().enumerate().take(IOV_MAX) {
                let off = if k == 0 { skip } else { 0 };
                remote.push(libc::iovec {
                    iov_base: (addr + off as u64) as usize as *mut libc::c_void,
                    iov_len: len - off,
                });
                want += len - off;
            }
            let local = libc::iovec {
                iov_base: out[pos..].as_mut_ptr().cast(),
                iov_len: want,
            };
            // SAFETY: `local` covers `out[pos..pos + want]`, which we
            // exclusively borrow; the `remote` iovecs are only interpreted
            // by the kernel in the other process's address space.
            let n = unsafe {
                libc::process_vm_readv(pid, &local, 1, remote.as_ptr(), remote.len() as _, 0)
            };
            let at = ranges[i].0 + skip as u64;
            if n < 0 {
                let e = io::Error::last_os_error();
                return Err(io::Error::new(
                    e.kind(),
                    format!("pid {} at {at:#x}: {e}", self.pid),
                ));
            }
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("short read of pid {} at {at:#x}", self.pid),
                ));
            }
            // The kernel stops at the first fault: resume from there (the
            // next call fails at once if the fault was real).
            let mut n = n as usize;
            pos += n;
            while n > 0 {
                let left = ranges[i].1 - skip;
                if n >= left {
                    n -= left;
                    i += 1;
                    skip = 0;
                } else {
                    skip += n;
                    n = 0;
                }
            }
            while i < ranges.len() && ranges[i].1 == 0 {
                i += 1;
            }
        }
        Ok(())
    }
}

/// Most iovecs one `process_vm_readv` takes (`UIO_MAXIOV`).
pub const IOV_MAX: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> ProcMem {
        ProcMem::new(std::process::id())
    }

    #[test]
    fn reads_own_memory() {
        let data: [u8; 13] = *b"hello, memory";
        let mut out = [0u8; 13];
        me().read(data.as_ptr() as u64, &mut out).unwrap();
        assert_eq!(out, data);

        let word: u64 = 0x0123_4567_89ab_cdef;
        let addr = &word as *const u64 as u64;
        assert_eq!(me().read_u64(addr).unwrap(), word);
        assert_eq!(me().read_u32(addr).unwrap(), 0x89ab_cdef);
        assert_eq!(me().read_u8(addr).unwrap(), 0xef);

        let words = [1u64, 2, 3];
        assert_eq!(me().read_u64s(words.as_ptr() as u64, 3).unwrap(), words);
        me().read(0, &mut []).unwrap();
    }

    #[test]
    fn large_read_crosses_pages() {
        let data: Vec<u8> = (0..3 * 4096 + 17).map(|i| (i % 251) as u8).collect();
        let mut out = vec![0u8; data.len()];
        me().read(data.as_ptr() as u64, &mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn bad_addresses_are_errors() {
        let mut b = [0u8; 8];
        assert!(me().read(0, &mut b).is_err());
        assert!(me().read(8, &mut b).is_err());
        assert!(me().read(u64::MAX - 3, &mut b).is_err());
        assert!(me().read_u64(0xffff_8000_0000_0000).is_err());
    }

    #[test]
    fn partly_unmapped_range_is_an_error() {
        // Map two pages, unmap the second: a read across the boundary must
        // fail rather than return half a buffer.
        // SAFETY: plain anonymous mapping, unmapped below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        // SAFETY: the second page of our own mapping.
        unsafe { libc::munmap(p.cast::<u8>().add(4096).cast(), 4096) };
        let mut b = [0u8; 16];
        // (The kernel returns the 8 readable bytes, then EFAULT for the rest.)
        let e = me().read(p as u64 + 4096 - 8, &mut b).unwrap_err();
        assert!(
            e.kind() == io::ErrorKind::UnexpectedEof || e.raw_os_error() == Some(libc::EFAULT),
            "{e}"
        );
        me().read(p as u64 + 4096 - 16, &mut b).unwrap();
        // SAFETY: the first page, still mapped.
        unsafe { libc::munmap(p, 4096) };
    }

    #[test]
    fn read_ranges_gathers_in_order() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        let base = data.as_ptr() as u64;
        // More ranges than one system call takes, some empty, some overlapping.
        let ranges: Vec<(u64, usize)> = (0..2500u64)
            .map(|i| (base + (i * 7) % 4000, (i % 5) as usize))
            .collect();
        let mut out = vec![0u8; ranges.iter().map(|r| r.1).sum()];
        me().read_ranges(&ranges, &mut out).unwrap();
        let want: Vec<u8> = ranges
            .iter()
            .flat_map(|&(a, l)| data[(a - base) as usize..][..l].iter().copied())
            .collect();
        assert_eq!(out, want);
        me().read_ranges(&[], &mut []).unwrap();
        assert!(me().read_ranges(&[(base, 4)], &mut [0u8; 3]).is_err());
    }

    #[test]
    fn read_ranges_fails_on_any_bad_range() {
        let data = [7u8; 64];
        let base = data.as_ptr() as u64;
        let mut out = [0u8; 24];
        let e = me()
            .read_ranges(&[(base, 8), (8, 8), (base, 8)], &mut out)
            .unwrap_err();
        assert!(e.to_string().contains("0x8"), "{e}");
        // A bad range beyond the first system call's batch.
        let mut ranges = vec![(base, 1usize); IOV_MAX + 10];
        ranges[IOV_MAX + 5] = (16, 1);
        let mut out = vec![0u8; ranges.len()];
        assert!(me().read_ranges(&ranges, &mut out).is_err());
    }

    #[test]
    fn missing_process_is_an_error() {
        // pid_max is at most 2^22; this pid cannot exist.
        let gone = ProcMem::new(i32::MAX as u32);
        let e = gone.read_u64(0x1000).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ESRCH), "{e}");
        assert!(ProcMem::new(u32::MAX).read_u8(0x1000).is_err());
    }
}
