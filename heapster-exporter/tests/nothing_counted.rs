//! The warning (feature `log`) for a sampled allocator that has counted nothing at all: a
//! `static Heapster` that is not the `#[global_allocator]`.
#![cfg(feature = "log")]

use std::alloc::System;
use std::sync::Mutex;

use heapster::{Heapster, Stats};
use heapster_exporter::Sampler;

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

/// The mistake: a `Heapster` nobody calls.
static NOT_GLOBAL: Heapster<System> = Heapster::new(System);

/// Keeps every warning logged, with its target.
struct Capture(Mutex<Vec<(String, String)>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let entry = (record.target().to_owned(), record.args().to_string());
            self.0.lock().unwrap().push(entry);
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// How many warnings `f` logged.
fn warnings(f: impl FnOnce()) -> Vec<(String, String)> {
    let before = CAPTURE.0.lock().unwrap().len();
    f();
    CAPTURE.0.lock().unwrap()[before..].to_vec()
}

// One test: the logger is process-wide.
#[test]
fn one_warning_when_the_first_sample_counted_nothing() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Warn);

    let logged = warnings(|| {
        let sampler = Sampler::new(&NOT_GLOBAL);
        assert!(sampler.sample_once().stats.is_empty());
        sampler.sample_once();
        sampler.current();
    });
    assert_eq!(logged.len(), 1, "once per sampler: {logged:?}");
    let (target, message) = &logged[0];
    assert_eq!(target, "heapster_exporter");
    assert!(message.contains("`#[global_allocator]`"), "{message}");
    assert!(message.contains("counted no allocator call"), "{message}");

    // The global allocator has counted something by the first sample: no warning.
    let logged = warnings(|| {
        let sampler = Sampler::new(&GLOBAL);
        assert!(!sampler.sample_once().stats.is_empty());
    });
    assert_eq!(logged, []);

    // Nor for a fixed snapshot with counts; a fixed empty one is warned about.
    let mut counted = Stats::new();
    counted.deallocations = 1;
    assert_eq!(
        warnings(|| {
            Sampler::new(counted).current();
        }),
        []
    );
    assert_eq!(
        warnings(|| {
            Sampler::new(Stats::new()).current();
        })
        .len(),
        1
    );
}
