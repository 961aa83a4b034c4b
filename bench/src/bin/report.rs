//! `bench-report`: runs every allocator configuration's benchmark binary interleaved and prints
//! the overhead table; with `--callgrind`, prints instructions per operation and the locked
//! instructions of heapster's allocation path instead.
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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use heapster_bench::{SCENARIOS, Scenario};

/// A configuration: its column label and its binary.
struct Config {
    label: &'static str,
    bin: &'static str,
    /// A crate heapster is compared with (the targets say: faster than every peer).
    peer: bool,
    /// Where the binary is, for `--extra` configurations.
    path: Option<PathBuf>,
}

const CONFIGS: &[Config] = &[
    Config {
        label: "System",
        bin: "system",
        peer: false,
        path: None,
    },
    Config {
        label: "Heapster<System>",
        bin: "heapster-system",
        peer: false,
        path: None,
    },
    Config {
        label: "Heapster<System> thread-owned",
        bin: "heapster-owned",
        peer: false,
        path: None,
    },
    Config {
        label: "Heapster<System> +scoped",
        bin: "heapster-scoped",
        peer: false,
        path: None,
    },
    Config {
        label: "mimalloc",
        bin: "mimalloc",
        peer: false,
        path: None,
    },
    Config {
        label: "Heapster<mimalloc>",
        bin: "heapster-mimalloc",
        peer: false,
        path: None,
    },
    Config {
        label: "stats_alloc",
        bin: "stats-alloc",
        peer: true,
        path: None,
    },
    Config {
        label: "cap",
        bin: "cap",
        peer: true,
        path: None,
    },
    Config {
        label: "cap +stats",
        bin: "cap-stats",
        peer: true,
        path: None,
    },
    Config {
        label: "peak_alloc",
        bin: "peak-alloc",
        peer: true,
        path: None,
    },
    Config {
        label: "heapster 0.9 full",
        bin: "heapster09-full",
        peer: true,
        path: None,
    },
    Config {
        label: "heapster 0.9 default",
        bin: "heapster09-default",
        peer: true,
        path: None,
    },
];

const BASELINE: &str = "system";
const OURS: &str = "heapster-system";

struct Options {
    quick: bool,
    rounds: usize,
    scale: f64,
    reps: usize,
    configs: Vec<&'static Config>,
    raw: Option<PathBuf>,
    only: Option<String>,
    bin_dir: PathBuf,
    callgrind: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-report [--quick] [--rounds N] [--scale F] [--reps N] [--configs a,b] \
         [--raw FILE] [--only a,b] [--bin-dir DIR] [--extra LABEL=PATH] [--callgrind]\nconfigs: {}",
        CONFIGS.iter().map(|c| c.bin).collect::<Vec<_>>().join(", ")
    );
    std::process::exit(2)
}

fn parse_args() -> Options {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let mut o = Options {
        quick: false,
        rounds: 0,
        scale: 0.0,
        reps: 0,
        configs: CONFIGS.iter().collect(),
        raw: None,
        only: None,
        bin_dir: exe.parent().map_or_else(PathBuf::new, Path::to_path_buf),
        callgrind: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--quick" => o.quick = true,
            // What `cargo bench` passes to a bench target; meaningless here.
            "--bench" => {}
            "--rounds" => o.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--scale" => o.scale = value().parse().unwrap_or_else(|_| usage()),
            "--reps" => o.reps = value().parse().unwrap_or_else(|_| usage()),
            "--raw" => o.raw = Some(value().into()),
            "--only" => o.only = Some(value()),
            "--bin-dir" => o.bin_dir = value().into(),
            "--callgrind" => o.callgrind = true,
            "--extra" => {
                let v = value();
                let (label, path) = v.split_once('=').unwrap_or_else(|| usage());
                let label: &'static str = Box::leak(label.to_owned().into_boxed_str());
                o.configs.push(Box::leak(Box::new(Config {
                    label,
                    bin: label,
                    peer: false,
                    path: Some(path.into()),
                })));
            }
            "--configs" => {
                let wanted = value();
                let wanted: Vec<&str> = wanted.split(',').collect();
                o.configs
                    .retain(|c| c.path.is_some() || c.bin == BASELINE || wanted.contains(&c.bin));
                if wanted.iter().any(|w| !CONFIGS.iter().any(|c| c.bin == *w)) {
                    usage()
                }
            }
            _ => usage(),
        }
    }
    let (rounds, scale, reps) = if o.quick { (1, 0.01, 1) } else { (12, 1.0, 3) };
    if o.rounds == 0 {
        o.rounds = rounds;
    }
    if o.scale <= 0.0 {
        o.scale = scale;
    }
    if o.reps == 0 {
        o.reps = reps;
    }
    o
}

