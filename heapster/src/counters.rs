//! The counting engine: per-instance, sharded, packed, relaxed atomics.
//!
//! # Layout
//!
//! A [`Counters`] holds [`SHARDS`] cache-line-aligned shards. A call picks its shard by hashing
//! the address of its own stack frame, so each thread (each stack) keeps to one shard and threads
//! rarely share one, without any thread-local storage. Sharing a shard costs speed, never
//! exactness: every update is an atomic read-modify-write.
//!
//! Each shard holds, for each of five *tables* (allocations, zeroed allocations, deallocations,
//! realloc growth, realloc shrinkage), one word per size bucket `0..PACKED` that packs a count and a
//! byte sum: `count << BYTES_BITS | bytes`. Recording a call is a single `fetch_add` of
//! `1 << BYTES_BITS | size`. Before either field can overflow, the thread whose `fetch_add` first
//! pushed the word past a threshold moves the word's contents into the instance-wide [`Wide`]
//! counters (a *drain*). Sizes above `2^PACKED` go to the wide counters directly.
//!
//! # Drains
//!
//! The threshold predicate ("count >= 2^23 or bytes >= 2^36") is monotone under additions, and only
//! a drain subtracts. So exactly one `fetch_add` sees the word cross from below to above the
//! threshold, and that thread alone drains it: it subtracts exactly the value it saw, which is at
//! most what the word holds, and repeats while the remainder is still above the threshold. The
//! fields have room for `2^26 - 2^23` further counts and `192 GiB` further bytes while a drain is
//! pending, so a drain would have to be suspended for tens of millions of calls on its own shard
//! and bucket before anything could be lost.
//!
//! A drain moves an amount between two places, so a reader could see it in neither. Every drain
//! therefore runs inside a [`Gate`] (a pair of start/finish counters, seqlock style) and readers
//! retry when a drain overlapped their read; drains are rare (one per 2^23 calls of one size class
//! on one shard), so a retry almost never happens. A drain leaves the word before it arrives in the
//! wide counters and readers read the wide counters first, so even a read that a drain overlapped
//! can only miss the amount, never count it twice.
//!
//! # Counters never go backwards
//!
//! Every value a snapshot reports is raised to at least what any earlier snapshot of the instance
//! reported (a `fetch_max` per value on the read path). Reads never overstate a counter, so this
//! keeps exactness once threads are quiet, and guarantees exporters a monotonic series even in the
//! rare read that a drain overlapped, or when a moved `realloc` is seen half-recorded.
//!
//! # Live bytes and the peak
//!
//! Live bytes are not kept in a shared counter (that would be a contended cache line). Each shard
//! keeps a cheap unsynchronised hint of its net change since it last published; when the hint
//! passes ±[`PUBLISH_BYTES`] the thread recomputes the shard's net bytes from its words and, with a
//! compare-and-swap against the value it read first, replaces the shard's published value and adds
//! the change to an instance-wide estimate, raising the peak marks. Published values only ever move
//! to a newer reading. Snapshots re-publish every shard the same way. The estimate differs from the
//! true live bytes by the changes not yet published: less than `PUBLISH_BYTES` per shard in use,
//! except that hint updates can be lost when several threads share a shard at the same instant,
//! which can delay a publication until the next snapshot.
//!
//! # Reading order
//!
//! Writers record with release read-modify-writes; readers load with acquire. Readers take every
//! table that adds to live bytes (allocations, growth) first, then, after a fence, every table that
//! subtracts (deallocations, shrinkage). A reader that sees a call also sees every call that
//! happened before it, so live bytes computed from a consistent read are never above a value they
//! truly had: a peak taken from a snapshot is never overstated.

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use core::sync::atomic::{AtomicI64, AtomicU64, fence};

#[cfg(feature = "thread-owned")]
mod owned;

use crate::bucket::{BUCKETS, bucket_index};
use crate::histogram::Histogram;
use crate::stats::Stats;

