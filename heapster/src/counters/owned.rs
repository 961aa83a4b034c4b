//! Thread-owned counter blocks (feature `thread-owned`).
//!
//! In this mode each thread claims a block of counters (a [`Shard`]) the first time it calls the
//! allocator, and from then on is its only writer: it updates the block with plain loads and
//! stores, no locked instruction. Readers still read every word atomically, so snapshots work as
//! in the shared mode. Exactness holds because a block has one writer for ever.
//!
//! The blocks form one process-wide pool of [`BLOCKS`] (zeroed static memory, untouched until
//! claimed); a block belongs to the instance it was claimed for, and readers of an instance read
//! the blocks that belong to it. A thread finds its block through a const-initialised
//! thread-local `(instance id, block)` pair that never allocates and never registers a
//! destructor. Without a destructor a block is not released when its thread ends (its counts
//! stay in the totals either way); once every block is claimed, further threads record into the
//! shared shards, exactly, at the shared mode's cost plus an out-of-line check. A thread records
//! thread-owned for one instance only (normally the global allocator); its calls to other
//! instances use the shared shards.

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

use core::cell::Cell;
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::shard::Shard;

/// Blocks in the process: the number of threads that get one.
pub(crate) const BLOCKS: usize = 128;

/// The pool, and the id of the instance each block belongs to (0: free).
static POOL: [Shard; BLOCKS] = [const { Shard::new() }; BLOCKS];
static OWNER: [AtomicU64; BLOCKS] = [const { AtomicU64::new(0) }; BLOCKS];
/// Instance ids: 0 is "none given yet"; ids stay far below [`NO_BLOCK`].
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// A thread-local id that matches no instance: the thread has no block yet.
const NONE: u64 = u64::MAX;
/// Set in a thread-local id: the thread found every block taken.
const NO_BLOCK: u64 = 1 << 63;

std::thread_local! {
    /// `(instance id, block)` of the block this thread owns.
    static CLAIM: Cell<(u64, *const Shard)> = const { Cell::new((NONE, ptr::null())) };
}

/// The thread-owned mode of one instance.
pub(crate) struct Owned {
    /// Whether this instance hands out blocks at all.
    enabled: bool,
    /// A process-unique id, given on first use (so that a moved or re-created instance is never
    /// confused with another one at the same address).
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
        let id = if self.enabled {
            self.id.load(Relaxed)
        } else {
            0
        };
        POOL.iter()
            .zip(&OWNER)
            .filter(move |(_, owner)| id != 0 && owner.load(Relaxed) == id)
            .map(|(block, _)| block)
    }

    /// The calling thread's own block, claiming one on first use; `None` in shared mode, when
    /// every block is taken, or when the thread owns a block of another instance.
    #[inline(always)]
    pub(crate) fn current(&self) -> Option<&'static Shard> {
        if !self.enabled {
            return None;
        }
        let (id, block) = CLAIM.try_with(Cell::get).unwrap_or((NONE, ptr::null()));
        if id == self.id.load(Relaxed) {
            // SAFETY: `id` is this instance's (so not `NONE`): `block` was set with it by
            // `claim`, and points into `POOL`, a static.
            return unsafe { block.as_ref() };
        }
        self.claim(id)
    }

    #[cold]
    #[inline(never)]
    fn claim(&self, held: u64) -> Option<&'static Shard> {
        if held != NONE {
            return None; // a block of another instance, or none was left
        }
        let mut mine = self.id.load(Relaxed);
        if mine == 0 {
            let fresh = NEXT_ID.fetch_add(1, Relaxed);
            mine = match self.id.compare_exchange(0, fresh, Relaxed, Relaxed) {
                Ok(_) => fresh,
                Err(existing) => existing,
            };
        }
        let block = OWNER
            .iter()
            .position(|o| {
                o.load(Relaxed) == 0 && o.compare_exchange(0, mine, Relaxed, Relaxed).is_ok()
            })
            .and_then(|i| POOL.get(i));
        let claim = block.map_or((mine | NO_BLOCK, ptr::null()), |b| (mine, ptr::from_ref(b)));
        // If the slot is gone (thread teardown), the call counts in the shared shards.
        CLAIM.try_with(|c| c.set(claim)).ok()?;
        block
    }
}
