//! Classic and Swiss map layouts, map type descriptors and map constants.

use std::path::Path;

use crate::tracee::golayout::layout::{Layout, MapImpl};
use crate::tracee::golayout::maps::{HmapLayout, SwissLayout};
use crate::tracee::golayout::tests::checker::Checker;
use crate::tracee::golayout::tests::source;

pub fn check(c: &mut Checker<'_>, l: &Layout, src: &Path) {
    // The implementation must match what the binary links, and the options
    // must match the implementation.
    let has_hmap = c.dwarf.structs.contains_key("runtime.hmap");
    let has_swiss = c.dwarf.structs.contains_key("internal/runtime/maps.Map");
    let dwarf_impl = match (has_hmap, has_swiss) {
        (true, false) => Some(MapImpl::Classic),
        (false, true) => Some(MapImpl::Swiss),
        _ => None,
    };
    c.eq(
        "map_impl",
        Some(l.map_impl),
        dwarf_impl,
        "DWARF (runtime.hmap vs maps.Map)",
    );
    c.eq(
        "hmap/swiss",
        (l.hmap.is_some(), l.swiss.is_some()),
        (l.map_impl == MapImpl::Classic, l.map_impl == MapImpl::Swiss),
        "map_impl",
    );
    if let Some(h) = &l.hmap {
        check_hmap(c, h, src);
    }
    if let Some(s) = &l.swiss {
        check_swiss(c, s);
    }
}

