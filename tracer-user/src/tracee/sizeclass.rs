//! Go's heap size classes (runtime/sizeclasses.go, identical in Go
//! 1.21..1.27): what one allocation of a requested size really consumes.

const CLASS_TO_SIZE: [u32; 68] = [
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
    352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
    2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728,
    10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672,
    32768,
];
/// Pages of a span of each class (`class_to_allocnpages`).
const CLASS_TO_NPAGES: [u8; 68] = [
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8,
    3, 10, 7, 4,
];
const MAX_SMALL_SIZE: u64 = 32768;
const PAGE_SIZE: u64 = 8192;
/// Go >= 1.22: objects with pointers larger than this carry an 8-byte header.
const MIN_SIZE_FOR_MALLOC_HEADER: u64 = 512;
const MALLOC_HEADER_SIZE: u64 = 8;

/// Bytes of heap one allocation of `size` consumes (`MemStats.TotalAlloc`
/// counts this, not the requested size). Tiny allocations (< 16 B without
/// pointers) share 16-byte blocks; they are reported at their own size.
pub fn slot_size(size: u64, scan: bool, go_minor: u32) -> u64 {
    if size == 0 {
        return 0;
    }
    if !scan && size < 16 {
        return size;
    }
    let header = go_minor >= 22 && scan && size > MIN_SIZE_FOR_MALLOC_HEADER;
    let small_limit = if go_minor >= 22 {
        MAX_SMALL_SIZE - MALLOC_HEADER_SIZE
    } else {
        MAX_SMALL_SIZE
    };
    if size > small_limit {
        return size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    }
    let want = size + if header { MALLOC_HEADER_SIZE } else { 0 };
    CLASS_TO_SIZE
        .iter()
        .map(|&c| u64::from(c))
        .find(|&c| c >= want)
        .unwrap_or(want)
}

/// Slot size of size class `class` (`class_to_size[class]`; 0 for class 0,
/// the large objects), `None` past the last class. The runtime's table of
/// each supported version is checked against this by the golayout tests.
pub fn class_size(class: usize) -> Option<u64> {
    CLASS_TO_SIZE.get(class).map(|&c| u64::from(c))
}

/// Pages of a span of size class `class` (`class_to_allocnpages[class]`),
/// `None` past the last class; checked by the golayout tests like
/// [`class_size`].
pub fn class_npages(class: usize) -> Option<u64> {
    CLASS_TO_NPAGES.get(class).map(|&n| u64::from(n))
}

/// Objects one span of small size class `class` holds (`nelems`); `None`
/// for class 0 (large objects) and past the last class.
pub fn objects_per_span(class: usize) -> Option<u64> {
    let size = class_size(class).filter(|&s| s > 0)?;
    Some(class_npages(class)? * PAGE_SIZE / size)
}

/// The small size class whose slots are `slot` bytes (a span's
/// `elemsize`); `None` for large objects and sizes that are no class.
pub fn class_of_slot(slot: u64) -> Option<usize> {
    (slot > 0 && slot <= MAX_SMALL_SIZE)
        .then(|| CLASS_TO_SIZE.iter().position(|&c| u64::from(c) == slot))
        .flatten()
}

/// Upper edges for size histograms: the size classes, then powers of two.
pub fn histogram_edges() -> impl Iterator<Item = u64> {
    CLASS_TO_SIZE[1..]
        .iter()
        .map(|&c| u64::from(c))
        .chain((16..=40).map(|p| 1u64 << p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_hold_whole_pages_of_objects() {
        assert_eq!(objects_per_span(0), None);
        assert_eq!(objects_per_span(1), Some(1024));
        assert_eq!(objects_per_span(5), Some(170));
        assert_eq!(objects_per_span(26), Some(16));
        assert_eq!(objects_per_span(67), Some(1));
        assert_eq!(objects_per_span(68), None);
    }

    #[test]
    fn classes() {
        assert_eq!(slot_size(1, false, 23), 1);
        assert_eq!(slot_size(16, false, 23), 16);
        assert_eq!(slot_size(17, false, 23), 24);
        assert_eq!(slot_size(512, false, 23), 512);
        assert_eq!(slot_size(1000, false, 23), 1024);
        assert_eq!(slot_size(1536, false, 23), 1536);
        // Header pushes a 1024-byte pointerful object into the next class on 1.22+.
        assert_eq!(slot_size(1024, true, 23), 1152);
        assert_eq!(slot_size(1024, true, 21), 1024);
        assert_eq!(slot_size(40000, false, 23), 40960);
        assert_eq!(slot_size(32768, false, 21), 32768);
        assert_eq!(slot_size(32769, false, 23), 40960);
        assert_eq!(class_of_slot(48), Some(5));
        assert_eq!(class_of_slot(32768), Some(67));
        assert_eq!(class_of_slot(40960), None);
        assert_eq!(class_of_slot(0), None);
        assert_eq!(class_of_slot(50), None);
    }
}
