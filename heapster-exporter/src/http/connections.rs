//! [`Connections`]: the open connections of the `/metrics` server, capped, and which one to
//! close to make room.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::Request;
use hyper::service::Service;
use tokio::task::AbortHandle;

use crate::http::MetricsHandler;

/// The open connections, at most `cap` of them.
///
/// Each connection carries a stamp from one counter: taken when it opens, and again each
/// time it delivers a complete request. The oldest stamp is the connection that has waited
/// longest without a complete request: a half-open or idle one, rarely one being answered
/// (an answer is written right after its request).
#[derive(Debug)]
pub(crate) struct Connections {
    cap: usize,
    clock: AtomicU64,
    /// Connections opened since the accept loop last let the other tasks run.
    unpolled: AtomicUsize,
    table: Mutex<Vec<Entry>>,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    stamp: Arc<AtomicU64>,
    /// Closes the connection (drops its task). `None` until its task is spawned.
    abort: Option<AbortHandle>,
}

/// One connection's place in the table; leaving it (dropping the slot) frees the place.
#[derive(Debug)]
pub(crate) struct Slot {
    connections: Arc<Connections>,
    id: u64,
    stamp: Arc<AtomicU64>,
}

impl Connections {
    pub(crate) fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap,
            clock: AtomicU64::new(0),
            unpolled: AtomicUsize::new(0),
            table: Mutex::new(Vec::with_capacity(cap)),
        })
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    fn table(&self) -> MutexGuard<'_, Vec<Entry>> {
        // The table stays consistent whatever panicked while holding it (each change is one
        // push or one swap_remove).
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the table is full.
    fn is_full(&self) -> bool {
        self.table().len() >= self.cap
    }

    /// Open connections.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table().len()
    }

    /// Makes room for a new connection when the table is full, see
    /// [`close_oldest`](Self::close_oldest).
    ///
    /// A closed connection's memory is freed only when the runtime next gets to its task, and
    /// a connection must get to read its request before it can be taken for one still
    /// waiting: so once every `cap / 8` new connections at the cap, the accept loop lets the
    /// other tasks run. At most `cap + cap / 8` connections hold memory; and since a
    /// connection can be the oldest of a full table only once `cap - 1` newer ones have
    /// opened, it has been polled (and has read what had arrived) 7 times by then with the
    /// default cap. A yield for every connection would halve the rate at which a flood is
    /// accepted.
    pub(crate) async fn make_room(&self) {
        if !self.is_full() {
            self.unpolled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.unpolled.load(Ordering::Relaxed) >= self.cap.div_ceil(8) {
            tokio::task::yield_now().await;
            self.unpolled.store(0, Ordering::Relaxed);
        }
        self.unpolled.fetch_add(1, Ordering::Relaxed);
        self.close_oldest();
    }

    /// When the table is full, closes the connection with the oldest stamp and frees its
    /// place at once (its task is dropped the next time the runtime gets to it). Returns
    /// whether it closed one.
    pub(crate) fn close_oldest(&self) -> bool {
        let mut table = self.table();
        if table.len() < self.cap {
            return false;
        }
        let oldest = table
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| e.stamp.load(Ordering::Relaxed))
            .map(|(i, _)| i);
        let Some(oldest) = oldest else {
            return false;
        };
        let entry = table.swap_remove(oldest);
        drop(table);
        if let Some(abort) = entry.abort {
            abort.abort();
        }
        true
    }

    /// A place for a new connection (the caller made room first).
    pub(crate) fn open(self: &Arc<Self>) -> Slot {
        let stamp = Arc::new(AtomicU64::new(self.tick()));
        let id = stamp.load(Ordering::Relaxed);
        self.table().push(Entry {
            id,
            stamp: Arc::clone(&stamp),
            abort: None,
        });
        Slot {
            connections: Arc::clone(self),
            id,
            stamp,
        }
    }

    /// Records how to close the connection in `slot`, once its task is spawned. Nothing
    /// happens if the connection has ended already.
    pub(crate) fn attach(&self, id: u64, abort: AbortHandle) {
        if let Some(entry) = self.table().iter_mut().find(|e| e.id == id) {
            entry.abort = Some(abort);
        }
    }

    fn leave(&self, id: u64) {
        let mut table = self.table();
        if let Some(i) = table.iter().position(|e| e.id == id) {
            table.swap_remove(i);
        }
    }
}

impl Slot {
    /// The id to [`attach`](Connections::attach) the connection's task with.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The connection delivered a complete request: it is no longer waiting.
    fn request(&self) {
        self.stamp.store(self.connections.tick(), Ordering::Relaxed);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.leave(self.id);
    }
}

/// The handler of one connection, holding its slot: each request renews the slot's stamp,
/// and the slot is freed when hyper drops the service with the connection.
#[derive(Debug)]
pub(crate) struct Tracked {
    handler: MetricsHandler,
    slot: Slot,
}

impl Tracked {
    pub(crate) fn new(handler: MetricsHandler, slot: Slot) -> Self {
        Self { handler, slot }
    }
}

impl<B> Service<Request<B>> for Tracked {
    type Response = <MetricsHandler as Service<Request<B>>>::Response;
    type Error = <MetricsHandler as Service<Request<B>>>::Error;
    type Future = <MetricsHandler as Service<Request<B>>>::Future;

    fn call(&self, request: Request<B>) -> Self::Future {
        self.slot.request();
        self.handler.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_longest_waiting_connection_makes_room() {
        let connections = Connections::new(3);
        let a = connections.open();
        let b = connections.open();
        let c = connections.open();
        assert!(connections.is_full());
        // `a` opened first but has just sent a request: `b` has waited longest.
        a.request();
        assert!(connections.close_oldest());
        assert_eq!(connections.len(), 2);
        let ids: Vec<u64> = connections.table().iter().map(|e| e.id).collect();
        assert!(ids.contains(&a.id()) && ids.contains(&c.id()), "{ids:?}");
        // `b` leaves its place only once: its slot's drop finds nothing left to free.
        drop(b);
        assert_eq!(connections.len(), 2);
        assert!(!connections.close_oldest());
        // The next in line is `c`, then `a`.
        let d = connections.open();
        assert!(connections.close_oldest());
        let ids: Vec<u64> = connections.table().iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&a.id()) && ids.contains(&d.id()), "{ids:?}");
        drop((a, c, d));
        assert_eq!(connections.len(), 0);
    }
}
