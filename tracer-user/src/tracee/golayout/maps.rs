//! Go map layouts: the classic bucket map (Go ≤ 1.23) and the Swiss table
//! (Go ≥ 1.24), plus the map type descriptors passed as the first argument of
//! every `runtime.map*` function.

use serde::Serialize;

/// Classic map header `runtime.hmap` (`runtime/map.go`, Go 1.21–1.23).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HmapLayout {
    /// `unsafe.Sizeof(runtime.hmap{})`.
    pub size: u64,
    /// `count` (int): live entries, `len(m)`.
    pub count: u64,
    /// `flags` (uint8): `flag_*` bits below.
    pub flags: u64,
    /// `B` (uint8): log2 of the number of buckets.
    pub b: u64,
    /// `noverflow` (uint16): approximate number of overflow buckets.
    pub noverflow: u64,
    /// `hash0` (uint32): hash seed.
    pub hash0: u64,
    /// `buckets` (pointer to 2^B buckets).
    pub buckets: u64,
    /// `oldbuckets`: non-nil while growing.
    pub oldbuckets: u64,
    /// `nevacuate` (uintptr): buckets below this are evacuated.
    pub nevacuate: u64,
    /// `extra` (`*runtime.mapextra`).
    pub extra: u64,
    /// `runtime.mapextra.overflow` (`*[]*bmap`).
    pub extra_overflow: u64,
    /// `runtime.mapextra.oldoverflow` (`*[]*bmap`).
    pub extra_oldoverflow: u64,
    /// `runtime.mapextra.nextOverflow` (`*bmap`).
    pub extra_next_overflow: u64,
    /// `hmap.flags` bits (`runtime/map.go`: iterator, oldIterator, hashWriting, sameSizeGrow).
    pub flag_iterator: u8,
    pub flag_old_iterator: u8,
    pub flag_hash_writing: u8,
    pub flag_same_size_grow: u8,
    pub bucket: BucketLayout,
    pub map_type: ClassicMapTypeLayout,
}

/// A classic map bucket (`runtime.bmap`, `runtime/map.go`): `tophash [8]uint8`,
/// then 8 keys, then 8 elems, then the overflow `*bmap` in the last 8 bytes
/// (`MapType.BucketSize - 8`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BucketLayout {
    /// Slots per bucket (`bucketCnt` = `abi.MapBucketCount`).
    pub bucket_cnt: u64,
    /// Offset of the first key (`runtime.dataOffset`); keys are `KeySize`
    /// apart, elems start at `data_offset + bucket_cnt * KeySize`.
    pub data_offset: u64,
    /// `tophash` values below `min_top_hash` are states, not hashes.
    /// `emptyRest`: this slot and all later ones (and overflow buckets) are empty.
    pub empty_rest: u8,
    /// `emptyOne`: empty slot (deleted entries become this).
    pub empty_one: u8,
    pub evacuated_x: u8,
    pub evacuated_y: u8,
    pub evacuated_empty: u8,
    pub min_top_hash: u8,
    /// Maximum load factor `loadFactorNum / loadFactorDen` entries per bucket
    /// (12/2 in 1.21 because of integer truncation, 13/2 from 1.22).
    pub load_factor_num: u64,
    pub load_factor_den: u64,
    /// Keys / elems larger than this are stored as pointers (`MapMaxKeyBytes`, `MapMaxElemBytes`).
    pub max_key_bytes: u64,
    pub max_elem_bytes: u64,
}

/// `internal/abi.MapType` of the classic map (`internal/abi/type.go`, 1.21–1.23).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ClassicMapTypeLayout {
    /// Go type name (as in DWARF).
    pub go_type: &'static str,
    pub size: u64,
    /// `Key` (`*abi.Type`).
    pub key: u64,
    /// `Elem` (`*abi.Type`).
    pub elem: u64,
    /// `Bucket` (`*abi.Type` of the bucket struct).
    pub bucket: u64,
    /// `Hasher` (func value).
    pub hasher: u64,
    /// `KeySize` (uint8): size of a key slot.
    pub key_size: u64,
    /// `ValueSize` (uint8): size of an elem slot.
    pub value_size: u64,
    /// `BucketSize` (uint16).
    pub bucket_size: u64,
    /// `Flags` (uint32).
    pub flags: u64,
    /// `Flags` bit: key slots hold pointers to keys (`IndirectKey`).
    pub flag_indirect_key: u32,
    /// `Flags` bit: elem slots hold pointers to elems (`IndirectElem`).
    pub flag_indirect_elem: u32,
}

/// Swiss-table map (Go ≥ 1.24, `internal/runtime/maps`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SwissLayout {
    pub map: SwissMapHeaderLayout,
    pub table: SwissTableLayout,
    pub group: SwissGroupLayout,
    pub map_type: SwissMapTypeLayout,
}