fn check_hmap(c: &mut Checker<'_>, h: &HmapLayout, src: &Path) {
    const H: &[&str] = &["runtime.hmap"];
    const X: &[&str] = &["runtime.mapextra"];
    c.size("hmap.size", H, h.size);
    let members = [
        ("hmap.count", "count", h.count),
        ("hmap.flags", "flags", h.flags),
        ("hmap.b", "B", h.b),
        ("hmap.noverflow", "noverflow", h.noverflow),
        ("hmap.hash0", "hash0", h.hash0),
        ("hmap.buckets", "buckets", h.buckets),
        ("hmap.oldbuckets", "oldbuckets", h.oldbuckets),
        ("hmap.nevacuate", "nevacuate", h.nevacuate),
        ("hmap.extra", "extra", h.extra),
    ];
    for (what, m, v) in members {
        c.member(what, H, m, v);
    }
    c.member("hmap.extra_overflow", X, "overflow", h.extra_overflow);
    c.member(
        "hmap.extra_oldoverflow",
        X,
        "oldoverflow",
        h.extra_oldoverflow,
    );
    c.member(
        "hmap.extra_next_overflow",
        X,
        "nextOverflow",
        h.extra_next_overflow,
    );
    let flags = [
        ("hmap.flag_iterator", "runtime.iterator", h.flag_iterator),
        (
            "hmap.flag_old_iterator",
            "runtime.oldIterator",
            h.flag_old_iterator,
        ),
        (
            "hmap.flag_hash_writing",
            "runtime.hashWriting",
            h.flag_hash_writing,
        ),
        (
            "hmap.flag_same_size_grow",
            "runtime.sameSizeGrow",
            h.flag_same_size_grow,
        ),
    ];
    for (what, name, v) in flags {
        c.constant(what, &[name], i64::from(v));
    }

    let b = &h.bucket;
    c.constant(
        "hmap.bucket.bucket_cnt",
        &["internal/abi.MapBucketCount", "runtime.bucketCnt"],
        b.bucket_cnt as i64,
    );
    c.constant(
        "hmap.bucket.data_offset",
        &["runtime.dataOffset"],
        b.data_offset as i64,
    );
    let tophash = [
        ("hmap.bucket.empty_rest", "runtime.emptyRest", b.empty_rest),
        ("hmap.bucket.empty_one", "runtime.emptyOne", b.empty_one),
        (
            "hmap.bucket.evacuated_x",
            "runtime.evacuatedX",
            b.evacuated_x,
        ),
        (
            "hmap.bucket.evacuated_y",
            "runtime.evacuatedY",
            b.evacuated_y,
        ),
        (
            "hmap.bucket.evacuated_empty",
            "runtime.evacuatedEmpty",
            b.evacuated_empty,
        ),
        (
            "hmap.bucket.min_top_hash",
            "runtime.minTopHash",
            b.min_top_hash,
        ),
    ];
    for (what, name, v) in tophash {
        c.constant(what, &[name], i64::from(v));
    }
    c.constant(
        "hmap.bucket.load_factor_num",
        &["runtime.loadFactorNum"],
        b.load_factor_num as i64,
    );
    c.constant(
        "hmap.bucket.load_factor_den",
        &["runtime.loadFactorDen"],
        b.load_factor_den as i64,
    );
    c.constant(
        "hmap.bucket.max_key_bytes",
        &["internal/abi.MapMaxKeyBytes"],
        b.max_key_bytes as i64,
    );
    c.constant(
        "hmap.bucket.max_elem_bytes",
        &["internal/abi.MapMaxElemBytes"],
        b.max_elem_bytes as i64,
    );

    let t = &h.map_type;
    let mt: &[&str] = &[t.go_type];
    c.size("hmap.map_type.size", mt, t.size);
    let members = [
        ("hmap.map_type.key", "Key", t.key),
        ("hmap.map_type.elem", "Elem", t.elem),
        ("hmap.map_type.bucket", "Bucket", t.bucket),
        ("hmap.map_type.hasher", "Hasher", t.hasher),
        ("hmap.map_type.key_size", "KeySize", t.key_size),
        ("hmap.map_type.value_size", "ValueSize", t.value_size),
        ("hmap.map_type.bucket_size", "BucketSize", t.bucket_size),
        ("hmap.map_type.flags", "Flags", t.flags),
    ];
    for (what, m, v) in members {
        c.member(what, mt, m, v);
    }
    for (what, method, v) in [
        (
            "hmap.map_type.flag_indirect_key",
            "IndirectKey",
            t.flag_indirect_key,
        ),
        (
            "hmap.map_type.flag_indirect_elem",
            "IndirectElem",
            t.flag_indirect_elem,
        ),
    ] {
        match source::classic_map_flag(src, method) {
            Ok(bit) => c.eq(
                what,
                v,
                bit,
                &format!("internal/abi/type.go MapType.{method}"),
            ),
            Err(e) => c.fail(what, e),
        }
    }
}