/// Number of shards per instance.
pub(crate) const SHARDS: usize = 64;
/// Shared shards plus thread-owned blocks: the most shards a reader visits.
#[cfg(feature = "thread-owned")]
const ALL_SHARDS: usize = SHARDS + owned::BLOCKS;
#[cfg(not(feature = "thread-owned"))]
const ALL_SHARDS: usize = SHARDS;
/// `hash >> SHARD_SHIFT` is a shard index.
const SHARD_SHIFT: u32 = usize::BITS - SHARDS.trailing_zeros();
/// Buckets `0..PACKED` (sizes up to 2 GiB) are counted in packed per-shard words.
pub(crate) const PACKED: usize = 32;
/// The largest size a packed word takes in one call (the top of bucket `PACKED - 1`).
const PACKED_MAX: usize = 1 << (PACKED - 1);
/// Width of the byte field of a packed word.
const BYTES_BITS: u32 = 38;
const BYTES_MASK: u64 = (1 << BYTES_BITS) - 1;
/// One count in a packed word.
const ONE: u64 = 1 << BYTES_BITS;
/// A packed word is drained once its count reaches `2^DRAIN_COUNT_BIT` or its bytes reach `2^36`.
/// (Unit tests drain far more often, to exercise the drain paths.)
const DRAIN_COUNT_BIT: u32 = if cfg!(test) { 8 } else { 23 };
const TRIGGER: u64 = (u64::MAX << (BYTES_BITS + DRAIN_COUNT_BIT)) | (BYTES_MASK & (u64::MAX << 36));
/// Attempts of a snapshot to read without a drain overlapping; of a publication (on the
/// allocation path, which must not wait), just one.
const READ_ATTEMPTS: usize = 64;
const PUBLISH_ATTEMPTS: usize = 1;
/// A shard publishes its net change once the change passes this many bytes either way.
pub(crate) const PUBLISH_BYTES: u64 = 256 * 1024;

/// The tables of size-bucketed counters.
pub(crate) mod table {
    pub(crate) const ALLOC: usize = 0;
    pub(crate) const ZEROED: usize = 1;
    pub(crate) const GROW: usize = 2;
    pub(crate) const DEALLOC: usize = 3;
    pub(crate) const SHRINK: usize = 4;
    /// Reallocations that moved the block, by direction (`moved::GROW`, ...) instead of size:
    /// the count of moves and the bytes copied, `min(old, new)`. Not part of live bytes.
    pub(crate) const MOVED: usize = 5;
    pub(crate) const COUNT: usize = 6;
    /// Tables that add to live bytes.
    pub(crate) const ADDING: [usize; 3] = [ALLOC, ZEROED, GROW];
    /// Tables that subtract from live bytes.
    pub(crate) const SUBTRACTING: [usize; 2] = [DEALLOC, SHRINK];
}

/// The "buckets" of `table::MOVED`: the direction of the size change.
pub(crate) mod moved {
    pub(crate) const GROW: usize = 0;
    pub(crate) const SHRINK: usize = 1;
    pub(crate) const SAME: usize = 2;
}

/// Plain per-shard counters, indices into `Shard::misc`.
pub(crate) mod misc {
    pub(crate) const UNCHANGED: usize = 0;
    pub(crate) const ALLOC_FAILURES: usize = 1;
    pub(crate) const REALLOC_FAILURES: usize = 2;
    pub(crate) const COUNT: usize = 3;
}

#[repr(C, align(128))]
struct Shard {
    /// Net change of live bytes since this shard last published. Updated with a plain load and
    /// store (no locked instruction): an update can be lost when two threads share the shard at
    /// the same instant. It only decides *when* to publish; what is published is exact.
    unpublished: AtomicI64,
    /// This shard's net bytes as of its last publication.
    published: AtomicI64,
    /// Bytes that left this shard's adding words (drains, sizes above the packed range).
    overflow_added: AtomicU64,
    /// Bytes that left this shard's subtracting words.
    overflow_subtracted: AtomicU64,
    misc: [AtomicU64; misc::COUNT],
    words: [[AtomicU64; PACKED]; table::COUNT],
}

impl Shard {
    const fn new() -> Self {
        Self {
            unpublished: AtomicI64::new(0),
            published: AtomicI64::new(0),
            overflow_added: AtomicU64::new(0),
            overflow_subtracted: AtomicU64::new(0),
            misc: [const { AtomicU64::new(0) }; misc::COUNT],
            words: [const { [const { AtomicU64::new(0) }; PACKED] }; table::COUNT],
        }
    }

    /// Where bytes leaving table `t`'s words are kept for this shard's net bytes; none for
    /// tables that are not part of live bytes.
    fn overflow(&self, t: usize) -> Option<&AtomicU64> {
        if table::ADDING.contains(&t) {
            Some(&self.overflow_added)
        } else if table::SUBTRACTING.contains(&t) {
            Some(&self.overflow_subtracted)
        } else {
            None
        }
    }