/// `internal/runtime/maps.Map` (`internal/runtime/maps/map.go`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SwissMapHeaderLayout {
    pub size: u64,
    /// `used` (uint64): live entries, `len(m)`.
    pub used: u64,
    /// `seed` (uintptr).
    pub seed: u64,
    /// `dirPtr`: with `dirLen == 0` a single group (small map, ≤ 8
    /// entries) or nil; otherwise `*[dirLen]*table`.
    pub dir_ptr: u64,
    /// `dirLen` (int).
    pub dir_len: u64,
    /// `globalDepth` (uint8).
    pub global_depth: u64,
    /// `globalShift` (uint8).
    pub global_shift: u64,
    /// `writing` (uint8): concurrent write detector.
    pub writing: u64,
    /// `tombstonePossible` (bool), added in 1.25.
    pub tombstone_possible: Option<u64>,
    /// `clearSeq` (uint64).
    pub clear_seq: u64,
}

/// `internal/runtime/maps.table` (`internal/runtime/maps/table.go`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SwissTableLayout {
    pub size: u64,
    /// `used` (uint16).
    pub used: u64,
    /// `capacity` (uint16): slots, a power of two.
    pub capacity: u64,
    /// `growthLeft` (uint16): inserts left before a rehash.
    pub growth_left: u64,
    /// `localDepth` (uint8).
    pub local_depth: u64,
    /// `index` (int): index in the directory, -1 if stale.
    pub index: u64,
    /// `groups` (`groupsReference`, `group.go`).
    pub groups: u64,
    /// `groupsReference.data`: the group array.
    pub groups_data: u64,
    /// `groupsReference.lengthMask` (uint64): number of groups - 1.
    pub groups_length_mask: u64,
    /// `maxTableCapacity`: a table this big splits instead of growing.
    pub max_table_capacity: u64,
}

/// A slot group (`internal/runtime/maps/group.go`): a control word of one
/// byte per slot, then the slots.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SwissGroupLayout {
    /// Slots per group (`abi.SwissMapGroupSlots` / `abi.MapGroupSlots`).
    pub slots: u64,
    /// Size of the control word (`ctrlGroupsSize`); slot i's control byte is byte i.
    pub ctrl_word_size: u64,
    /// Offset of slot 0 (`groupSlotsOffset`), slot i at `+ i * SlotSize`.
    /// `None` in 1.27, where keys and elems are located through
    /// `MapType.KeysOff/KeyStride/ElemsOff/ElemStride` instead.
    pub slots_offset: Option<u64>,
    /// Control byte of an empty slot (`ctrlEmpty`, 0b1000_0000).
    pub ctrl_empty: u8,
    /// Control byte of a deleted slot, a tombstone (`ctrlDeleted`, 0b1111_1110).
    /// Full slots have the top bit clear (low 7 bits of the hash).
    pub ctrl_deleted: u8,
    /// `maxAvgGroupLoad`: at most this many of 8 slots used before growing;
    /// tombstones of a table = `capacity * 7 / 8 - used - growthLeft`.
    pub max_avg_group_load: u64,
    /// Keys / elems larger than this are stored as pointers.
    pub max_key_bytes: u64,
    pub max_elem_bytes: u64,
}

/// Swiss map type descriptor: `internal/abi.SwissMapType`
/// (`internal/abi/map_swiss.go`, 1.24–1.25), renamed `internal/abi.MapType`
/// (`internal/abi/map.go`) in 1.26.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SwissMapTypeLayout {
    /// Go type name (as in DWARF).
    pub go_type: &'static str,
    pub size: u64,
    /// `Key` (`*abi.Type`).
    pub key: u64,
    /// `Elem` (`*abi.Type`).
    pub elem: u64,
    /// `Group` (`*abi.Type` of one group).
    pub group: u64,
    /// `Hasher` (func value).
    pub hasher: u64,
    /// `GroupSize` (uintptr).
    pub group_size: u64,
    /// `SlotSize` (uintptr): key+elem slot size; removed in 1.27.
    pub slot_size: Option<u64>,
    /// `ElemOff` (uintptr): elem offset within a slot.
    pub elem_off: u64,
    /// 1.27 `KeysOff` (uintptr): key(i) = group + KeysOff + i * KeyStride.
    pub keys_off: Option<u64>,
    /// 1.27 `KeyStride` (uintptr).
    pub key_stride: Option<u64>,
    /// 1.27 `ElemsOff` (uintptr): elem(i) = group + ElemsOff + i * ElemStride.
    pub elems_off: Option<u64>,
    /// 1.27 `ElemStride` (uintptr).
    pub elem_stride: Option<u64>,
    /// `Flags` (uint32).
    pub flags: u64,
    /// `Flags` bit: key slots hold pointers to keys.
    pub flag_indirect_key: u32,
    /// `Flags` bit: elem slots hold pointers to elems.
    pub flag_indirect_elem: u32,
}
