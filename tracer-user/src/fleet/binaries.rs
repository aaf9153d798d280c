//! Executables kept parsed for symbolizing, shared by the processes that
//! run them and bounded in memory: least recently used ones are dropped
//! past [`MAX_BYTES`] of file data (a dropped one is parsed again when a
//! process shows stacks not symbolized yet).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::tracee::gobin::GoBinary;

/// Identity of an executable file: (device, inode, size, mtime).
pub type FileKey = (u64, u64, u64, i64);

/// File bytes kept parsed at most.
pub const MAX_BYTES: u64 = 96 << 20;

#[derive(Default)]
pub struct Binaries {
    kept: HashMap<FileKey, (Arc<GoBinary>, Instant)>,
    /// Parses since the start (the cost of a cache too small).
    pub parses: u64,
}

impl std::fmt::Debug for Binaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Binaries({} kept, {} parses)",
            self.kept.len(),
            self.parses
        )
    }
}

impl Binaries {
    /// The parsed executable `key`, read from `path` (`/proc/PID/exe`) if
    /// it is not kept.
    pub fn get(&mut self, key: FileKey, path: &Path) -> Option<Arc<GoBinary>> {
        if let Some((bin, used)) = self.kept.get_mut(&key) {
            *used = Instant::now();
            return Some(Arc::clone(bin));
        }
        let bin = Arc::new(GoBinary::open(path).ok()?);
        self.parses += 1;
        self.kept.insert(key, (Arc::clone(&bin), Instant::now()));
        while self.kept.len() > 1 && self.bytes() > MAX_BYTES {
            let oldest = self
                .kept
                .iter()
                .filter(|(k, _)| **k != key)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => self.kept.remove(&k),
                None => break,
            };
        }
        Some(bin)
    }

    fn bytes(&self) -> u64 {
        self.kept.keys().map(|k| k.2).sum()
    }
}