    /// This shard's bytes from the given tables: overflow first, then the words.
    fn bytes(&self, overflow: &AtomicU64, tables: &[usize]) -> u64 {
        let mut sum = overflow.load(Acquire);
        for &t in tables {
            for w in self.words.get(t).into_iter().flatten() {
                sum = sum.wrapping_add(w.load(Acquire) & BYTES_MASK);
            }
        }
        sum
    }

    /// This shard's net bytes: adding tables, a fence, subtracting tables.
    fn net_bytes(&self) -> i64 {
        let added = self.bytes(&self.overflow_added, &table::ADDING);
        fence(SeqCst);
        let subtracted = self.bytes(&self.overflow_subtracted, &table::SUBTRACTING);
        added.wrapping_sub(subtracted).cast_signed()
    }
}

/// Instance-wide count and byte totals per table and bucket: where drains land, and where
/// sizes above the packed range are counted directly.
struct Wide {
    counts: [[AtomicU64; BUCKETS]; table::COUNT],
    bytes: [[AtomicU64; BUCKETS]; table::COUNT],
}

/// Marks kept by the peak tracker.
pub(crate) mod mark {
    /// Since the instance was created; never reset.
    pub(crate) const LIFETIME: usize = 0;
    /// Since the last `take_interval_peak`.
    pub(crate) const INTERVAL: usize = 1;
    /// Since the last `reset_peak`.
    pub(crate) const USER: usize = 2;
    pub(crate) const COUNT: usize = 3;
}

#[repr(C, align(128))]
struct Peak {
    /// Sum of every shard's `published`: live bytes within `PUBLISH_BYTES` per shard.
    estimate: AtomicI64,
    marks: [AtomicU64; mark::COUNT],
}

impl Peak {
    fn raise(&self, live: u64) {
        for m in &self.marks {
            if live > m.load(Relaxed) {
                m.fetch_max(live, Relaxed);
            }
        }
    }

    fn estimate(&self) -> u64 {
        u64::try_from(self.estimate.load(Relaxed)).unwrap_or(0)
    }
}

/// Drains in progress, seqlock style: a read that saw `started == finished` before it and the same
/// `started` after it overlapped no drain.
#[repr(C, align(128))]
struct Gate {
    started: AtomicU64,
    finished: AtomicU64,
}

impl Gate {
    /// Runs `read` until no drain overlapped it, at most `attempts` times; returns the last result
    /// and whether it was consistent.
    fn read<T>(&self, attempts: usize, mut read: impl FnMut() -> T) -> (T, bool) {
        let mut attempt = 1;
        loop {
            let started = self.started.load(Acquire);
            let idle = self.finished.load(Acquire) == started;
            let value = read();
            fence(Acquire);
            let consistent = idle && self.started.load(Relaxed) == started;
            if consistent || attempt >= attempts {
                return (value, consistent);
            }
            attempt = attempt.saturating_add(1);
            core::hint::spin_loop();
        }
    }
}

/// The highest value each raw total has been reported with, so that reports never go down.
struct Guard {
    counts: [[AtomicU64; BUCKETS]; table::COUNT],
    bytes: [[AtomicU64; BUCKETS]; table::COUNT],
    misc: [AtomicU64; misc::COUNT],
    /// `realloc_grew_in_place` and `realloc_shrank_in_place`, which are differences.
    in_place: [AtomicU64; 2],
}

/// Raises `value` to the highest value `cell` has held, and `cell` to `value`.
fn hold(cell: &AtomicU64, value: &mut u64) {
    *value = (*value).max(cell.fetch_max(*value, Relaxed));
}

/// All counters of one [`Heapster`](crate::Heapster).
pub(crate) struct Counters {
    shards: [Shard; SHARDS],
    #[cfg(feature = "thread-owned")]
    owned: owned::Owned,
    wide: Wide,
    gate: Gate,
    peak: Peak,
    guard: Guard,
}

/// What one read of every shard found.
struct Reading {
    totals: Totals,
    /// Each shard's `published` value before the read, and its net bytes in the read.
    published: [i64; ALL_SHARDS],
    net: [i64; ALL_SHARDS],
}

/// Raw totals read from the counters, before they are turned into [`Stats`].
struct Totals {
    counts: [[u64; BUCKETS]; table::COUNT],
    bytes: [[u64; BUCKETS]; table::COUNT],
    misc: [u64; misc::COUNT],
}

