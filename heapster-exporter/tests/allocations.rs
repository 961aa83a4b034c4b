//! The exporter's own work allocates the same amount every time once warmed up, measured with
//! heapster itself.
//!
//! `measure` counts the whole process and the libtest harness allocates on its main thread while
//! a test starts, so this binary has no harness (`harness = false`): `main` runs the check alone.

#[cfg(feature = "prometheus")]
use std::alloc::System;

#[cfg(feature = "prometheus")]
use heapster::{Heapster, Stats};
#[cfg(feature = "prometheus")]
use heapster_exporter::{ExporterBuilder, Format};

#[cfg(feature = "prometheus")]
#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

fn main() {
    #[cfg(feature = "prometheus")]
    {
        sampling_and_rendering_allocate_the_same_every_time();
        println!("allocations: 1 passed, 0 failed");
    }
}

#[cfg(feature = "prometheus")]
/// `(allocations, allocated bytes)` of each of `runs` calls of `f`, after `warm_up` calls.
fn per_call(warm_up: usize, runs: usize, mut f: impl FnMut()) -> Vec<(u64, u64)> {
    for _ in 0..warm_up {
        f();
    }
    (0..runs)
        .map(|_| {
            let ((), d) = GLOBAL.measure(&mut f);
            (d.allocations, d.allocated_bytes)
        })
        .collect()
}

#[cfg(feature = "prometheus")]
fn assert_steady(what: &str, figures: &[(u64, u64)]) -> (u64, u64) {
    assert!(
        figures.windows(2).all(|w| w[0] == w[1]),
        "{what} allocates a different amount from one call to the next: {figures:?}"
    );
    println!(
        "{what}: {} allocations, {} bytes per call",
        figures[0].0, figures[0].1
    );
    figures[0]
}

#[cfg(feature = "prometheus")]
fn sampling_and_rendering_allocate_the_same_every_time() {
    let parts = ExporterBuilder::new(&GLOBAL).build();
    let sampler = parts.sampler.clone();

    // Sampling never allocates (the peak ring is reserved up front).
    let sampling = per_call(3, 20, || {
        sampler.sample_once();
    });
    assert_eq!(assert_steady("sample_once", &sampling), (0, 0));

    let formats = [
        (Format::PrometheusText, "render text 0.0.4"),
        (Format::OpenMetrics, "render OpenMetrics"),
        #[cfg(feature = "protobuf")]
        (Format::Protobuf, "render protobuf"),
    ];
    for (format, what) in formats {
        let renderer = parts.renderer.clone();
        // A render serves the latest sample or takes a new one; both cost nothing.
        let figures = per_call(3, 20, || {
            let body = renderer.render(format).unwrap();
            assert!(!body.is_empty());
        });
        let (allocations, bytes) = assert_steady(what, &figures);
        match format {
            Format::PrometheusText | Format::OpenMetrics => {
                // The figures in the crate docs: the output buffer and the encoder's staging
                // buffer.
                assert_eq!(allocations, 2, "{what}");
                assert!(bytes < 32 * 1024, "{what}: {bytes} bytes");
            }
            _ => assert!(allocations < 200, "{what}: {allocations} allocations"),
        }
    }

    // A fixed snapshot renders byte-for-byte the same with the same allocations.
    let fixed = ExporterBuilder::new(Stats::new()).build();
    let first = fixed.renderer.render(Format::PrometheusText).unwrap();
    let again = per_call(1, 5, || {
        assert_eq!(
            fixed.renderer.render(Format::PrometheusText).unwrap(),
            first
        );
    });
    assert_steady("render text 0.0.4 (fixed snapshot)", &again);
}