fn check_swiss(c: &mut Checker<'_>, s: &SwissLayout) {
    const M: &[&str] = &["internal/runtime/maps.Map"];
    const T: &[&str] = &["internal/runtime/maps.table"];
    const GR: &[&str] = &["internal/runtime/maps.groupsReference"];
    const PKG: &str = "internal/runtime/maps.";
    let m = &s.map;
    c.size("swiss.map.size", M, m.size);
    let members = [
        ("swiss.map.used", "used", m.used),
        ("swiss.map.seed", "seed", m.seed),
        ("swiss.map.dir_ptr", "dirPtr", m.dir_ptr),
        ("swiss.map.dir_len", "dirLen", m.dir_len),
        ("swiss.map.global_depth", "globalDepth", m.global_depth),
        ("swiss.map.global_shift", "globalShift", m.global_shift),
        ("swiss.map.writing", "writing", m.writing),
        ("swiss.map.clear_seq", "clearSeq", m.clear_seq),
    ];
    for (what, name, v) in members {
        c.member(what, M, name, v);
    }
    c.opt_member(
        "swiss.map.tombstone_possible",
        M,
        "tombstonePossible",
        m.tombstone_possible,
    );

    let t = &s.table;
    c.size("swiss.table.size", T, t.size);
    let members = [
        ("swiss.table.used", "used", t.used),
        ("swiss.table.capacity", "capacity", t.capacity),
        ("swiss.table.growth_left", "growthLeft", t.growth_left),
        ("swiss.table.local_depth", "localDepth", t.local_depth),
        ("swiss.table.index", "index", t.index),
        ("swiss.table.groups", "groups", t.groups),
    ];
    for (what, name, v) in members {
        c.member(what, T, name, v);
    }
    c.member("swiss.table.groups_data", GR, "data", t.groups_data);
    c.member(
        "swiss.table.groups_length_mask",
        GR,
        "lengthMask",
        t.groups_length_mask,
    );
    c.constant(
        "swiss.table.max_table_capacity",
        &[&format!("{PKG}maxTableCapacity")],
        t.max_table_capacity as i64,
    );

    let g = &s.group;
    c.constant(
        "swiss.group.slots",
        &[
            "internal/abi.SwissMapGroupSlots",
            "internal/abi.MapGroupSlots",
        ],
        g.slots as i64,
    );
    c.type_size(
        "swiss.group.ctrl_word_size",
        &format!("{PKG}ctrlGroup"),
        g.ctrl_word_size,
    );
    c.opt_constant(
        "swiss.group.slots_offset",
        &[&format!("{PKG}groupSlotsOffset")],
        g.slots_offset.map(|v| v as i64),
    );
    c.constant(
        "swiss.group.ctrl_empty",
        &[&format!("{PKG}ctrlEmpty")],
        i64::from(g.ctrl_empty),
    );
    c.constant(
        "swiss.group.ctrl_deleted",
        &[&format!("{PKG}ctrlDeleted")],
        i64::from(g.ctrl_deleted),
    );
    c.constant(
        "swiss.group.max_avg_group_load",
        &[&format!("{PKG}maxAvgGroupLoad")],
        g.max_avg_group_load as i64,
    );
    c.constant(
        "swiss.group.max_key_bytes",
        &[
            "internal/abi.SwissMapMaxKeyBytes",
            "internal/abi.MapMaxKeyBytes",
        ],
        g.max_key_bytes as i64,
    );
    c.constant(
        "swiss.group.max_elem_bytes",
        &[
            "internal/abi.SwissMapMaxElemBytes",
            "internal/abi.MapMaxElemBytes",
        ],
        g.max_elem_bytes as i64,
    );

    let t = &s.map_type;
    let mt: &[&str] = &[t.go_type];
    c.size("swiss.map_type.size", mt, t.size);
    let members = [
        ("swiss.map_type.key", "Key", Some(t.key)),
        ("swiss.map_type.elem", "Elem", Some(t.elem)),
        ("swiss.map_type.group", "Group", Some(t.group)),
        ("swiss.map_type.hasher", "Hasher", Some(t.hasher)),
        ("swiss.map_type.group_size", "GroupSize", Some(t.group_size)),
        ("swiss.map_type.slot_size", "SlotSize", t.slot_size),
        ("swiss.map_type.elem_off", "ElemOff", Some(t.elem_off)),
        ("swiss.map_type.keys_off", "KeysOff", t.keys_off),
        ("swiss.map_type.key_stride", "KeyStride", t.key_stride),
        ("swiss.map_type.elems_off", "ElemsOff", t.elems_off),
        ("swiss.map_type.elem_stride", "ElemStride", t.elem_stride),
        ("swiss.map_type.flags", "Flags", Some(t.flags)),
    ];
    for (what, name, v) in members {
        c.opt_member(what, mt, name, v);
    }
    c.constant(
        "swiss.map_type.flag_indirect_key",
        &[
            "internal/abi.SwissMapIndirectKey",
            "internal/abi.MapIndirectKey",
        ],
        i64::from(t.flag_indirect_key),
    );
    c.constant(
        "swiss.map_type.flag_indirect_elem",
        &[
            "internal/abi.SwissMapIndirectElem",
            "internal/abi.MapIndirectElem",
        ],
        i64::from(t.flag_indirect_elem),
    );
}