impl Totals {
    fn histogram(&self, tables: &[usize]) -> Histogram {
        let mut counts = [0u64; BUCKETS];
        let mut sum = 0u64;
        for &t in tables {
            for (c, n) in counts.iter_mut().zip(self.counts[t]) {
                *c = c.wrapping_add(n);
            }
            sum = self.bytes[t].iter().fold(sum, |a, &b| a.wrapping_add(b));
        }
        Histogram::from_parts(counts, sum)
    }

    fn stats(&self) -> Stats {
        let sizes = self.histogram(&[table::ALLOC, table::ZEROED]);
        let zeroed = self.histogram(&[table::ZEROED]);
        let freed = self.histogram(&[table::DEALLOC]);
        let grow = self.histogram(&[table::GROW]);
        let shrink = self.histogram(&[table::SHRINK]);
        let m = &self.misc;
        let mut s = Stats::new();
        s.allocations = sizes.count();
        s.allocated_bytes = sizes.sum();
        s.zeroed_allocations = zeroed.count();
        s.zeroed_bytes = zeroed.sum();
        s.deallocations = freed.count();
        s.deallocated_bytes = freed.sum();
        let moves = &self.counts[table::MOVED];
        s.realloc_grew_in_place = grow.count().saturating_sub(moves[moved::GROW]);
        s.realloc_shrank_in_place = shrink.count().saturating_sub(moves[moved::SHRINK]);
        s.realloc_moved = moves[moved::GROW]
            .wrapping_add(moves[moved::SHRINK])
            .wrapping_add(moves[moved::SAME]);
        s.realloc_unchanged = m[misc::UNCHANGED];
        s.realloc_grown_bytes = grow.sum();
        s.realloc_shrunk_bytes = shrink.sum();
        s.realloc_moved_bytes = self.bytes[table::MOVED]
            .iter()
            .fold(0u64, |a, &b| a.wrapping_add(b));
        s.alloc_failures = m[misc::ALLOC_FAILURES];
        s.realloc_failures = m[misc::REALLOC_FAILURES];
        s.allocation_sizes = sizes;
        s.realloc_grow_sizes = grow;
        s.realloc_shrink_sizes = shrink;
        s
    }
}

/// Where a call is recorded, and how.
#[derive(Clone, Copy)]
struct Pick<'a> {
    shard: &'a Shard,
    /// The calling thread owns the shard: it is its only writer.
    owned: bool,
}

/// Adds `delta` to `word`; returns the previous value. A shared word needs a locked
/// read-modify-write; a word only this thread ever writes is updated with a plain load and store.
#[inline(always)]
fn bump(word: &AtomicU64, delta: u64, owned: bool) -> u64 {
    if owned {
        let old = word.load(Relaxed);
        word.store(old.wrapping_add(delta), Release);
        old
    } else {
        word.fetch_add(delta, Release)
    }
}

#[inline(always)]
fn size_u64(size: usize) -> u64 {
    // `usize` is at most 64 bits on every target Rust supports.
    size as u64
}

#[inline(always)]
fn size_i64(size: usize) -> i64 {
    // Sizes come from `Layout`s and are at most `isize::MAX`, which fits in an `i64`.
    size as i64
}

impl Counters {
    /// Counters in shared mode, or in thread-owned mode (feature `thread-owned`).
    #[cfg_attr(not(feature = "thread-owned"), allow(unused_variables))]
    pub(crate) const fn new(thread_owned: bool) -> Self {
        Self {
            shards: [const { Shard::new() }; SHARDS],
            #[cfg(feature = "thread-owned")]
            owned: owned::Owned::new(thread_owned),
            wide: Wide {
                counts: [const { [const { AtomicU64::new(0) }; BUCKETS] }; table::COUNT],
                bytes: [const { [const { AtomicU64::new(0) }; BUCKETS] }; table::COUNT],
            },
            gate: Gate {
                started: AtomicU64::new(0),
                finished: AtomicU64::new(0),
            },
            peak: Peak {
                estimate: AtomicI64::new(0),
                marks: [const { AtomicU64::new(0) }; mark::COUNT],
            },
            guard: Guard {
                counts: [const { [const { AtomicU64::new(0) }; BUCKETS] }; table::COUNT],
                bytes: [const { [const { AtomicU64::new(0) }; BUCKETS] }; table::COUNT],
                misc: [const { AtomicU64::new(0) }; misc::COUNT],
                in_place: [const { AtomicU64::new(0) }; 2],
            },
        }
    }

