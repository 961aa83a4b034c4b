//! Thread-owned counter blocks (feature `thread-owned`).
//!
//! In this mode each thread claims a block of counters (a [`Shard`]) the first time it calls the
//! allocator, and from then on is its only writer: it updates the block with plain loads and
//! stores, no locked instruction. Readers still read every word atomically, so snapshots work as
//! in the shared mode. Exactness holds because a block has one writer for ever.
//!
//! The blocks form one process-wide pool of [`BLOCKS`] (zeroed static memory, untouched until
//! claimed); a block belongs to the instance it was claimed for (its `owner` id), and readers of
//! an instance read the blocks that belong to it. A thread finds its block through a
//! const-initialised thread-local pointer that never allocates and never registers a
//! destructor; before the thread claims a block it points at a block that belongs to no
//! instance. The fast path is one thread-local load and one compare of the block's owner with
//! the instance's id. Without a destructor a block is not released when its thread ends (its
//! counts stay in the totals either way); once every block is claimed, further threads record
//! into the shared shards, exactly, at the shared mode's cost plus an out-of-line check. A thread
//! records thread-owned for one instance only (normally the global allocator); its calls to
//! other instances use the shared shards.

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

use core::cell::Cell;
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::shard::Shard;

/// Blocks in the process: the number of threads that get one.
pub(crate) const BLOCKS: usize = 128;

/// The pool.
static POOL: [Shard; BLOCKS] = [const { Shard::new() }; BLOCKS];
/// The block of threads that have none: it belongs to no instance (its owner is [`NOBODY`]), and
/// is never written.
static UNCLAIMED: Shard = Shard::owned_by(NOBODY);
/// An owner id that no instance has. (Instance ids start at 1; 0 is "none given yet".)
const NOBODY: u64 = u64::MAX;
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

std::thread_local! {
    /// The block this thread owns, or [`UNCLAIMED`].
    static BLOCK: Cell<*const Shard> = const { Cell::new(&raw const UNCLAIMED) };
    /// The id of the instance for which this thread found every block taken.
    static REFUSED: Cell<u64> = const { Cell::new(0) };
}

/// The thread-owned mode of one instance.
pub(crate) struct Owned {
    /// Whether this instance hands out blocks at all.
    enabled: bool,
    /// A process-unique id, given on first use (so that a moved or re-created instance is never
    /// confused with another one at the same address); 0 until then, and in shared mode.
    id: AtomicU64,
}

impl Owned {
    pub(crate) const fn new(enabled: bool) -> Self {
        Self {
            enabled,
            id: AtomicU64::new(0),
        }
    }

    /// The blocks that belong to this instance.
    pub(crate) fn in_use<'a>(&self) -> impl Iterator<Item = &'a Shard> + use<'a> {
        let id = self.id.load(Relaxed);
        POOL.iter()
            .filter(move |block| id != 0 && block.owner.load(Relaxed) == id)
    }

    /// The calling thread's block: its own, or [`UNCLAIMED`].
    #[inline(always)]
    pub(crate) fn thread_block() -> &'static Shard {
        let block = BLOCK.try_with(Cell::get).unwrap_or(&raw const UNCLAIMED);
        // SAFETY: `BLOCK` only ever holds `&UNCLAIMED` or a block of `POOL`: statics.
        unsafe { &*block }
    }

    /// Whether `block` belongs to this instance.
    #[inline(always)]
    pub(crate) fn owns(&self, block: &Shard) -> bool {
        block.owner.load(Relaxed) == self.id.load(Relaxed)
    }

    /// Whether this instance is in thread-owned mode.
    #[inline(always)]
    pub(crate) const fn enabled(&self) -> bool {
        self.enabled
    }

    /// The calling thread's own block, claiming one if it has none; `None` when every block is
    /// taken, or when the thread owns a block of another instance.
    #[cold]
    #[inline(never)]
    pub(crate) fn claim(&self) -> Option<&'static Shard> {
        let mut mine = self.id.load(Relaxed);
        if mine == 0 {
            let fresh = NEXT_ID.fetch_add(1, Relaxed);
            mine = match self.id.compare_exchange(0, fresh, Relaxed, Relaxed) {
                Ok(_) => fresh,
                Err(existing) => existing,
            };
        }
        let held = BLOCK.try_with(Cell::get).ok()?;
        if !ptr::eq(held, &raw const UNCLAIMED) || REFUSED.try_with(Cell::get).ok()? == mine {
            // A block of another instance, or none was left: the shared shards.
            return POOL
                .iter()
                .find(|b| ptr::eq(*b, held) && b.owner.load(Relaxed) == mine);
        }
        let block = POOL.iter().find(|b| {
            b.owner.load(Relaxed) == 0
                && b.owner.compare_exchange(0, mine, Relaxed, Relaxed).is_ok()
        });
        // If the slots are gone (thread teardown), the call counts in the shared shards.
        match block {
            Some(b) => BLOCK.try_with(|c| c.set(b)).ok()?,
            None => REFUSED.try_with(|c| c.set(mine)).ok()?,
        }
        block
    }
}
