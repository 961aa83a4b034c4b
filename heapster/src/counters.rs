//! The counting engine: per-instance, sharded, packed, relaxed atomics.
//!
//! A [`Counters`] applies the accounting rules ([`Call::record`]) to one shard: 64
//! [`shard::Shard`]s picked by stack address (`shard`), or in thread-owned mode a block of the
//! calling thread's own (`owned`). In a shard, each table has one packed word per size bucket
//! (`word`): recording a call is one atomic `fetch_add` (a plain load and store in a
//! thread-owned block), and an `or`, an `add` and a branch on carry on the value it returned.
//! Rarely (once per 8 KiB of bytes or 8192 calls of one word, and for every call of 8 KiB or
//! more) the out-of-line path runs: it drains a word that is near full into the wide 64-bit totals
//! (`wide`, inside the drain gate, `gate`), counts sizes above 1 MiB there directly, and feeds
//! the shard's live-bytes hint, from which the peak marks are kept (`peak`).
//!
//! # Reading
//!
//! Writers record with release read-modify-writes; readers load with acquire. Readers take every
//! table that adds to live bytes first, then, after a fence, every table that subtracts; wide
//! totals before words. A reader that sees a call also sees every call that happened before it,
//! so live bytes computed from a consistent read are never above a value they truly had: a peak
//! taken from a snapshot is never overstated. A read that a drain overlapped is retried, and
//! every value is held at its highest report (`guard`), so counters never go backwards.

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use core::sync::atomic::fence;

mod gate;
mod guard;
#[cfg(feature = "thread-owned")]
mod owned;
mod peak;
mod shard;
mod wide;
mod word;

pub(crate) use self::peak::Mark;
#[cfg(test)]
pub(crate) use self::{peak::PUBLISH_BYTES, word::STEP};

use self::gate::Gate;
use self::guard::Guard;
use self::peak::Peak;
use self::shard::SHARDS;
pub(crate) use self::shard::Shard;
use self::wide::Wide;
use crate::bucket::bucket_index;
use crate::rules::{Call, Direction, Misc, Sink, Table};
use crate::stats::Stats;
use crate::tally::{Tally, size_u64};

/// Shared shards plus thread-owned blocks: the most shards a reader visits.
#[cfg(feature = "thread-owned")]
const ALL_SHARDS: usize = SHARDS + owned::BLOCKS;
#[cfg(not(feature = "thread-owned"))]
const ALL_SHARDS: usize = SHARDS;
/// Attempts of a snapshot to read without a drain overlapping.
const READ_ATTEMPTS: usize = 64;

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

/// Records the calls of one thread into one shard: the [`Sink`] of the allocation path.
struct Recorder<'a> {
    counters: &'a Counters,
    shard: &'a Shard,
    /// The calling thread owns the shard: it is its only writer.
    owned: bool,
    /// Leave the out-of-line work for the caller (in `crossing`) instead of doing it at once.
    defer: bool,
    crossing: Option<Crossing<'a>>,
}

/// What a deferred record left for its caller to do.
pub(crate) enum Pending<'a> {
    /// Out-of-line work: see [`Counters::finish`].
    Crossing(Crossing<'a>),
    /// The whole call, which needs a block first: [`Counters::record`] claims one.
    #[cfg(feature = "thread-owned")]
    Claim,
}

/// A call that takes the out-of-line path: the work it left (see [`Counters::finish`]).
pub(crate) struct Crossing<'a> {
    pub(crate) shard: &'a Shard,
    t: Table,
    /// The word of table `t` the call added to.
    word: &'a AtomicU64,
    /// The sum of the step test ([`word::step`]), from which the steps passed follow.
    pub(crate) sum: u64,
    size: usize,
}

