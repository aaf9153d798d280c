//! Output files that are replaced whole: a profile or flame graph on disk is
//! always a complete one (the previous window's or this one's), never half
//! written, even if the tracer is killed mid-write.
use std::{
    ffi::OsString,
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use super::{Report, Sink};

/// Fails now, before any probe is attached, if `write_atomic(path, …)`
/// would fail for lack of a directory or of permission to create files in
/// it: it creates and removes a file next to `path`.
pub fn check_writable(path: &Path) -> io::Result<()> {
    let path = target(path)?;
    let (tmp, file) = create_temp(&path)?;
    drop(file);
    fs::remove_file(&tmp)
}

/// Replaces `path` with `bytes`: written to a temporary file in the same
/// directory, synced, then renamed over `path` (atomic on one filesystem).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let path = &target(path)?;
    let (tmp, mut file) = create_temp(path)?;
    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            fs::rename(&tmp, path)
        });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Makes the rename itself durable. Best effort: some filesystems refuse
    // to sync a directory, and the data is in place either way.
    if let Ok(dir) = File::open(dir_of(path)) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Renders a report as a whole file (a flame graph, a profile…).
pub type Render = Box<dyn FnMut(&Report) -> anyhow::Result<Vec<u8>>>;

/// A sink that renders each report into a file format and replaces the
/// file with it: after an `--interval` window the file holds that window,
/// and at exit the whole run.
pub struct AtomicFileSink<F> {
    path: PathBuf,
    render: F,
}

impl<F: FnMut(&Report) -> anyhow::Result<Vec<u8>>> AtomicFileSink<F> {
    pub fn new(path: PathBuf, render: F) -> Self {
        AtomicFileSink { path, render }
    }
}

impl<F: FnMut(&Report) -> anyhow::Result<Vec<u8>>> Sink for AtomicFileSink<F> {
    fn write(&mut self, report: &Report) -> io::Result<()> {
        let bytes = (self.render)(report).map_err(io::Error::other)?;
        write_atomic(&self.path, &bytes)
            .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", self.path.display())))
    }
}

/// The file to replace. Through a symlink, so that the link keeps pointing
/// at the new content; and only a regular file or a new one: renaming over
/// a device (`--output /dev/stdout`), a FIFO or a directory would replace
/// the node itself.
fn target(path: &Path) -> io::Result<PathBuf> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => fs::canonicalize(path),
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a directory",
        )),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(path.to_path_buf()),
        Err(e) => Err(e),
    }
}

/// The directory `path` is in ("." for a bare file name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A new, exclusively created file next to `path`, hidden and named after
/// it and this process, so concurrent writers never share one.
fn create_temp(path: &Path) -> io::Result<(PathBuf, File)> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir_of(path).join(tmp_name);
    let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    Ok((tmp, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static SEQ: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "tracer-files-{tag}-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }

        fn entries(&self) -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(&self.0)
                .expect("read temp dir")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = TempDir::new("write");
        let path = dir.0.join("allocs.pb.gz");
        check_writable(&path).expect("writable");
        assert!(dir.entries().is_empty(), "check left {:?}", dir.entries());
        write_atomic(&path, b"first").expect("write");
        write_atomic(&path, b"second, longer").expect("replace");
        assert_eq!(fs::read(&path).expect("read"), b"second, longer");
        assert_eq!(dir.entries(), ["allocs.pb.gz"]);
    }

    #[test]
    fn missing_directory_fails() {
        let dir = TempDir::new("missing");
        let path = dir.0.join("no/such/dir/out.svg");
        let err = check_writable(&path).expect_err("missing dir");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(write_atomic(&path, b"x").is_err());
    }

    #[test]
    fn unwritable_places_fail() {
        // procfs refuses new files even to root.
        assert!(check_writable(Path::new("/proc/x")).is_err());
        assert!(write_atomic(Path::new("/proc/x"), b"x").is_err());
        let dir = TempDir::new("isdir");
        assert!(check_writable(&dir.0).is_err());
        assert!(check_writable(Path::new("/")).is_err());
    }

    #[test]
    fn devices_are_not_replaced() {
        let err = check_writable(Path::new("/dev/null")).expect_err("device");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(write_atomic(Path::new("/dev/null"), b"x").is_err());
    }

    #[test]
    fn symlink_keeps_pointing_at_the_new_content() {
        let dir = TempDir::new("link");
        let real = dir.0.join("real.svg");
        let link = dir.0.join("link.svg");
        fs::write(&real, b"old").expect("write");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        check_writable(&link).expect("writable");
        write_atomic(&link, b"new").expect("write through link");
        assert!(fs::symlink_metadata(&link).expect("link").is_symlink());
        assert_eq!(fs::read(&real).expect("read"), b"new");
        assert_eq!(dir.entries(), ["link.svg", "real.svg"]);
    }

    #[test]
    fn bare_file_name_is_in_the_current_directory() {
        assert_eq!(dir_of(Path::new("out.svg")), Path::new("."));
        assert_eq!(dir_of(Path::new("/tmp/out.svg")), Path::new("/tmp"));
    }

    #[test]
    fn sink_renders_each_report_over_the_last() {
        let dir = TempDir::new("sink");
        let path = dir.0.join("stacks.folded");
        let mut n = 0;
        let mut sink = AtomicFileSink::new(path.clone(), |r: &Report| {
            n += 1;
            Ok(format!("{} {n}\n", r.kind).into_bytes())
        });
        let report = crate::report::folded::fixture::report();
        sink.write(&report).expect("first");
        sink.write(&report).expect("second");
        assert_eq!(fs::read_to_string(&path).expect("read"), "final 2\n");
        let mut failing =
            AtomicFileSink::new(path.clone(), |_: &Report| anyhow::bail!("cannot render"));
        let err = failing.write(&report).expect_err("render error");
        assert!(err.to_string().contains("cannot render"));
        assert_eq!(dir.entries(), ["stacks.folded"]);
    }
}
