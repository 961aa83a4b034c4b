//! The locked instructions of each allocator entry point, from `objdump -d` of the release
//! binaries, and the panic functions reachable from them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::config::Options;

/// Parts of the names of heapster's `#[cold]` helpers: drains, publications, sizes above the
/// packed range, failures, the out-of-line path, claiming a thread-owned block, over-aligned
/// requests, a dealloc with a scope installed.
const COLD: [&str; 10] = [
    "drain", "publish", "add_wide", "add_one", "failed", "crossed", "claim", "aligned", "_scoped",
    "cold",
];

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
        // heapster's `#[cold]` helpers, by name (a binary does not record the attribute).
        let cold = COLD.iter().any(|c| f.name.contains(c));
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

/// Prints the locked instructions of each configuration's allocator entry points.
pub(crate) fn locks(o: &Options) {
    println!(
        "Locked (`lock`-prefixed) instructions of each allocator entry point, from \
         `objdump -d` of the release binaries: in the entry point and the code it reaches \
         (hot), and in `#[cold]` helpers (the out-of-line path, drains, publications, failures, claims):\n"
    );
    println!(
        "| configuration | entry point | locked, hot | locked, cold | panics reachable | helpers reached (their locked instructions) |"
    );
    println!("|---|---|---:|---:|---:|---|");
    for c in &o.configs {
        if c.stage || matches!(c.bin, "system" | "mimalloc") {
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