impl<'a> Recorder<'a> {
    /// Adds one call of `size` bytes to `word`, of table `t`.
    #[inline(always)]
    fn add_to(&mut self, word: &'a AtomicU64, t: Table, size: usize) {
        let (sum, crossed) = add_call(word, size, self.owned);
        if crossed {
            if self.defer {
                let shard = self.shard;
                let crossing = Crossing {
                    shard,
                    t,
                    word,
                    sum,
                    size,
                };
                if let Some(earlier) = self.crossing.replace(crossing) {
                    self.counters.finish(earlier);
                }
            } else {
                self.counters.finish(Crossing {
                    shard: self.shard,
                    t,
                    word,
                    sum,
                    size,
                });
            }
        }
    }
}

impl Sink for Recorder<'_> {
    #[inline(always)]
    fn add(&mut self, table: Table, size: usize) {
        let w = self.shard.word(table, size);
        self.add_to(w, table, size);
    }

    #[inline(always)]
    fn moved(&mut self, direction: Direction, copied: usize) {
        let k = direction.index();
        if copied <= word::PACKED_MAX {
            let w = &self.shard.words[Table::Moved.index()][k];
            self.add_to(w, Table::Moved, copied);
        } else {
            let wide = &self.counters.wide;
            wide.add_one(self.shard, Table::Moved, k, size_u64(copied));
        }
    }

    #[inline(always)]
    fn bump(&mut self, misc: Misc) {
        bump(&self.shard.misc[misc.index()], 1, self.owned);
    }
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

/// Adds one call of `size` bytes to `word`; returns the step test of the value it held
/// ([`word::step`]): whether the call takes the out-of-line path.
#[inline(always)]
fn add_call(word: &AtomicU64, size: usize, owned: bool) -> (u64, bool) {
    let old = if owned {
        let old = word.load(Relaxed);
        word.store(old.wrapping_add(word::delta(size)), Release);
        old
    } else {
        word.fetch_add(word::delta(size), Release)
    };
    word::step(old, size)
}

impl Counters {
    /// Counters in shared mode, or in thread-owned mode (feature `thread-owned`).
    #[cfg_attr(not(feature = "thread-owned"), allow(unused_variables))]
    pub(crate) const fn new(thread_owned: bool) -> Self {
        Self {
            shards: [const { Shard::new() }; SHARDS],
            #[cfg(feature = "thread-owned")]
            owned: owned::Owned::new(thread_owned),
            wide: Wide::new(),
            gate: Gate::new(),
            peak: Peak::new(),
            guard: Guard::new(),
        }
    }

    /// Records one call: into the calling thread's own block in thread-owned mode, else into
    /// the shared shard its stack address picks.
    #[inline(always)]
    pub(crate) fn record(&self, call: Call) {
        self.record_into(call, false);
    }

