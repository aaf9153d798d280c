//! `runtime.waitReason` values (`runtime/runtime2.go`: the `waitReason` iota
//! block and `waitReasonStrings`). `g.waitreason` holds one of them while a
//! goroutine is `_Gwaiting`.
//!
//! The numbering is not stable: 1.22 appended reasons, 1.24 inserted
//! `SyncWaitGroupWait` at 24, 1.25 inserted `UpdateGOMAXPROCSIdle` at 18 and
//! 1.26 regrouped the channel reasons (chan receive 14 → 19).

use serde::Serialize;

/// Numeric wait reasons of one Go version.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WaitReasons {
    /// `waitReasonStrings` indexed by value (what `runtime.Stack` prints).
    pub names: &'static [&'static str],
    pub io_wait: u8,
    pub chan_receive: u8,
    pub chan_send: u8,
    pub chan_receive_nil_chan: u8,
    pub chan_send_nil_chan: u8,
    pub select: u8,
    pub select_no_cases: u8,
    pub sleep: u8,
    pub semacquire: u8,
    pub sync_cond_wait: u8,
    pub sync_mutex_lock: u8,
    pub sync_rwmutex_rlock: u8,
    pub sync_rwmutex_lock: u8,
    /// 1.24+; before, `WaitGroup.Wait` parked with `semacquire`.
    pub sync_wait_group_wait: Option<u8>,
    /// 1.24+: channel operations inside a `testing/synctest` bubble ("durable").
    pub synctest_chan_receive: Option<u8>,
    pub synctest_chan_send: Option<u8>,
    pub synctest_select: Option<u8>,
    pub garbage_collection: u8,
    pub gc_assist_marking: u8,
    pub gc_assist_wait: u8,
    pub gc_sweep_wait: u8,
    pub gc_worker_idle: u8,
    pub gc_worker_active: u8,
    pub finalizer_wait: u8,
    pub preempted: u8,
}

/// What `waitReason.String` returns for an out-of-range value.
pub const UNKNOWN_WAIT_REASON: &str = "unknown wait reason";

impl WaitReasons {
    /// The runtime's name of wait reason `v` (as in goroutine dumps).
    pub fn name(&self, v: u8) -> &'static str {
        self.names
            .get(usize::from(v))
            .copied()
            .unwrap_or(UNKNOWN_WAIT_REASON)
    }

    /// Whether `v` means blocked in a channel operation or `select`.
    pub fn is_channel(&self, v: u8) -> bool {
        [
            self.chan_receive,
            self.chan_send,
            self.chan_receive_nil_chan,
            self.chan_send_nil_chan,
            self.select,
            self.select_no_cases,
        ]
        .contains(&v)
            || [
                self.synctest_chan_receive,
                self.synctest_chan_send,
                self.synctest_select,
            ]
            .contains(&Some(v))
    }

    /// Each named field with the Go constant it mirrors; `None` when the
    /// constant does not exist in this version.
    pub fn by_go_name(&self) -> [(&'static str, Option<u8>); 26] {
        [
            ("waitReasonIOWait", Some(self.io_wait)),
            ("waitReasonChanReceive", Some(self.chan_receive)),
            ("waitReasonChanSend", Some(self.chan_send)),
            (
                "waitReasonChanReceiveNilChan",
                Some(self.chan_receive_nil_chan),
            ),
            ("waitReasonChanSendNilChan", Some(self.chan_send_nil_chan)),
            ("waitReasonSelect", Some(self.select)),
            ("waitReasonSelectNoCases", Some(self.select_no_cases)),
            ("waitReasonSleep", Some(self.sleep)),
            ("waitReasonSemacquire", Some(self.semacquire)),
            ("waitReasonSyncCondWait", Some(self.sync_cond_wait)),
            ("waitReasonSyncMutexLock", Some(self.sync_mutex_lock)),
            ("waitReasonSyncRWMutexRLock", Some(self.sync_rwmutex_rlock)),
            ("waitReasonSyncRWMutexLock", Some(self.sync_rwmutex_lock)),
            ("waitReasonSyncWaitGroupWait", self.sync_wait_group_wait),
            ("waitReasonSynctestChanReceive", self.synctest_chan_receive),
            ("waitReasonSynctestChanSend", self.synctest_chan_send),
            ("waitReasonSynctestSelect", self.synctest_select),
            ("waitReasonGarbageCollection", Some(self.garbage_collection)),
            ("waitReasonGCAssistMarking", Some(self.gc_assist_marking)),
            ("waitReasonGCAssistWait", Some(self.gc_assist_wait)),
            ("waitReasonGCSweepWait", Some(self.gc_sweep_wait)),
            ("waitReasonGCWorkerIdle", Some(self.gc_worker_idle)),
            ("waitReasonGCWorkerActive", Some(self.gc_worker_active)),
            ("waitReasonFinalizerWait", Some(self.finalizer_wait)),
            ("waitReasonPreempted", Some(self.preempted)),
            ("waitReasonZero", Some(0)),
        ]
    }
}