impl Options {
    fn binary(&self, c: &Config) -> PathBuf {
        let path = c
            .path
            .clone()
            .unwrap_or_else(|| self.bin_dir.join(format!("bench-{}", c.bin)));
        if !path.exists() {
            eprintln!(
                "bench-report: {} is missing: build with bench/run.sh",
                path.display()
            );
            std::process::exit(1)
        }
        path
    }
}

fn main() {
    let o = parse_args();
    if o.callgrind {
        callgrind::main(&o);
    } else {
        timing(&o);
    }
}

/// Samples of one configuration: scenario name -> ns/op, one per round.
type Samples = BTreeMap<&'static str, Vec<f64>>;

fn timing(o: &Options) {
    let started = Instant::now();
    let load_before = load_average();
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
    let load_after = load_average();
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
    print_targets(o, &samples);
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some(f64::midpoint(v[n / 2 - 1], v[n / 2])),
    }
}

/// Interquartile range relative to the median, as a percentage.
fn spread(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n < 4 {
        return None;
    }
    let (q1, q3) = (v[n / 4], v[(3 * n) / 4]);
    median(&v).map(|m| (q3 - q1) / m * 100.0)
}

fn med(samples: &BTreeMap<&'static str, Samples>, config: &str, scenario: &str) -> Option<f64> {
    median(samples.get(config)?.get(scenario)?)
}

fn human_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e4 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns >= 100.0 {
        format!("{ns:.0} ns")
    } else {
        format!("{ns:.1} ns")
    }
}

/// Whether a ratio against bare `System` means something for this scenario and configuration
/// (a counter read of a configuration without counters does not).
fn has_ratio(s: &Scenario) -> bool {
    s.name != "snapshot"
}

