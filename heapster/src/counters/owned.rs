//! Thread-owned counter blocks (feature `thread-owned`).
//!
//! In this mode each thread claims a block of counters (a [`Shard`]) the first time it calls the
//! allocator, and from then on is its only writer: it updates the block with plain relaxed loads
//! and stores, no locked instruction. Readers still read every word atomically, so snapshots
//! work as in the shared mode. Exactness holds because a block has one writer for ever.
//!
//! The block is found through a const-initialised thread-local `(instance id, block)` pair that
//! never allocates and never registers a destructor. Without a destructor a block is not released
//! when its thread ends (its counts stay in the totals either way); once all [`BLOCKS`] are
//! claimed, further threads record into the shared shards, exactly, at the shared mode's cost. A
//! thread records thread-owned for one instance only (normally the global allocator); its calls
//! to other instances use the shared shards.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use super::Shard;

/// Blocks per instance: the number of threads that get one.
pub(crate) const BLOCKS: usize = 128;

/// Instance ids: 0 is "none yet".
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

std::thread_local! {
    /// `(instance id, block index + 1)` of the block this thread owns; index 0: none available.
    static CLAIM: Cell<(u64, usize)> = const { Cell::new((0, 0)) };
}

/// The blocks of one instance.
pub(crate) struct Owned {
    /// Whether this instance hands out blocks at all.
    enabled: bool,
    /// A process-unique id, given on first use (so that a moved or re-created instance is never
    /// confused with another one at the same address).
    id: AtomicU64,
    claimed: [AtomicBool; BLOCKS],
    pub(super) blocks: [Shard; BLOCKS],
}

impl Owned {
    pub(crate) const fn new(enabled: bool) -> Self {
        Self {
            enabled,
            id: AtomicU64::new(0),
            claimed: [const { AtomicBool::new(false) }; BLOCKS],
            blocks: [const { Shard::new() }; BLOCKS],
        }
    }

    /// The blocks readers must include.
    pub(super) fn in_use(&self) -> &[Shard] {
        if self.enabled { &self.blocks } else { &[] }
    }

    /// The calling thread's own block, claiming one on first use; `None` in shared mode, when
    /// every block is taken, or when the thread owns a block of another instance.
    #[inline(always)]
    pub(super) fn current(&self) -> Option<&Shard> {
        if !self.enabled {
            return None;
        }
        let (id, slot) = CLAIM.try_with(Cell::get).unwrap_or((0, 0));
        let mine = self.id.load(Relaxed);
        if mine != 0 {
            if id == mine {
                return slot.checked_sub(1).and_then(|index| self.blocks.get(index));
            }
            if id != 0 {
                return None; // this thread's slot belongs to another instance
            }
        }
        self.claim(id)
    }

    #[cold]
    #[inline(never)]
    fn claim(&self, held: u64) -> Option<&Shard> {
        let mut mine = self.id.load(Relaxed);
        if mine == 0 {
            let fresh = NEXT_ID.fetch_add(1, Relaxed);
            mine = match self.id.compare_exchange(0, fresh, Relaxed, Relaxed) {
                Ok(_) => fresh,
                Err(existing) => existing,
            };
        }
        if held != 0 && held != mine {
            return None; // this thread's slot belongs to another instance
        }
        let index = self
            .claimed
            .iter()
            .position(|c| !c.load(Relaxed) && !c.swap(true, Relaxed));
        let slot = index.map_or(0, |i| i.wrapping_add(1));
        // If the slot is gone (thread teardown), the next call simply claims again... which
        // cannot happen for a const thread-local without destructor; be safe regardless.
        CLAIM.try_with(|c| c.set((mine, slot))).ok()?;
        index.and_then(|i| self.blocks.get(i))
    }
}
