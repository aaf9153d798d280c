//! Flat `(name, value)` listing of a [`Layout`], for `tracer inspect`.
//! Names are `component.go_field`; absent optional fields are listed as "-"
//! so that tables of two versions line up.

use super::layout::Layout;

struct Out(Vec<(String, String)>);

impl Out {
    fn num(&mut self, key: &str, v: impl Into<u64>) {
        self.0.push((key.to_string(), v.into().to_string()));
    }
    fn opt(&mut self, key: &str, v: Option<impl Into<u64>>) {
        let s = v.map_or_else(|| "-".to_string(), |v| v.into().to_string());
        self.0.push((key.to_string(), s));
    }
    fn text(&mut self, key: &str, v: &str) {
        self.0.push((key.to_string(), v.to_string()));
    }
}

impl Layout {
    /// Every number of the table as `(name, value)`, in a stable order.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mut o = Out(Vec::new());
        o.text("go", &format!("go1.{}", self.go_minor));
        self.describe_g(&mut o);
        self.describe_maps(&mut o);
        self.describe_sync_map(&mut o);
        self.describe_misc(&mut o);
        self.describe_alloc_stats(&mut o);
        o.0
    }

    fn describe_g(&self, o: &mut Out) {
        let g = &self.g;
        o.num("g.size", g.size);
        o.num("g.stack", g.stack);
        o.num("stack.lo", g.stack_lo);
        o.num("stack.hi", g.stack_hi);
        o.num("g.stackguard0", g.stackguard0);
        o.num("g.m", g.m);
        o.num("g.sched", g.sched);
        o.num("gobuf.size", g.gobuf_size);
        o.num("gobuf.sp", g.gobuf_sp);
        o.num("gobuf.pc", g.gobuf_pc);
        o.num("gobuf.bp", g.gobuf_bp);
        o.num("g.atomicstatus", g.atomicstatus);
        o.num("g.goid", g.goid);
        o.num("g.waitreason", g.waitreason);
        o.num("g.parentGoid", g.parent_goid);
        o.num("g.gopc", g.gopc);
        o.num("g.startpc", g.startpc);
        o.num("g.waiting", g.waiting);
        let s = &g.status;
        o.num("_Gidle", s.idle);
        o.num("_Grunnable", s.runnable);
        o.num("_Grunning", s.running);
        o.num("_Gsyscall", s.syscall);
        o.num("_Gwaiting", s.waiting);
        o.num("_Gdead", s.dead);
        o.num("_Gcopystack", s.copystack);
        o.num("_Gpreempted", s.preempted);
        o.opt("_Gleaked", s.leaked);
        o.opt("_Gdeadextra", s.deadextra);
        o.num("_Gscan", s.scan);
    }

    fn describe_maps(&self, o: &mut Out) {
        o.text("map.impl", &format!("{:?}", self.map_impl));
        if let Some(h) = &self.hmap {
            o.num("hmap.size", h.size);
            o.num("hmap.count", h.count);
            o.num("hmap.flags", h.flags);
            o.num("hmap.B", h.b);
            o.num("hmap.noverflow", h.noverflow);
            o.num("hmap.hash0", h.hash0);
            o.num("hmap.buckets", h.buckets);
            o.num("hmap.oldbuckets", h.oldbuckets);
            o.num("hmap.nevacuate", h.nevacuate);
            o.num("hmap.extra", h.extra);
            o.num("mapextra.overflow", h.extra_overflow);
            o.num("mapextra.oldoverflow", h.extra_oldoverflow);
            o.num("mapextra.nextOverflow", h.extra_next_overflow);
            o.num("hmap.flag.iterator", h.flag_iterator);
            o.num("hmap.flag.oldIterator", h.flag_old_iterator);
            o.num("hmap.flag.hashWriting", h.flag_hash_writing);
            o.num("hmap.flag.sameSizeGrow", h.flag_same_size_grow);
            let b = &h.bucket;
            o.num("bucket.bucketCnt", b.bucket_cnt);
            o.num("bucket.dataOffset", b.data_offset);
            o.num("tophash.emptyRest", b.empty_rest);
            o.num("tophash.emptyOne", b.empty_one);
            o.num("tophash.evacuatedX", b.evacuated_x);
            o.num("tophash.evacuatedY", b.evacuated_y);
            o.num("tophash.evacuatedEmpty", b.evacuated_empty);
            o.num("tophash.minTopHash", b.min_top_hash);
            o.num("bucket.loadFactorNum", b.load_factor_num);
            o.num("bucket.loadFactorDen", b.load_factor_den);
            o.num("bucket.maxKeyBytes", b.max_key_bytes);
            o.num("bucket.maxElemBytes", b.max_elem_bytes);
            let t = &h.map_type;
            o.text("maptype.type", t.go_type);
            o.num("maptype.size", t.size);
            o.num("maptype.Key", t.key);
            o.num("maptype.Elem", t.elem);
            o.num("maptype.Bucket", t.bucket);
            o.num("maptype.Hasher", t.hasher);
            o.num("maptype.KeySize", t.key_size);
            o.num("maptype.ValueSize", t.value_size);
            o.num("maptype.BucketSize", t.bucket_size);
            o.num("maptype.Flags", t.flags);
            o.num("maptype.flag.indirectKey", t.flag_indirect_key);
            o.num("maptype.flag.indirectElem", t.flag_indirect_elem);
        }
        if let Some(s) = &self.swiss {
            let m = &s.map;
            o.num("maps.Map.size", m.size);
            o.num("maps.Map.used", m.used);
            o.num("maps.Map.seed", m.seed);
            o.num("maps.Map.dirPtr", m.dir_ptr);
            o.num("maps.Map.dirLen", m.dir_len);
            o.num("maps.Map.globalDepth", m.global_depth);
            o.num("maps.Map.globalShift", m.global_shift);
            o.num("maps.Map.writing", m.writing);
            o.opt("maps.Map.tombstonePossible", m.tombstone_possible);
            o.num("maps.Map.clearSeq", m.clear_seq);
            let t = &s.table;
            o.num("maps.table.size", t.size);
            o.num("maps.table.used", t.used);
            o.num("maps.table.capacity", t.capacity);
            o.num("maps.table.growthLeft", t.growth_left);
            o.num("maps.table.localDepth", t.local_depth);
            o.num("maps.table.index", t.index);
            o.num("maps.table.groups", t.groups);
            o.num("groupsReference.data", t.groups_data);
            o.num("groupsReference.lengthMask", t.groups_length_mask);
            o.num("maps.maxTableCapacity", t.max_table_capacity);
            let g = &s.group;
            o.num("group.slots", g.slots);
            o.num("group.ctrlGroupsSize", g.ctrl_word_size);
            o.opt("group.groupSlotsOffset", g.slots_offset);
            o.num("ctrl.empty", g.ctrl_empty);
            o.num("ctrl.deleted", g.ctrl_deleted);
            o.num("group.maxAvgGroupLoad", g.max_avg_group_load);
            o.num("group.maxKeyBytes", g.max_key_bytes);
            o.num("group.maxElemBytes", g.max_elem_bytes);
            let t = &s.map_type;
            o.text("maptype.type", t.go_type);
            o.num("maptype.size", t.size);
            o.num("maptype.Key", t.key);
            o.num("maptype.Elem", t.elem);
            o.num("maptype.Group", t.group);
            o.num("maptype.Hasher", t.hasher);
            o.num("maptype.GroupSize", t.group_size);
            o.opt("maptype.SlotSize", t.slot_size);
            o.num("maptype.ElemOff", t.elem_off);
            o.opt("maptype.KeysOff", t.keys_off);
            o.opt("maptype.KeyStride", t.key_stride);
            o.opt("maptype.ElemsOff", t.elems_off);
            o.opt("maptype.ElemStride", t.elem_stride);
            o.num("maptype.Flags", t.flags);
            o.num("maptype.flag.indirectKey", t.flag_indirect_key);
            o.num("maptype.flag.indirectElem", t.flag_indirect_elem);
        }
    }

    fn describe_sync_map(&self, o: &mut Out) {
        o.text("sync.Map.impl", &format!("{:?}", self.sync_map_impl));
        o.num("sync.Map.size", self.sync_map.size);
        if let Some(r) = &self.sync_map.read_dirty {
            o.num("sync.Map.mu", r.mu);
            o.num("sync.Map.read", r.read);
            o.num("sync.Map.dirty", r.dirty);
            o.num("sync.Map.misses", r.misses);
            o.num("sync.readOnly.size", r.read_only_size);
            o.num("sync.readOnly.m", r.read_only_m);
            o.num("sync.readOnly.amended", r.read_only_amended);
            o.num("sync.entry.p", r.entry_p);
            o.text("sync.expunged", r.expunged_symbol);
        }
        if let Some(h) = &self.sync_map.hash_trie {
            o.num("sync.Map.m", h.m);
            o.num("HashTrieMap.size", h.size);
            o.num("HashTrieMap.inited", h.inited);
            o.num("HashTrieMap.initMu", h.init_mu);
            o.num("HashTrieMap.root", h.root);
            o.num("HashTrieMap.keyHash", h.key_hash);
            o.num("HashTrieMap.valEqual", h.val_equal);
            o.num("HashTrieMap.seed", h.seed);
            o.num("node.isEntry", h.node_is_entry);
            let i = &h.indirect;
            o.num("indirect.size", i.size);
            o.num("indirect.node", i.node);
            o.num("indirect.dead", i.dead);
            o.num("indirect.mu", i.mu);
            o.num("indirect.parent", i.parent);
            o.num("indirect.children", i.children);
            o.num("indirect.nChildrenLog2", i.n_children_log2);
            o.num("indirect.nChildren", i.n_children);
            let e = &h.entry;
            o.num("entry.size", e.size);
            o.num("entry.node", e.node);
            o.num("entry.overflow", e.overflow);
            o.num("entry.key", e.key);
            o.num("entry.value", e.value);
        }
    }

    fn describe_misc(&self, o: &mut Out) {
        let a = &self.allgs;
        o.text("allgs.symbol", a.allgs_symbol);
        o.text("allglen.symbol", a.allglen_symbol);
        o.text("allgptr.symbol", a.allgptr_symbol);
        let abi = &self.abi;
        let regs: Vec<&str> = abi.int_arg_regs.iter().map(|r| r.name()).collect();
        o.text("abi.intArgRegs", &regs.join(","));
        o.text("abi.g", abi.g_reg.name());
        let m = &abi.mallocgc;
        o.text("mallocgc.size", m.size.name());
        o.text("mallocgc.typ", m.typ.name());
        o.text("mallocgc.needzero", m.needzero.name());
        let m = &abi.makemap;
        o.text("makemap.t", m.t.name());
        o.text("makemap.hint", m.hint.name());
        o.text("makemap.m", m.m.name());
        let m = &abi.map_access;
        o.text("mapaccess.t", m.t.name());
        o.text("mapaccess.m", m.m.name());
        o.text("mapaccess.key", m.key.name());
        let n = &abi.newproc1;
        o.text("newproc1.fn", n.fn_.name());
        o.text("newproc1.callergp", n.callergp.name());
        o.text("newproc1.callerpc", n.callerpc.name());
        o.text("newproc1.parked", n.parked.map_or("-", |r| r.name()));
        o.text(
            "newproc1.waitreason",
            n.waitreason.map_or("-", |r| r.name()),
        );
        for (go_name, v) in self.wait_reasons.by_go_name() {
            o.opt(&format!("runtime.{go_name}"), v);
        }
        o.num("abi.Type.PtrBytes", self.type_ptrbytes);
    }

    fn describe_alloc_stats(&self, o: &mut Out) {
        let a = &self.alloc_stats;
        let c = &a.mcache;
        o.num("mcache.tinyAllocs", c.tiny_allocs);
        o.num("mcache.alloc", c.alloc);
        o.num("numSpanClasses", c.num_span_classes);
        o.num("tinySpanClass", c.tiny_span_class);
        let s = &a.mspan;
        o.num("mspan.nelems", s.nelems);
        o.num("mspan.nelems.size", s.nelems_size);
        o.num("mspan.allocCount", s.alloc_count);
        o.num("mspan.allocCountBeforeCache", s.alloc_count_before_cache);
        o.num("mspan.elemsize", s.elemsize);
        o.num("mspan.spanclass", s.spanclass);
        let h = &a.heap_stats;
        o.num("mstats.heapStats", h.memstats_heap_stats);
        o.num("consistentHeapStats.stats", h.stats);
        o.num("consistentHeapStats.generations", h.generations);
        o.num("consistentHeapStats.gen", h.gen);
        o.num("heapStatsDelta.size", h.delta_size);
        o.num("heapStatsDelta.tinyAllocCount", h.tiny_alloc_count);
        o.num("heapStatsDelta.largeAlloc", h.large_alloc);
        o.num("heapStatsDelta.largeAllocCount", h.large_alloc_count);
        o.num("heapStatsDelta.smallAllocCount", h.small_alloc_count);
        o.num("heapStatsDelta.largeFree", h.large_free);
        o.num("heapStatsDelta.largeFreeCount", h.large_free_count);
        o.num("heapStatsDelta.smallFreeCount", h.small_free_count);
        o.num("_NumSizeClasses", h.num_size_classes);
        let y = &a.symbols;
        o.text("memstats.symbol", y.memstats);
        o.text("emptymspan.symbol", y.empty_mspan);
        o.text("refill.symbol", y.refill);
        o.text("allocLarge.symbol", y.alloc_large);
        o.text("releaseAll.symbol", y.release_all);
        o.text("heapStats.acquire.symbol", y.heap_stats_acquire);
        o.text("heapStats.release.symbol", y.heap_stats_release);
        o.text("refill.c", a.refill.c.name());
        o.text("refill.spc", a.refill.spc.name());
        o.text("allocLarge.c", a.alloc_large.c.name());
        o.text("allocLarge.size", a.alloc_large.size.name());
        o.text("allocLarge.noscan", a.alloc_large.noscan.name());
    }
}