fn print_table(o: &Options, samples: &BTreeMap<&'static str, Samples>) {
    let mut header = String::from("| scenario (ns/op, × bare System) |");
    let mut rule = String::from("|---|");
    for c in &o.configs {
        let _ = write!(header, " {} |", c.label);
        rule.push_str("---:|");
    }
    println!("{header}\n{rule}");
    let mut noisiest: Option<(f64, &str, &str)> = None;
    for s in SCENARIOS {
        if !samples.values().any(|m| m.contains_key(s.name)) {
            continue;
        }
        let base = med(samples, BASELINE, s.name);
        let mut row = format!("| {} |", s.label);
        for c in &o.configs {
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
}

fn print_targets(o: &Options, samples: &BTreeMap<&'static str, Samples>) {
    if !o.configs.iter().any(|c| c.bin == OURS) {
        return;
    }
    let ratio = |s: &str| Some(med(samples, OURS, s)? / med(samples, BASELINE, s)?);
    let mut lines = Vec::new();
    for (scenario, what, max) in [
        ("pair_16", "16 B pair", 2.3),
        ("churn_2t", "2-thread churn", 1.5),
        ("end_to_end", "end to end", 1.10),
    ] {
        if let Some(r) = ratio(scenario) {
            lines.push(format!(
                "- {what}: {r:.2}× (target ≤ {max:.2}×): {}",
                if r <= max { "met" } else { "**not met**" }
            ));
        }
    }
    let mut slower = Vec::new();
    for s in SCENARIOS.iter().filter(|s| has_ratio(s)) {
        let Some(ours) = med(samples, OURS, s.name) else {
            continue;
        };
        for c in o.configs.iter().filter(|c| c.peer) {
            if let Some(theirs) = med(samples, c.bin, s.name).filter(|t| *t < ours) {
                slower.push(
                    format!("{} ({} vs {})", s.name, human_ns(ours), human_ns(theirs))
                        + &format!(" behind {}", c.label),
                );
            }
        }
    }
    lines.push(if slower.is_empty() {
        "- faster than every peer on every scenario: met".to_owned()
    } else {
        format!(
            "- faster than every peer on every scenario: **not met**: {}",
            slower.join("; ")
        )
    });
    println!(
        "\nTargets for Heapster<System> (issue 3):\n{}",
        lines.join("\n")
    );
}

/// The 1-, 5- and 15-minute load averages.
fn load_average() -> Option<String> {
    let line = read_first_line("/proc/loadavg")?;
    Some(
        line.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn read_first_line(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    Some(s.lines().next()?.trim().to_owned())
}

/// What the machine is, and how busy other processes kept it.
mod machine {
    use super::read_first_line;
    use std::process::Command;

    /// One line: CPU model, cores, kernel, libc and compiler.
    pub(super) fn describe() -> String {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
        let kernel = read_first_line("/proc/sys/kernel/osrelease").unwrap_or_default();
        let first = |cmd: &str, args: &[&str]| {
            Command::new(cmd)
                .args(args)
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .and_then(|s| s.lines().next().map(str::to_owned))
                .unwrap_or_default()
        };
        let libc = first("getconf", &["GNU_LIBC_VERSION"]);
        let rustc = first("rustc", &["-V"]);
        format!("Machine: {cpu}, {cores} cores, Linux {kernel}, {libc}, {rustc}.")
    }

    /// Total and idle jiffies of the machine, and the CPU time of this process's children.
    #[derive(Clone, Copy)]
    pub(super) struct CpuTimes {
        busy: f64,
        total: f64,
        children: f64,
    }

    impl CpuTimes {
        pub(super) fn read() -> Option<Self> {
            let stat = read_first_line("/proc/stat")?;
            let v: Vec<f64> = stat
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            let total: f64 = v.iter().sum();
            let idle = v.get(3)? + v.get(4)?;
            // Our children's user+system time, in the same unit as /proc/stat (USER_HZ = 100).
            let me = std::fs::read_to_string("/proc/self/stat").ok()?;
            let fields: Vec<&str> = me.rsplit(')').next()?.split_whitespace().collect();
            let children =
                fields.get(13)?.parse::<f64>().ok()? + fields.get(14)?.parse::<f64>().ok()?;
            Some(Self {
                busy: total - idle,
                total,
                children,
            })
        }
    }

    /// How much CPU processes other than the benchmark used meanwhile, as a sentence.
    pub(super) fn others_busy(before: Option<CpuTimes>, after: Option<CpuTimes>) -> String {
        let (Some(b), Some(a)) = (before, after) else {
            return "CPU use of other processes unknown".to_owned();
        };
        let total = a.total - b.total;
        if total <= 0.0 {
            return "CPU use of other processes unknown".to_owned();
        }
        let others = ((a.busy - b.busy) - (a.children - b.children)).max(0.0);
        format!(
            "other processes kept {:.0}% of the machine's CPU time busy meanwhile",
            others / total * 100.0
        )
    }
}

/// `--callgrind`: instructions per operation, and the locked instructions of the hot path.
mod callgrind {
    use super::{BASELINE, Options};
    use heapster_bench::SCENARIOS;
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    use std::path::Path;
    use std::process::Command;

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

    pub(super) fn main(o: &Options) {
        println!("## heapster overhead in instructions (callgrind)\n");
        println!("{}\n", super::machine::describe());
        let scenarios: Vec<_> = SCENARIOS.iter().filter(|s| s.callgrind).collect();
        let mut ir: BTreeMap<(&str, &str), f64> = BTreeMap::new();
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
        let mut header = String::from("| scenario (instructions/op, + over bare System) |");
        let mut rule = String::from("|---|");
        for c in &o.configs {
            let _ = write!(header, " {} |", c.label);
            rule.push_str("---:|");
        }
        println!("{header}\n{rule}");
        for s in &scenarios {
            let base = ir.get(&(BASELINE, s.name)).copied();
            let mut row = format!("| {} |", s.label);
            for c in &o.configs {
                let cell = match (ir.get(&(c.bin, s.name)), base) {
                    (Some(v), _) if s.name == "snapshot" => {
                        if matches!(c.bin, "system" | "mimalloc") {
                            "–".to_owned()
                        } else {
                            count(*v)
                        }
                    }
                    (Some(v), Some(b)) if c.bin != BASELINE => {
                        format!("{} (+{})", count(*v), count(v - b))
                    }
                    (Some(v), _) => count(*v),
                    (None, _) => "?".to_owned(),
                };
                let _ = write!(row, " {cell} |");
            }
            println!("{row}");
        }
        println!();
        locks(o);
    }

    fn count(v: f64) -> String {
        if v.abs() >= 1e5 {
            format!("{:.0}k", v / 1e3)
        } else {
            format!("{v:.1}")
        }
    }

    /// The allocator entry points every Rust allocation goes through.
    const SHIMS: [&str; 4] = [
        "__rust_alloc",
        "__rust_dealloc",
        "__rust_realloc",
        "__rust_alloc_zeroed",
    ];

    /// A function of the disassembly: its name and instructions.
    struct Function {
        name: String,
        insns: Vec<String>,
    }

    /// The binary's functions by address, and its GOT slots that hold the address of one of
    /// its own functions (position-independent code calls some functions through them).
    type Disassembly = (BTreeMap<u64, Function>, BTreeMap<u64, u64>);

    fn disassemble(bin: &Path) -> Option<Disassembly> {
        let out = Command::new("objdump")
            .args(["-d", "--no-show-raw-insn", "-C"])
            .arg(bin)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut functions = BTreeMap::new();
        let mut current: Option<(u64, Function)> = None;
        for line in text.lines() {
            // "0000000000012340 <name>:" starts a function.
            let start = line.split_once(" <").and_then(|(addr, rest)| {
                Some((
                    u64::from_str_radix(addr.trim(), 16).ok()?,
                    rest.strip_suffix(">:")?,
                ))
            });
            if let Some((addr, name)) = start {
                if let Some((a, f)) = current.take() {
                    functions.insert(a, f);
                }
                let name = name.to_owned();
                current = Some((
                    addr,
                    Function {
                        name,
                        insns: Vec::new(),
                    },
                ));
            } else if let (Some((_, f)), Some((_, insn))) = (&mut current, line.split_once(":\t")) {
                f.insns.push(insn.trim().to_owned());
            }
        }
        if let Some((a, f)) = current {
            functions.insert(a, f);
        }
        // "0000000000074578 R_X86_64_RELATIVE  *ABS*+0x000000000002a450"
        let relocs = Command::new("objdump").arg("-R").arg(bin).output().ok()?;
        let got = String::from_utf8_lossy(&relocs.stdout)
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let slot = u64::from_str_radix(f.next()?, 16).ok()?;
                (f.next()? == "R_X86_64_RELATIVE").then_some(())?;
                let target = f.next()?.strip_prefix("*ABS*+0x")?;
                Some((slot, u64::from_str_radix(target, 16).ok()?))
            })
            .collect();
        Some((functions, got))
    }

    /// Targets of `f`'s direct calls and jumps, and of its calls through a GOT slot.
    fn callees(f: &Function, got: &BTreeMap<u64, u64>) -> Vec<u64> {
        f.insns
            .iter()
            .filter(|i| i.starts_with("call") || i.starts_with("jmp"))
            .filter_map(|i| {
                let operand = i.split_whitespace().nth(1)?;
                if operand.starts_with('*') {
                    // `call *0x56291(%rip)        # 74578 <_DYNAMIC+0x260>`
                    let slot = i.split('#').nth(1)?.split_whitespace().next()?;
                    got.get(&u64::from_str_radix(slot, 16).ok()?).copied()
                } else {
                    u64::from_str_radix(operand, 16).ok()
                }
            })
            .collect()
    }

    /// What one allocator entry point executes of its own: locked instructions on the hot
    /// path (the shim and what it reaches, except `#[cold]` helpers), in the cold helpers, the
    /// helpers it calls, and calls to panic functions. Code of the inner allocator (libc,
    /// mimalloc) is not followed.
    struct EntryPath {
        hot: usize,
        cold: usize,
        called: Vec<String>,
        panics: Vec<String>,
    }

    fn walk((functions, got): &Disassembly, shim: u64) -> EntryPath {
        let mut seen = vec![shim];
        let mut stack = vec![shim];
        let mut p = EntryPath {
            hot: 0,
            cold: 0,
            called: Vec::new(),
            panics: Vec::new(),
        };
        while let Some(a) = stack.pop() {
            let Some(f) = functions.get(&a) else { continue };
            let locks = f.insns.iter().filter(|i| i.starts_with("lock")).count();
            let cold = ["drain", "publish", "add_wide", "failed", "cold"]
                .iter()
                .any(|c| f.name.contains(c));
            if cold {
                p.cold += locks;
            } else {
                p.hot += locks;
            }
            if a != shim {
                p.called.push(format!("`{}` ({locks})", short(&f.name)));
            }
            for c in callees(f, got) {
                let Some(callee) = functions.get(&c) else {
                    continue;
                };
                let name = &callee.name;
                if name.contains("panic") || name.contains("unwrap_failed") {
                    let at = format!("`{}` in `{}`", short(name), short(&f.name));
                    if !p.panics.contains(&at) {
                        p.panics.push(at);
                    }
                } else if !seen.contains(&c)
                    && !name.contains("@plt")
                    && !name.contains("mi_")
                    && !name.contains("malloc")
                {
                    seen.push(c);
                    stack.push(c);
                }
            }
        }
        p
    }

    /// The last two segments of a demangled path, without a hash or a `[clone]` suffix.
    fn short(name: &str) -> String {
        let name = name.split(" [").next().unwrap_or(name);
        let segments: Vec<&str> = name.rsplitn(3, "::").collect();
        match segments[..] {
            [last, parent, ..] => format!("{parent}::{last}"),
            _ => name.to_owned(),
        }
    }

    fn locks(o: &Options) {
        println!(
            "Locked (`lock`-prefixed) instructions of each allocator entry point, from \
             `objdump -d` of the release binaries: in the entry point and the code it reaches \
             (hot), and in `#[cold]` helpers (drains, publications, failures):\n"
        );
        println!(
            "| configuration | entry point | locked, hot | locked, cold | panics reachable | helpers reached (their locked instructions) |"
        );
        println!("|---|---|---:|---:|---:|---|");
        for c in &o.configs {
            if matches!(c.bin, "system" | "mimalloc") {
                continue;
            }
            let Some(d) = disassemble(&o.binary(c)) else {
                println!("| {} | objdump failed | | | | |", c.label);
                continue;
            };
            for shim in SHIMS {
                // The symbol may carry a crate prefix (`__rustc::__rust_alloc`): match its end.
                let found = d.0.iter().find(|(_, f)| {
                    let n = f.name.split(" [").next().unwrap_or(&f.name);
                    n == shim || n.ends_with(&format!("::{shim}"))
                });
                let Some((&addr, _)) = found else {
                    println!("| {} | `{shim}` | not found | | | |", c.label);
                    continue;
                };
                let p = walk(&d, addr);
                println!(
                    "| {} | `{shim}` | {} | {} | {} | {} |",
                    c.label,
                    p.hot,
                    p.cold,
                    if p.panics.is_empty() {
                        "none".to_owned()
                    } else {
                        p.panics.join(", ")
                    },
                    if p.called.is_empty() {
                        "–".to_owned()
                    } else {
                        p.called.join(", ")
                    }
                );
            }
        }
    }
}
