//! The in-kernel counters array mapped read-only into this process (the
//! BPF side creates it `BPF_F_MMAPABLE`): reading a counter is a load, not
//! a `bpf()` syscall. The governors read three counters every 10 ms while
//! a window is open, and each report reads them all.
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

pub struct CounterPage {
    base: NonNull<u64>,
    entries: usize,
    bytes: usize,
}

// SAFETY: the mapping is read-only shared memory the kernel updates with
// atomic adds; reading it from any thread is sound.
unsafe impl Send for CounterPage {}
unsafe impl Sync for CounterPage {}

impl CounterPage {
    /// Maps the `entries` u64 values of the array map `fd`.
    pub fn map(fd: BorrowedFd<'_>, entries: usize) -> io::Result<CounterPage> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|&p| p > 0)
            .unwrap_or(4096);
        let bytes = (entries * 8).div_ceil(page).max(1) * page;
        // SAFETY: a fresh read-only shared mapping of a map fd; the kernel
        // checks that the map is mmapable and `bytes` within its size.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(ptr.cast::<u64>()).ok_or_else(|| io::Error::other("mmap: null"))?;
        Ok(CounterPage {
            base,
            entries,
            bytes,
        })
    }

    /// Counter `index` now; 0 past the array's end.
    pub fn get(&self, index: u32) -> u64 {
        let i = index as usize;
        if i >= self.entries {
            return 0;
        }
        // SAFETY: `i` is within the mapped array; an aligned u64 load is
        // atomic on the targets we build for, and volatile keeps each read
        // a fresh look at memory the kernel changes.
        unsafe { std::ptr::read_volatile(self.base.as_ptr().add(i)) }
    }
}

impl Drop for CounterPage {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.bytes) };
    }
}
