//! One [`Sample`] per collection, shared by every callback of the collection and by the
//! exporter that sends it.
//!
//! The SDK runs the callbacks of one collection one after another on the thread that collects
//! (the periodic reader's thread), then calls the exporter on that same thread. So the sample
//! of a collection is kept per thread: a callback that finds it already used by itself knows
//! that a new collection began and takes a new sample. This also works when a view drops
//! some instruments, when several readers collect at once (each on its own thread), and when
//! no exporter of ours takes the sample.

use std::cell::RefCell;

use crate::sampler::{Sample, Sampler};

/// The sample of the current collection of one [`OtelInstruments`](super::OtelInstruments)
/// (`owner`) on this thread, and which callbacks have read it (one bit each).
struct Slot {
    owner: usize,
    sample: Sample,
    read_by: u64,
}

thread_local! {
    static SLOTS: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// The sample that callback `callback` (below 64) of `owner` must observe.
pub(crate) fn for_callback(owner: usize, callback: u32, sampler: &Sampler) -> Sample {
    let bit = 1u64 << (callback % 64);
    SLOTS.with(|slots| {
        let mut slots = slots.borrow_mut();
        match slots.iter_mut().find(|s| s.owner == owner) {
            Some(slot) if slot.read_by & bit == 0 => {
                slot.read_by |= bit;
                slot.sample
            }
            Some(slot) => {
                // This callback has read this sample already: a new collection.
                slot.sample = sampler.current();
                slot.read_by = bit;
                slot.sample
            }
            None => {
                let sample = sampler.current();
                slots.push(Slot {
                    owner,
                    sample,
                    read_by: bit,
                });
                sample
            }
        }
    })
}

/// The sample of the collection that just ran on this thread, for the exporter; the next
/// collection takes a new one. A fresh sample when no callback of `owner` ran here.
pub(crate) fn for_export(owner: usize, sampler: &Sampler) -> Sample {
    SLOTS.with(|slots| {
        let mut slots = slots.borrow_mut();
        match slots.iter().position(|s| s.owner == owner) {
            Some(i) => slots.swap_remove(i).sample,
            None => sampler.current(),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use heapster::Stats;

    use super::*;

    #[test]
    fn callbacks_of_one_collection_share_a_sample() {
        let sampler = Arc::new(Sampler::new(Stats::new()));
        let owner = 1;
        let a = for_callback(owner, 0, &sampler).sequence;
        assert_eq!(for_callback(owner, 1, &sampler).sequence, a);
        assert_eq!(for_callback(owner, 2, &sampler).sequence, a);
        // Callback 0 again: a new collection. `current` serves a fresh sample again, so
        // force staleness by sampling: the sequence then moves on.
        sampler.sample_once();
        let b = for_callback(owner, 0, &sampler).sequence;
        assert!(b > a);
        assert_eq!(for_callback(owner, 2, &sampler).sequence, b);
        assert_eq!(for_export(owner, &sampler).sequence, b);
        // Taken by the exporter: the next collection starts fresh.
        sampler.sample_once();
        assert!(for_callback(owner, 1, &sampler).sequence > b);
        // Another owner has its own slot.
        let c = for_callback(2, 0, &sampler).sequence;
        assert_eq!(for_export(owner, &sampler).sequence, c);
    }
}
