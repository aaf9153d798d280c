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
        Ok(b.chunks_exact(8)
            .map(|c| {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                u64::from_le_bytes(w)
            })
            .collect())
    }
}

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
    fn missing_process_is_an_error() {
        // pid_max is at most 2^22; this pid cannot exist.
        let gone = ProcMem::new(i32::MAX as u32);
        let e = gone.read_u64(0x1000).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ESRCH), "{e}");
        assert!(ProcMem::new(u32::MAX).read_u8(0x1000).is_err());
    }
}
