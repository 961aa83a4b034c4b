//! The timed run: every configuration's binary, interleaved over several rounds, and the
//! overhead table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use heapster_bench::SCENARIOS;

use crate::config::{BASELINE, Options};
use crate::machine;
use crate::summary::{Samples, has_ratio, human_ns, med, spread};

/// Runs every configuration interleaved and prints the tables.
pub(crate) fn run(o: &Options) {
    let started = Instant::now();
    let load_before = machine::load_average();
    let cpu_before = machine::CpuTimes::read();
    let mut samples: BTreeMap<&'static str, Samples> = BTreeMap::new();
    let mut raw = String::from("round\tconfig\tscenario\tns_per_op\n");
    let binaries: Vec<PathBuf> = o.configs.iter().map(|c| o.binary(c)).collect();
    for round in 0..o.rounds {
        // Round-robin, starting one configuration later each round, so no configuration always
        // runs right after the same neighbour (or first, on a cold machine).
        let n = o.configs.len();
        for i in 0..n {
            let k = (i + round) % n;
            let (c, bin) = (o.configs[k], &binaries[k]);
            let mut command = Command::new(bin);
            command.args([
                "--scale",
                &o.scale.to_string(),
                "--reps",
                &o.reps.to_string(),
            ]);
            if let Some(only) = &o.only {
                command.args(["--only", only]);
            }
            let out = command
                .output()
                .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
            if !out.status.success() {
                eprintln!(
                    "bench-report: {} failed ({}):\n{}",
                    bin.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                std::process::exit(1)
            }
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let f: Vec<&str> = line.split('\t').collect();
                let parsed = match f[..] {
                    ["scenario", name, ns] => SCENARIOS
                        .iter()
                        .find(|s| s.name == name)
                        .zip(ns.parse::<f64>().ok()),
                    _ => None,
                };
                if let Some((s, ns)) = parsed {
                    samples
                        .entry(c.bin)
                        .or_default()
                        .entry(s.name)
                        .or_default()
                        .push(ns);
                    let _ = writeln!(raw, "{round}\t{}\t{}\t{ns}", c.bin, s.name);
                }
            }
        }
        eprint!("\rbench-report: round {}/{} done", round + 1, o.rounds);
    }
    eprintln!();
    let cpu_after = machine::CpuTimes::read();
    let load_after = machine::load_average();
    if let Some(path) = &o.raw {
        std::fs::write(path, raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    println!("## heapster overhead, {} round(s)\n", o.rounds);
    println!("{}", machine::describe());
    println!(
        "Load average (1, 5, 15 min) before: {}, after: {}; {}; took {:.0} s.\n",
        load_before.as_deref().unwrap_or("?"),
        load_after.as_deref().unwrap_or("?"),
        machine::others_busy(cpu_before, cpu_after),
        started.elapsed().as_secs_f64()
    );
    if o.quick {
        println!("**Quick mode: a smoke test; these numbers are noise.**\n");
    }
    print_table(o, &samples);
    print_ablation(o, &samples);
    crate::targets::print(o, &samples);
}

fn print_table(o: &Options, samples: &BTreeMap<&'static str, Samples>) {
    let configs = o.table_configs();
    println!("{}", o.table_header("scenario (ns/op, × bare System)"));
    let mut noisiest: Option<(f64, &str, &str)> = None;
    for s in SCENARIOS {
        if !samples.values().any(|m| m.contains_key(s.name)) {
            continue;
        }
        let base = med(samples, BASELINE, s.name);
        let mut row = format!("| {} |", s.label);
        for c in &configs {
            let cell = match (med(samples, c.bin, s.name), base) {
                (Some(v), Some(b)) if has_ratio(s) => {
                    format!("{} ({:.2}×)", human_ns(v), v / b)
                }
                (Some(_), _) if matches!(c.bin, "system" | "mimalloc") => "–".to_owned(),
                (Some(v), _) => human_ns(v),
                (None, _) => "?".to_owned(),
            };
            let _ = write!(row, " {cell} |");
            let sp = samples
                .get(c.bin)
                .and_then(|m| m.get(s.name))
                .and_then(|v| spread(v));
            if let Some(sp) = sp.filter(|sp| noisiest.is_none_or(|(n, _, _)| *sp > n)) {
                noisiest = Some((sp, c.label, s.label));
            }
        }
        println!("{row}");
    }
    println!();
    let over_inner: Vec<String> = SCENARIOS
        .iter()
        .filter(|s| has_ratio(s))
        .filter_map(|s| {
            let r = med(samples, "heapster-mimalloc", s.name)? / med(samples, "mimalloc", s.name)?;
            Some(format!("{} {r:.2}×", s.name))
        })
        .collect();
    if !over_inner.is_empty() {
        println!(
            "Heapster<mimalloc> over bare mimalloc: {}.",
            over_inner.join(", ")
        );
    }
    if let Some((sp, c, s)) = noisiest {
        println!(
            "Noisiest cell: {c}, {s}: interquartile range {sp:.0}% of the median \
             (over {} rounds).",
            o.rounds
        );
    }
    println!(
        "\nAn op: {}.",
        SCENARIOS
            .iter()
            .filter(|s| samples.values().any(|m| m.contains_key(s.name)))
            .map(|s| format!("*{}*: {}", s.label, s.op))
            .collect::<Vec<_>>()
            .join("; ")
    );
    println!();
}

/// The ablation stages in ns, each one step of heapster's hot path more than the one before.
fn print_ablation(o: &Options, samples: &BTreeMap<&'static str, Samples>) {
    let stages = o.ablation_configs();
    if stages.len() < 2 {
        return;
    }
    let ns = |config: &str, scenario: &str| {
        Some(med(samples, config, scenario)? - med(samples, BASELINE, scenario)?)
    };
    println!("Ablation (`heapster_bench::ablation`), ns over bare System in this run:\n");
    println!("| stage | 16 B pair | step | 2-thread churn | step | end to end | step |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut before = [0.0; 3];
    for c in stages {
        let now = ["pair_16", "churn_2t", "end_to_end"].map(|s| ns(c.bin, s));
        let mut row = format!("| {} |", c.label);
        for (value, before) in now.into_iter().zip(&mut before) {
            match value {
                Some(v) => {
                    let _ = write!(row, " {} | {} |", signed_ns(v), signed_ns(v - *before));
                    *before = v;
                }
                None => row.push_str(" ? | |"),
            }
        }
        println!("{row}");
    }
    println!();
}

/// A difference in ns, with its sign.
fn signed_ns(ns: f64) -> String {
    if ns < 0.0 {
        format!("−{}", human_ns(-ns))
    } else {
        format!("+{}", human_ns(ns))
    }
}
