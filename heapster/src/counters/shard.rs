//! [`Shard`]: one set of packed words per table, and the choice of a shard by stack address.
//!
//! A call picks its shard from bits 21..27 of its own stack address: the 2 MiB region of the
//! stack it runs on. Thread stacks (2 MiB by default in Rust, plus a guard page) lie side by
//! side, so consecutive threads get consecutive shards, and a thread keeps to its shard at any
//! call depth. No thread-local storage, no multiply: a shift and a mask. Sharing a shard costs
//! speed, never exactness: every update of a shared shard is an atomic read-modify-write.

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

use core::sync::atomic::Ordering::{Acquire, SeqCst};
use core::sync::atomic::{AtomicI64, AtomicU64, fence};

use super::{peak, word};
use crate::bucket::BUCKETS;
use crate::rules::{Misc, Table};

/// Number of shared shards per instance.
pub(crate) const SHARDS: usize = 64;
/// The stack region that picks a shard: `2^REGION_BITS` bytes.
const REGION_BITS: u32 = 21;

/// One shard: 4 KiB, so that the shard of a stack address is a shift and a mask away.
#[repr(C, align(4096))]
pub(crate) struct Shard {
    /// `count << 30 | bytes` per table and size bucket (see `word`); buckets from
    /// `word::PACKED` on are never read.
    pub(crate) words: [[AtomicU64; BUCKETS]; Table::COUNT],
    /// Net change of live bytes since this shard last published, as far as the out-of-line
    /// path has seen it, plus `peak::UNCHANGED` (the hint). Updated with a plain load and store (no locked instruction): an update
    /// can be lost when two threads share the shard at the same instant. It only decides *when*
    /// to publish; what is published is exact.
    pub(crate) unpublished: AtomicI64,
    /// This shard's net bytes as of its last publication.
    pub(crate) published: AtomicI64,
    /// Bytes that left this shard's adding words (drains, sizes above the packed range).
    pub(crate) overflow_added: AtomicU64,
    /// Bytes that left this shard's subtracting words.
    pub(crate) overflow_subtracted: AtomicU64,
    pub(crate) misc: [AtomicU64; Misc::COUNT],
    /// In thread-owned mode: the id of the instance the block belongs to (0: none).
    #[cfg(feature = "thread-owned")]
    pub(crate) owner: AtomicU64,
}

const _: () = assert!(size_of::<Shard>() == 1 << 12);

impl Shard {
    pub(crate) const fn new() -> Self {
        Self::owned_by(0)
    }

    /// A shard that belongs to instance `owner` (thread-owned mode).
    #[cfg_attr(not(feature = "thread-owned"), allow(unused_variables))]
    pub(crate) const fn owned_by(owner: u64) -> Self {
        Self {
            words: [const { [const { AtomicU64::new(0) }; BUCKETS] }; Table::COUNT],
            unpublished: AtomicI64::new(peak::UNCHANGED),
            published: AtomicI64::new(0),
            overflow_added: AtomicU64::new(0),
            overflow_subtracted: AtomicU64::new(0),
            misc: [const { AtomicU64::new(0) }; Misc::COUNT],
            #[cfg(feature = "thread-owned")]
            owner: AtomicU64::new(owner),
        }
    }

    /// The word of table `t` for a call of `size` bytes.
    #[inline(always)]
    pub(crate) fn word(&self, t: Table, size: usize) -> &AtomicU64 {
        &self.words[t.index()][word::index(size)]
    }

    /// The bucket of `word`, a word of table `t` of this shard.
    pub(crate) fn bucket_of(&self, t: Table, word: &AtomicU64) -> usize {
        let first = self.words[t.index()].as_ptr().addr();
        core::ptr::from_ref(word)
            .addr()
            .wrapping_sub(first)
            .wrapping_shr(3) // 8 bytes a word
    }

    /// Where bytes leaving table `t`'s words are kept for this shard's net bytes; none for
    /// tables that are not part of live bytes.
    pub(crate) fn overflow(&self, t: Table) -> Option<&AtomicU64> {
        match t.live_sign() {
            1 => Some(&self.overflow_added),
            -1 => Some(&self.overflow_subtracted),
            _ => None,
        }
    }

    /// This shard's bytes from the given tables: overflow first, then the packed words.
    fn bytes(&self, overflow: &AtomicU64, tables: &[Table]) -> u64 {
        let mut sum = overflow.load(Acquire);
        for &t in tables {
            for w in &self.words[t.index()][..word::PACKED] {
                sum = sum.wrapping_add(word::bytes(w.load(Acquire)));
            }
        }
        sum
    }

    /// This shard's net bytes: adding tables, a fence, subtracting tables.
    pub(crate) fn net_bytes(&self) -> i64 {
        let added = self.bytes(&self.overflow_added, &Table::ADDING);
        fence(SeqCst);
        let subtracted = self.bytes(&self.overflow_subtracted, &Table::SUBTRACTING);
        added.wrapping_sub(subtracted).cast_signed()
    }
}

/// The index of the shared shard of the calling thread: bits 21..27 of its stack address.
#[inline(always)]
pub(crate) fn of_stack() -> usize {
    (stack_address() >> REGION_BITS) & (SHARDS - 1)
}

/// The stack pointer (an address in the calling function's stack frame elsewhere).
#[inline(always)]
fn stack_address() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let sp: usize;
        // SAFETY: reads a register into another; touches no memory, no stack, no flags.
        unsafe {
            core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
        }
        sp
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let frame = 0u8;
        core::ptr::addr_of!(frame).addr()
    }
}
