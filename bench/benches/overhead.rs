//! `cargo bench -p heapster-bench`: runs the overhead suite through `bench/run.sh`, which builds
//! one binary per global allocator and prints the table. Arguments after `--` are passed on:
//! `cargo bench -p heapster-bench -- --quick`.

use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/run.sh");
    let status = Command::new("bash")
        .arg(script)
        .args(&args)
        .status()
        .unwrap_or_else(|e| panic!("running {script}: {e}"));
    std::process::exit(status.code().unwrap_or(1));
}