    /// The calling thread's shard, picked by hashing the address of its stack frame.
    #[inline(always)]
    fn shard(&self) -> &Shard {
        let frame = 0u8;
        let addr = core::ptr::addr_of!(frame).addr();
        // Fibonacci hashing of the 64 KiB stack region: neighbouring thread stacks spread out.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "truncation is part of the hash"
        )]
        let hash = (addr >> 16).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
        &self.shards[(hash >> SHARD_SHIFT) & (SHARDS - 1)]
    }

    /// The shard the calling thread records into: its own block in thread-owned mode, else the
    /// shared shard its stack hashes to.
    #[inline(always)]
    fn pick(&self) -> Pick<'_> {
        #[cfg(feature = "thread-owned")]
        if let Some(shard) = self.owned.current() {
            return Pick { shard, owned: true };
        }
        Pick {
            shard: self.shard(),
            owned: false,
        }
    }

    /// Adds one call of `size` bytes to table `t`, in the bucket of `size`.
    #[inline(always)]
    fn add(&self, pick: Pick<'_>, t: usize, size: usize) {
        let k = bucket_index(size);
        // Buckets below `PACKED` hold sizes up to `2^(PACKED - 1)`.
        self.add_at(pick, t, k, size, k < PACKED);
    }

    /// Adds one call of `size` bytes to bucket `k` of table `t`: to the shard's packed word when
    /// `packed` (then `k < PACKED` and `size <= PACKED_MAX`), else to the wide totals.
    #[inline(always)]
    fn add_at(&self, pick: Pick<'_>, t: usize, k: usize, size: usize, packed: bool) {
        if packed {
            let word = &pick.shard.words[t][k];
            // `size <= 2^31` here, so it fits the byte field with room to spare.
            let delta = ONE | size_u64(size);
            let old = bump(word, delta, pick.owned);
            let new = old.wrapping_add(delta);
            if new & TRIGGER != 0 && old & TRIGGER == 0 {
                self.drain(pick.shard, t, k, new);
            }
        } else {
            self.add_wide(pick.shard, t, k, size);
        }
    }

    /// Moves a packed word's contents, `seen` at the time its `fetch_add` crossed the threshold,
    /// into the wide counters.
    #[cold]
    #[inline(never)]
    fn drain(&self, shard: &Shard, t: usize, k: usize, seen: u64) {
        let (Some(word), Some(count), Some(bytes)) = (
            shard.words.get(t).and_then(|w| w.get(k)),
            self.wide.counts.get(t).and_then(|w| w.get(k)),
            self.wide.bytes.get(t).and_then(|w| w.get(k)),
        ) else {
            return; // unreachable: callers pass a table and a packed bucket
        };
        let overflow = Shard::overflow(shard, t);
        self.gate.started.fetch_add(1, Relaxed);
        fence(Release);
        let mut take = seen;
        loop {
            let (n, b) = (take >> BYTES_BITS, take & BYTES_MASK);
            // Leave the word first, then arrive: a reader that overlaps may miss the amount
            // (and retries), never count it twice.
            let rest = word.fetch_sub(take, Release).wrapping_sub(take);
            count.fetch_add(n, Release);
            bytes.fetch_add(b, Release);
            if let Some(overflow) = overflow {
                overflow.fetch_add(b, Release);
            }
            if rest & TRIGGER == 0 {
                break;
            }
            take = rest;
        }
        self.gate.finished.fetch_add(1, Release);
    }

    /// Counts a call whose size is above the packed range straight into the wide counters.
    #[cold]
    #[inline(never)]
    fn add_wide(&self, shard: &Shard, t: usize, k: usize, size: usize) {
        let (Some(count), Some(bytes)) = (
            self.wide.counts.get(t).and_then(|w| w.get(k)),
            self.wide.bytes.get(t).and_then(|w| w.get(k)),
        ) else {
            return; // unreachable: callers pass a table and a bucket below 64
        };
        count.fetch_add(1, Release);
        bytes.fetch_add(size_u64(size), Release);
        if let Some(overflow) = Shard::overflow(shard, t) {
            overflow.fetch_add(size_u64(size), Release);
        }
    }

    /// Notes a net change of live bytes in `shard`, publishing when it has grown large.
    #[inline(always)]
    fn note(&self, shard: &Shard, change: i64) {
        let pending = shard.unpublished.load(Relaxed).wrapping_add(change);
        if pending.unsigned_abs() >= PUBLISH_BYTES {
            self.publish(shard);
        } else {
            shard.unpublished.store(pending, Relaxed);
        }
    }

    /// Recomputes `shard`'s net bytes and folds the change into the estimate and the marks.
    #[cold]
    #[inline(never)]
    fn publish(&self, shard: &Shard) {
        shard.unpublished.store(0, Relaxed);
        let ((before, net), consistent) = self.gate.read(PUBLISH_ATTEMPTS, || {
            (shard.published.load(Acquire), shard.net_bytes())
        });
        if consistent {
            self.republish(shard, before, net);
        }
    }

    /// Replaces `shard`'s published value, if it is still `before`, by `net` (read after
    /// `before`), and moves the estimate and the marks accordingly.
    fn republish(&self, shard: &Shard, before: i64, net: i64) {
        if net == before
            || shard
                .published
                .compare_exchange(before, net, AcqRel, Relaxed)
                .is_err()
        {
            return; // unchanged, or someone published a newer reading meanwhile
        }
        let change = net.wrapping_sub(before);
        let estimate = self
            .peak
            .estimate
            .fetch_add(change, AcqRel)
            .wrapping_add(change);
        if let Ok(live) = u64::try_from(estimate) {
            self.peak.raise(live);
        }
    }

    #[inline(always)]
    pub(crate) fn allocated(&self, size: usize, zeroed: bool) {
        let pick = self.pick();
        let t = if zeroed { table::ZEROED } else { table::ALLOC };
        self.add(pick, t, size);
        self.note(pick.shard, size_i64(size));
    }

    #[inline(always)]
    pub(crate) fn deallocated(&self, size: usize) {
        let pick = self.pick();
        self.add(pick, table::DEALLOC, size);
        self.note(pick.shard, size_i64(size).wrapping_neg());
    }

    #[inline(always)]
    pub(crate) fn reallocated(&self, old_size: usize, new_size: usize, moved: bool) {
        let pick = self.pick();
        let (direction, change) = match new_size.cmp(&old_size) {
            core::cmp::Ordering::Greater => (
                moved::GROW,
                Some((table::GROW, new_size.wrapping_sub(old_size))),
            ),
            core::cmp::Ordering::Less => (
                moved::SHRINK,
                Some((table::SHRINK, old_size.wrapping_sub(new_size))),
            ),
            core::cmp::Ordering::Equal if moved => (moved::SAME, None),
            core::cmp::Ordering::Equal => {
                bump(&pick.shard.misc[misc::UNCHANGED], 1, pick.owned);
                return;
            }
        };
        // A move (count and bytes copied, one packed word) is recorded before the size change:
        // a reader that sees the change also sees the move, so it never takes a moved realloc
        // for an in-place one.
        if moved {
            let copied = old_size.min(new_size);
            self.add_at(pick, table::MOVED, direction, copied, copied <= PACKED_MAX);
        }
        if let Some((t, size)) = change {
            self.add(pick, t, size);
        }
        self.note(
            pick.shard,
            size_i64(new_size).wrapping_sub(size_i64(old_size)),
        );
    }

    #[cold]
    pub(crate) fn failed(&self, which: usize) {
        let pick = self.pick();
        if let Some(counter) = pick.shard.misc.get(which) {
            bump(counter, 1, pick.owned);
        }
    }

    /// A snapshot of every counter, never below an earlier snapshot's. A consistent read also
    /// re-publishes every shard and raises the peak marks to the live bytes it read.
    pub(crate) fn stats(&self) -> Stats {
        let (reading, consistent) = self.gate.read(READ_ATTEMPTS, || self.read());
        let mut live = None;
        if consistent {
            live = Some(reading.totals.stats().live_bytes());
            for ((shard, &before), &net) in
                self.all_shards().zip(&reading.published).zip(&reading.net)
            {
                self.republish(shard, before, net);
            }
        }
        let mut totals = reading.totals;
        self.hold(&mut totals);
        let mut stats = totals.stats();
        hold(&self.guard.in_place[0], &mut stats.realloc_grew_in_place);
        hold(&self.guard.in_place[1], &mut stats.realloc_shrank_in_place);
        if let Some(live) = live {
            self.peak.raise(live);
        }
        stats.peak_bytes = self.mark(mark::LIFETIME).max(live.unwrap_or(0));
        stats
    }

    /// Raises every raw total to the highest value it was reported with.
    fn hold(&self, totals: &mut Totals) {
        let g = &self.guard;
        for (values, cells) in totals.counts.iter_mut().zip(&g.counts) {
            for (value, cell) in values.iter_mut().zip(cells) {
                hold(cell, value);
            }
        }
        for (values, cells) in totals.bytes.iter_mut().zip(&g.bytes) {
            for (value, cell) in values.iter_mut().zip(cells) {
                hold(cell, value);
            }
        }
        for (value, cell) in totals.misc.iter_mut().zip(&g.misc) {
            hold(cell, value);
        }
    }

    /// Reads every counter: each shard's published value, the adding tables, a fence, the
    /// subtracting tables and the plain counters; wide counters before words.
    fn read(&self) -> Reading {
        let mut reading = Reading {
            totals: Totals {
                counts: [[0; BUCKETS]; table::COUNT],
                bytes: [[0; BUCKETS]; table::COUNT],
                misc: [0; misc::COUNT],
            },
            published: [0; ALL_SHARDS],
            net: [0; ALL_SHARDS],
        };
        let totals = &mut reading.totals;
        for (shard, published) in self.all_shards().zip(&mut reading.published) {
            *published = shard.published.load(Acquire);
        }
        let mut added = [0u64; ALL_SHARDS];
        for t in table::ADDING {
            self.read_wide(t, totals);
        }
        for (shard, added) in self.all_shards().zip(&mut added) {
            *added = shard.overflow_added.load(Acquire);
            for t in table::ADDING {
                *added = added.wrapping_add(Self::read_words(shard, t, totals));
            }
        }
        fence(SeqCst);
        // Moves after the growth and shrinkage they belong to (see `reallocated`).
        for t in table::SUBTRACTING.into_iter().chain([table::MOVED]) {
            self.read_wide(t, totals);
        }
        for ((shard, added), net) in self.all_shards().zip(added).zip(&mut reading.net) {
            let mut subtracted = shard.overflow_subtracted.load(Acquire);
            for t in table::SUBTRACTING {
                subtracted = subtracted.wrapping_add(Self::read_words(shard, t, totals));
            }
            Self::read_words(shard, table::MOVED, totals);
            for (sum, m) in totals.misc.iter_mut().zip(&shard.misc) {
                *sum = sum.wrapping_add(m.load(Acquire));
            }
            *net = added.wrapping_sub(subtracted).cast_signed();
        }
        reading
    }

    /// The shared shards, then the thread-owned blocks in use.
    fn all_shards(&self) -> impl Iterator<Item = &Shard> {
        let owned: &[Shard] = {
            #[cfg(feature = "thread-owned")]
            {
                self.owned.in_use()
            }
            #[cfg(not(feature = "thread-owned"))]
            {
                &[]
            }
        };
        self.shards.iter().chain(owned)
    }

    fn read_wide(&self, t: usize, totals: &mut Totals) {
        for k in 0..BUCKETS {
            totals.counts[t][k] =
                totals.counts[t][k].wrapping_add(self.wide.counts[t][k].load(Acquire));
            totals.bytes[t][k] =
                totals.bytes[t][k].wrapping_add(self.wide.bytes[t][k].load(Acquire));
        }
    }

    /// Adds one shard's words of table `t` to `totals`; returns their bytes.
    fn read_words(shard: &Shard, t: usize, totals: &mut Totals) -> u64 {
        let mut bytes = 0u64;
        for (k, w) in shard.words[t].iter().enumerate() {
            let w = w.load(Acquire);
            totals.counts[t][k] = totals.counts[t][k].wrapping_add(w >> BYTES_BITS);
            totals.bytes[t][k] = totals.bytes[t][k].wrapping_add(w & BYTES_MASK);
            bytes = bytes.wrapping_add(w & BYTES_MASK);
        }
        bytes
    }

    pub(crate) fn mark(&self, m: usize) -> u64 {
        self.peak.marks[m].load(Relaxed)
    }

    /// Restarts mark `m` at the current live-bytes estimate; returns its previous value.
    pub(crate) fn restart_mark(&self, m: usize) -> u64 {
        self.peak.marks[m].swap(self.peak.estimate(), Relaxed)
    }

    pub(crate) fn estimate(&self) -> u64 {
        self.peak.estimate()
    }
}
