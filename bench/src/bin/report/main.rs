//! `bench-report`: runs every allocator configuration's benchmark binary interleaved and prints
//! the overhead table, the ablation stages and the targets; with `--callgrind`, prints
//! instructions per operation and the locked instructions of heapster's allocation path
//! instead.
//!
//! Run it through `bench/run.sh` or `bench/callgrind.sh`, which build the binaries first (see
//! `bench/README.md`). Options:
//!
//! - `--quick`: one round at 1/100 of the iterations (a smoke test: seconds, numbers are noise);
//! - `--rounds N`, `--scale F`, `--reps N`: override the defaults (12 rounds, scale 1, 3 reps);
//! - `--configs a,b`: only these configurations (binary names without `bench-`; `system` is
//!   always included, it is the baseline);
//! - `--raw FILE`: also write every sample as tab-separated values;
//! - `--only a,b`: only these scenarios (`pair_16`, `churn_2t`, ...);
//! - `--bin-dir DIR`: where the binaries are (default: beside this one);
//! - `--extra LABEL=PATH`: one more configuration, a binary built with `heapster_bench`'s
//!   `configuration!` elsewhere (for experiments with a modified counting path);
//! - `--callgrind`: the noise-free figures (needs `valgrind` and `objdump`).
//!
//! One concern per module: the configurations and the command line (`config`), the timed run
//! and its tables (`timing`, `summary`, `targets`), the machine it ran on (`machine`), and the
//! instruction counts (`callgrind`) with the locked instructions of the hot path (`disasm`).

mod callgrind;
mod config;
mod disasm;
mod machine;
mod summary;
mod targets;
mod timing;

fn main() {
    let o = config::parse_args();
    if o.callgrind {
        callgrind::run(&o);
    } else {
        timing::run(&o);
    }
}
