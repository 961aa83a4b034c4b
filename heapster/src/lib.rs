//! Always-on heap telemetry: exact, lock-free allocation counters and size histograms over any
//! [`GlobalAlloc`](core::alloc::GlobalAlloc).
//!
//! Wrap the allocator your program uses in a [`Heapster`] and read [`Stats`] snapshots whenever
//! you like: counts and bytes of allocations and deallocations, live bytes and allocations, the
//! peak, power-of-two size histograms, every `realloc` classified (grew in place, shrank in
//! place, moved, unchanged) and failures.
//!
//! ```
//! use heapster::Heapster;
//! use std::alloc::System;
//!
//! #[global_allocator]
//! static GLOBAL: Heapster<System> = Heapster::new(System);
//!
//! fn main() {
//!     let before = GLOBAL.stats();
//!     let v: Vec<u8> = Vec::with_capacity(1000);
//!     drop(v);
//!     let (result, diff) = GLOBAL.measure(|| vec![1u64; 10].len());
//!     assert_eq!(result, 10);
//!     assert_eq!(diff.allocations, 1);
//!     assert_eq!(diff.allocated_bytes, 80);
//!     let since = GLOBAL.stats() - before;
//!     assert!(since.allocations >= 2);
//!     assert_eq!(since.allocation_sizes.bucket(10), 1); // the 1000-byte buffer: (512, 1024]
//! }
//! ```
//!
//! # What is counted
//!
//! Each counter of [`Stats`] is documented by its exact definition. In short: `alloc` and
//! `alloc_zeroed` are allocations, `dealloc` is a deallocation, and a `realloc` is neither: it is
//! classified by comparing the returned pointer and the new size with the old ones. A call is
//! recorded only after the inner allocator returned, and only as what it did: a null return is a
//! failure and changes nothing else (`dealloc`, which cannot fail, is recorded as it is passed
//! on). Bytes are the sizes callers requested (`Layout::size()`). Zero-size layouts, which the
//! `GlobalAlloc` contract rules out, are passed on but not counted.
//!
//! Size histograms have 64 buckets; bucket `k` counts sizes in `(2^(k-1), 2^k]`, so every bucket
//! maps exactly onto a Prometheus `le` bound, a Prometheus native histogram bucket (schema 0) and
//! an OpenTelemetry exponential histogram bucket (scale 0).
//!
//! # How counting works
//!
//! Counters belong to each `Heapster` instance. They are spread over 64 shards of 4 KiB; a call
//! picks a shard from the address of its own stack (the 2 MiB region it runs in), so each thread
//! keeps to its own shard and threads rarely share a cache line, with no thread-local storage. In
//! a shard, each table (allocations, zeroed allocations, deallocations, realloc growth and
//! shrinkage, moves) has one 64-bit word per size bucket packing a count and a byte sum, so an
//! allocation or a deallocation costs one atomic `fetch_add` (a moved `realloc` two) and a test of
//! the value it returned. Only a call that makes a word's byte sum pass a multiple of 8 KiB (every
//! call of 8 KiB or more, and at least one call in 8192 of any size) takes an out-of-line path:
//! it moves a word that is getting full into wide 64-bit totals (a *drain*) and keeps the peak up
//! to date (see below). Sizes above 1 MiB are counted in the wide totals directly.
//!
//! No lock and no stronger ordering than release/acquire is needed because each counter is only
//! ever added to: atomic read-modify-writes never lose an update, so once threads are quiet
//! (joined, or otherwise synchronised with the reader) every total is exact. A snapshot taken
//! while threads allocate reads each word atomically but not all words at one instant: it may
//! count some in-flight calls and not others. It reads the tables that add to live bytes before
//! those that subtract, so live bytes are never overstated; derived values saturate at zero. A
//! snapshot that a drain overlapped is retried, and every value is held at the highest value
//! reported before, so counters read by an exporter never go backwards.
//!
//! With the `thread-owned` feature, [`Heapster::new_thread_owned`] gives each thread a counter
//! block of its own that it updates with plain stores: no locked instruction per call.
//!
//! # Peak
//!
//! Live bytes are computed when a snapshot is taken, not kept in a shared counter (that would be
//! a contended cache line on every call). For the peak, the out-of-line path adds the 8 KiB steps
//! a word passed to its shard's net change, and the shard publishes its exact net bytes once that
//! change passes ±128 KiB, raising the high-water marks. The marks therefore miss or overstate
//! the true peak by less than 128 KiB plus 8 KiB per size class in use, per shard in use (one
//! shard per thread, typically: about 256 KiB for a thread that uses 16 size classes); every
//! snapshot also folds in the exact live bytes it computed.
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `fmt` | `Display` for [`Stats`] and [`Histogram`]: a report for a terminal |
//! | `serde` | `Serialize` and `Deserialize` for [`Stats`] and [`Histogram`] |
//! | `thread-owned` | [`Heapster::new_thread_owned`]: per-thread counter blocks updated without locked instructions; uses `std` |
//! | `scoped` | exact per-thread and per-future measurement (`measure_thread`, `measure_future`) and assertion helpers; uses `std` |
//!
//! Items of a feature that is off are not in these docs; searching for one finds the item it
//! builds on, whose docs name the feature: `measure_thread` finds [`Heapster::measure`],
//! `new_thread_owned` finds [`Heapster::new`]. For allocation counts in tests, which cargo
//! runs in parallel, use `measure_thread` (feature `scoped`), not `measure`.
//!
//! The crate is `#![no_std]` and has no dependencies without features. Without `scoped`, the
//! allocation path uses no thread-local storage at all.

#![no_std]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(test, feature = "scoped", feature = "thread-owned"))]
extern crate std;

#[cfg(not(target_has_atomic = "64"))]
compile_error!("heapster needs 64-bit atomics (`target_has_atomic = \"64\"`)");

mod bucket;
#[cfg(feature = "scoped")]
mod budget;
mod counters;
#[cfg(feature = "fmt")]
mod fmt;
mod heapster;
mod histogram;
mod index;
mod rules;
#[cfg(feature = "scoped")]
mod scope;
#[cfg(feature = "serde")]
mod serde;
mod stats;
mod tally;

/// The README's Rust code compiles and runs as written.
#[cfg(all(doctest, feature = "fmt", feature = "scoped"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

pub use crate::bucket::{BUCKETS, bucket_index, bucket_lower_bound, bucket_upper_bound};
#[cfg(feature = "scoped")]
#[doc(hidden)]
pub use crate::budget::__assert_allocations;
#[cfg(feature = "scoped")]
#[cfg_attr(docsrs, doc(cfg(feature = "scoped")))]
pub use crate::budget::{Budget, BudgetExceeded};
pub use crate::heapster::Heapster;
pub use crate::histogram::{Bucket, Histogram};
#[cfg(feature = "scoped")]
#[cfg_attr(docsrs, doc(cfg(feature = "scoped")))]
pub use crate::scope::Measured;
pub use crate::stats::Stats;
