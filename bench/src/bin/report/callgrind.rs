//! `--callgrind`: instructions per operation of each configuration, the targets of issue 10
//! in instructions, and the ablation stages.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use heapster_bench::SCENARIOS;

use crate::config::{BASELINE, OURS, OURS_OWNED, Options};

/// Instructions per operation: (configuration, scenario) -> count.
type Counts = BTreeMap<(&'static str, &'static str), f64>;

/// Instructions executed by `bin --count scenario n` under callgrind.
fn instructions(bin: &Path, scenario: &str, n: u64) -> Option<u64> {
    let out = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "--fair-sched=yes",
        ])
        .arg(bin)
        .args(["--count", scenario, &n.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "valgrind {} --count {scenario} {n} failed:\n{}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    String::from_utf8_lossy(&out.stderr).lines().find_map(|l| {
        let rest = l.split("Collected :").nth(1)?;
        rest.trim().parse().ok()
    })
}

/// Measures every configuration and prints the tables.
pub(crate) fn run(o: &Options) {
    println!("## heapster overhead in instructions (callgrind)\n");
    println!("{}\n", crate::machine::describe());
    let scenarios: Vec<_> = SCENARIOS.iter().filter(|s| s.callgrind).collect();
    let mut ir = Counts::new();
    for c in &o.configs {
        let bin = o.binary(c);
        for s in &scenarios {
            // Two runs that differ only in the number of operations: their difference is
            // the cost of the extra operations, without start-up and warm-up.
            let div = if o.quick { 2000 } else { 200 };
            let n1 = (s.iterations / div).max(1);
            let n2 = n1 + (s.iterations / (div / 10)).max(2);
            let (Some(a), Some(b)) = (
                instructions(&bin, s.name, n1),
                instructions(&bin, s.name, n2),
            ) else {
                eprintln!(
                    "bench-report: no instruction count for {} {}",
                    c.bin, s.name
                );
                std::process::exit(1)
            };
            #[allow(
                clippy::cast_precision_loss,
                reason = "instruction counts are far below 2^52"
            )]
            let per_op = b.saturating_sub(a) as f64 / (n2 - n1) as f64;
            ir.insert((c.bin, s.name), per_op);
        }
        eprint!("\rbench-report: callgrind {} done   ", c.bin);
    }
    eprintln!();
    print_table(o, &ir);
    print_targets(&ir);
    print_ablation(o, &ir);
    crate::disasm::locks(o);
}

fn print_table(o: &Options, ir: &Counts) {
    let configs = o.table_configs();
    println!(
        "{}",
        o.table_header("scenario (instructions/op, + over bare System)")
    );
    for s in SCENARIOS.iter().filter(|s| s.callgrind) {
        let base = ir.get(&(BASELINE, s.name)).copied();
        let mut row = format!("| {} |", s.label);
        for c in &configs {
            let cell = match (ir.get(&(c.bin, s.name)), base) {
                (Some(v), _) if s.name == "snapshot" => {
                    if matches!(c.bin, "system" | "mimalloc") {
                        "–".to_owned()
                    } else {
                        count(*v)
                    }
                }
                (Some(v), Some(b)) if c.bin != BASELINE => {
                    let sign = if v >= &b { "+" } else { "−" };
                    format!("{} ({sign}{})", count(*v), count((v - b).abs()))
                }
                (Some(v), _) => count(*v),
                (None, _) => "?".to_owned(),
            };
            let _ = write!(row, " {cell} |");
        }
        println!("{row}");
    }
    println!();
}

/// Instructions of `config` over bare `System` in `scenario`.
fn over(ir: &Counts, config: &str, scenario: &str) -> Option<f64> {
    Some(ir.get(&(config, scenario))? - ir.get(&(BASELINE, scenario))?)
}

/// Instructions per `realloc` over bare `System`: the realloc chain (an alloc, 8 reallocs and
/// a dealloc) less one 16 B pair, over 8.
fn per_realloc(ir: &Counts, config: &str) -> Option<f64> {
    Some((over(ir, config, "realloc_chain")? - over(ir, config, "pair_16")?) / 8.0)
}

/// The workload's instructions over bare `System`, in percent.
fn workload_percent(ir: &Counts, config: &str) -> Option<f64> {
    Some(over(ir, config, "end_to_end")? / ir.get(&(BASELINE, "end_to_end"))? * 100.0)
}

/// The instruction targets of issue 10, for the configurations measured.
fn print_targets(ir: &Counts) {
    let rows = [
        (
            "shared mode, 16 B pair",
            over(ir, OURS, "pair_16"),
            45.0,
            "",
        ),
        (
            "thread-owned mode, 16 B pair",
            over(ir, OURS_OWNED, "pair_16"),
            40.0,
            "",
        ),
        (
            "shared mode, per realloc (chain less one 16 B pair, / 8)",
            per_realloc(ir, OURS),
            40.0,
            "",
        ),
        (
            "shared mode, end to end",
            workload_percent(ir, OURS),
            4.0,
            "%",
        ),
    ];
    println!("Targets (issue 10), instructions over bare System:\n");
    for (what, value, max, unit) in rows {
        if let Some(v) = value {
            let verdict = if v <= max { "met" } else { "**not met**" };
            println!("- {what}: +{v:.1}{unit} (target ≤ +{max}{unit}): {verdict}");
        }
    }
    if let (Some(r), Some(w)) = (
        per_realloc(ir, OURS_OWNED),
        workload_percent(ir, OURS_OWNED),
    ) {
        println!("- thread-owned mode, per realloc +{r:.1}, end to end +{w:.1}% (for reference)");
    }
    println!();
}

/// The ablation stages, each one step of heapster's hot path more than the one before.
fn print_ablation(o: &Options, ir: &Counts) {
    let stages = o.ablation_configs();
    if stages.len() < 2 {
        return;
    }
    println!("Ablation (`heapster_bench::ablation`), instructions over bare System:\n");
    println!("| stage | 16 B pair | step | end to end | step |");
    println!("|---|---:|---:|---:|---:|");
    let (mut pair_before, mut e2e_before) = (0.0, 0.0);
    for c in stages {
        let (Some(pair), Some(e2e)) = (over(ir, c.bin, "pair_16"), workload_percent(ir, c.bin))
        else {
            continue;
        };
        println!(
            "| {} | +{pair:.1} | {:+.1} | +{e2e:.2}% | {:+.2} |",
            c.label,
            pair - pair_before,
            e2e - e2e_before
        );
        (pair_before, e2e_before) = (pair, e2e);
    }
    println!();
}

fn count(v: f64) -> String {
    if v.abs() >= 1e5 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.1}")
    }
}
