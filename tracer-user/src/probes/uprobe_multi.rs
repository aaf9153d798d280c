//! uprobe_multi links (Linux ≥ 6.6): one `BPF_LINK_CREATE` attaches a
//! program at many offsets of one file, scoped to one process, each with its
//! own cookie; closing the link detaches them all with a single RCU wait
//! (a perf-event uprobe waits once per probe, serially). The program must
//! have been loaded with `UProbe::load_multi` (vendored aya).
use std::{
    ffi::CString,
    io,
    os::fd::{FromRawFd, OwnedFd, RawFd},
    os::unix::ffi::OsStrExt,
    path::Path,
};

const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_TRACE_UPROBE_MULTI: u32 = 48;

/// `union bpf_attr`, the `link_create` member with `uprobe_multi`
/// (include/uapi/linux/bpf.h).
#[repr(C)]
#[derive(Default)]
struct LinkCreate {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    path: u64,
    offsets: u64,
    ref_ctr_offsets: u64,
    cookies: u64,
    cnt: u32,
    multi_flags: u32,
    pid: u32,
    _pad: u32,
}

/// Attaches `prog_fd` at each file offset of `exe` (with the cookie of the
/// same index) for process `pid`. The returned fd is the link.
pub fn attach(
    prog_fd: RawFd,
    exe: &Path,
    offsets: &[u64],
    cookies: &[u64],
    pid: u32,
) -> io::Result<OwnedFd> {
    assert_eq!(offsets.len(), cookies.len());
    let path = CString::new(exe.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path with a NUL byte"))?;
    let attr = LinkCreate {
        prog_fd: prog_fd as u32,
        attach_type: BPF_TRACE_UPROBE_MULTI,
        path: path.as_ptr() as u64,
        offsets: offsets.as_ptr() as u64,
        cookies: cookies.as_ptr() as u64,
        cnt: offsets.len() as u32,
        pid,
        ..Default::default()
    };
    // SAFETY: `attr` and the buffers it points to outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_LINK_CREATE,
            &attr as *const LinkCreate,
            std::mem::size_of::<LinkCreate>() as u32,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new file descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// uprobe_multi links exist from Linux 6.6.
pub fn supported() -> bool {
    crate::probes::environment::kernel_version().is_some_and(|v| v >= (6, 6))
}