    /// Records one call, but leaves its out-of-line work, if any, to the caller
    /// ([`finish`](Self::finish), or [`record`](Self::record) again for a thread that must claim
    /// a block first), so that the caller can do it after a tail call.
    #[inline(always)]
    pub(crate) fn record_deferred(&self, call: Call) -> Option<Pending<'_>> {
        self.record_into(call, true)
    }

    #[inline(always)]
    fn record_into(&self, call: Call, defer: bool) -> Option<Pending<'_>> {
        #[cfg(feature = "thread-owned")]
        let (shard, owned) = {
            let block = owned::Owned::thread_block();
            if self.owned.owns(block) {
                (block, true)
            } else if !self.owned.enabled() {
                (&self.shards[shard::of_stack()], false)
            } else if defer {
                return Some(Pending::Claim);
            } else if let Some(block) = self.owned.claim() {
                (block, true)
            } else {
                (&self.shards[shard::of_stack()], false)
            }
        };
        #[cfg(not(feature = "thread-owned"))]
        let (shard, owned) = (&self.shards[shard::of_stack()], false);
        let mut recorder = Recorder {
            counters: self,
            shard,
            owned,
            defer,
            crossing: None,
        };
        call.record(&mut recorder);
        recorder.crossing.map(Pending::Crossing)
    }

    /// [`cross`](Self::cross) for a `dealloc` of `size` bytes on `shard`, with step sum `sum`.
    #[inline(always)]
    pub(crate) fn cross_dealloc(&self, shard: &Shard, sum: u64, size: usize) -> Option<i64> {
        // Inline: the caller is out of line already.
        Self::cross::<-1>(shard, shard.word(Table::Dealloc, size), sum)
    }

    /// [`rare`](Self::rare) for a `dealloc` of `size` bytes.
    #[inline(always)]
    pub(crate) fn rare_dealloc(&self, shard: &Shard, pending: i64, size: usize) {
        let word = shard.word(Table::Dealloc, size);
        self.rare(shard, Table::Dealloc, word, pending, size);
    }

    /// The out-of-line path of a call of `size` bytes that made its word pass a multiple of
    /// `word::STEP` bytes: counts a size above the packed range in the wide totals, tells the
    /// shard's live-bytes hint about the steps passed, and drains a word that is near full.
    #[inline(always)]
    pub(crate) fn finish(&self, c: Crossing<'_>) {
        // One out-of-line function per sign of the table in live bytes.
        match c.t.live_sign() {
            1 => self.crossed::<1>(c.shard, c.t, c.word, c.sum, c.size),
            -1 => self.crossed::<-1>(c.shard, c.t, c.word, c.sum, c.size),
            _ => self.crossed::<0>(c.shard, c.t, c.word, c.sum, c.size),
        }
    }

    #[cold]
    #[inline(never)]
    fn crossed<const SIGN: i64>(
        &self,
        shard: &Shard,
        t: Table,
        word: &AtomicU64,
        sum: u64,
        size: usize,
    ) {
        if let Some(pending) = Self::cross::<SIGN>(shard, word, sum) {
            self.rare(shard, t, word, pending, size);
        }
    }

    /// The common part of [`finish`](Self::finish), for a word of a table whose live-bytes sign
    /// is `SIGN`: adds the steps passed to the shard's hint. Returns the hint's new value instead
    /// when there is more to do (see [`rare`](Self::rare)).
    #[inline(always)]
    fn cross<const SIGN: i64>(shard: &Shard, word: &AtomicU64, sum: u64) -> Option<i64> {
        // A leaf: no registers to save. A size above the packed range passes more than
        // `2 PUBLISH_BYTES` of steps, so its hint is always due: it needs no test of its own.
        let pending = shard
            .unpublished
            .load(Relaxed)
            .wrapping_add(word::steps_passed(sum).cast_signed().wrapping_mul(SIGN));
        // The word as it is now: with this call in it, unless a drain took it since.
        if peak::due(pending) || word::full(word.load(Relaxed)) {
            return Some(pending);
        }
        shard.unpublished.store(pending, Relaxed);
        None
    }

    /// The rare part of [`finish`](Self::finish), with the shard's hint `pending`: counts a size
    /// above the packed range in the wide totals; else publishes the shard's net bytes when the
    /// hint is due, and drains `word` (of table `t`) when it is near full.
    #[cold]
    #[inline(never)]
    fn rare(&self, shard: &Shard, t: Table, word: &AtomicU64, pending: i64, size: usize) {
        let k = shard.bucket_of(t, word);
        if k >= word::PACKED {
            // The call went to a word that nobody reads: count it for real.
            return self.add_wide(shard, t, size);
        }
        if peak::due(pending) {
            self.peak.publish(&self.gate, shard);
        } else {
            shard.unpublished.store(pending, Relaxed);
        }
        if word::full(word.load(Relaxed)) {
            self.wide.drain(&self.gate, shard, t, k);
        }
    }

    /// Counts a call of `size` bytes, above the packed range, in the wide totals.
    #[inline(never)]
    fn add_wide(&self, shard: &Shard, t: Table, size: usize) {
        self.wide
            .add_one(shard, t, bucket_index(size), size_u64(size));
        let change = size_u64(size).cast_signed().wrapping_mul(t.live_sign());
        self.peak.note(&self.gate, shard, change);
    }

    /// A snapshot of every counter, never below an earlier snapshot's. A consistent read also
    /// re-publishes every shard and raises the peak marks to the live bytes it read.
    pub(crate) fn stats(&self) -> Stats {
        let (reading, consistent) = self.gate.read(READ_ATTEMPTS, || self.read());
        let mut live = None;
        if consistent {
            live = Some(reading.tally.stats().live_bytes());
            for ((shard, &before), &net) in
                self.all_shards().zip(&reading.published).zip(&reading.net)
            {
                self.peak.republish(shard, before, net);
            }
        }
        let mut tally = reading.tally;
        self.guard.hold_tally(&mut tally);
        let mut stats = tally.stats();
        self.guard.hold_stats(&mut stats);
        if let Some(live) = live {
            self.peak.raise(live);
        }
        stats.peak_bytes = self.peak.mark(Mark::Lifetime).max(live.unwrap_or(0));
        stats
    }

    /// Reads every counter: each shard's published value, the adding tables, a fence, the
    /// subtracting tables, the moves and the plain counters; wide totals before words.
    fn read(&self) -> Reading {
        let mut reading = Reading {
            tally: Tally::new(),
            published: [0; ALL_SHARDS],
            net: [0; ALL_SHARDS],
        };
        let tally = &mut reading.tally;
        for (shard, published) in self.all_shards().zip(&mut reading.published) {
            *published = shard.published.load(Acquire);
        }
        let mut added = [0u64; ALL_SHARDS];
        for t in Table::ADDING {
            self.wide.read(t, tally);
        }
        for (shard, added) in self.all_shards().zip(&mut added) {
            *added = shard.overflow_added.load(Acquire);
            for t in Table::ADDING {
                *added = added.wrapping_add(read_words(shard, t, tally));
            }
        }
        fence(SeqCst);
        // Moves after the growth and shrinkage they belong to (see `Call::record`).
        for t in Table::SUBTRACTING.into_iter().chain([Table::Moved]) {
            self.wide.read(t, tally);
        }
        for ((shard, added), net) in self.all_shards().zip(added).zip(&mut reading.net) {
            let mut subtracted = shard.overflow_subtracted.load(Acquire);
            for t in Table::SUBTRACTING {
                subtracted = subtracted.wrapping_add(read_words(shard, t, tally));
            }
            read_words(shard, Table::Moved, tally);
            for (sum, m) in tally.misc.iter_mut().zip(&shard.misc) {
                *sum = sum.wrapping_add(m.load(Acquire));
            }
            *net = added.wrapping_sub(subtracted).cast_signed();
        }
        reading
    }

    /// The shared shards, then the thread-owned blocks in use.
    fn all_shards(&self) -> impl Iterator<Item = &Shard> {
        let shards = self.shards.iter();
        #[cfg(feature = "thread-owned")]
        let shards = shards.chain(self.owned.in_use());
        shards
    }

    pub(crate) fn mark(&self, m: Mark) -> u64 {
        self.peak.mark(m)
    }

    /// Restarts mark `m` at the current live-bytes estimate; returns its previous value.
    pub(crate) fn restart_mark(&self, m: Mark) -> u64 {
        self.peak.restart(m)
    }

    pub(crate) fn estimate(&self) -> u64 {
        self.peak.estimate()
    }
}

/// What one read of every shard found.
struct Reading {
    tally: Tally,
    /// Each shard's `published` value before the read, and its net bytes in the read.
    published: [i64; ALL_SHARDS],
    net: [i64; ALL_SHARDS],
}

/// Adds one shard's packed words of table `t` to `tally`; returns their bytes.
fn read_words(shard: &Shard, t: Table, tally: &mut Tally) -> u64 {
    let mut bytes = 0u64;
    for (k, w) in shard.words[t.index()][..word::PACKED].iter().enumerate() {
        let w = w.load(Acquire);
        tally.count(t, k, word::count(w), word::bytes(w));
        bytes = bytes.wrapping_add(word::bytes(w));
    }
    bytes
}
