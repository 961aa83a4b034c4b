//! [`ProcessMemory`]: the process's resident and virtual memory as the operating system counts
//! them, to set beside the heap.
//!
//! On Linux (and Android) one read of `/proc/self/statm` gives both, in pages; the page size
//! comes once from the process's auxiliary vector (`/proc/self/auxv`, `AT_PAGESZ`, the value
//! `sysconf(_SC_PAGESIZE)` returns), so no C library binding is needed. A read opens, reads into
//! a fixed buffer on the stack and closes: it never allocates, so the sampler can take it with
//! every heap sample. On other platforms there is no such file and [`ProcessMemory::read`]
//! returns [`ErrorKind::Unsupported`](std::io::ErrorKind::Unsupported): the metrics are absent,
//! never estimated.

use std::io;

/// The process's memory as the operating system counts it, in bytes.
///
/// ```
/// use heapster_exporter::ProcessMemory;
///
/// match ProcessMemory::read() {
///     Ok(memory) => assert!(memory.resident_bytes <= memory.virtual_bytes),
///     // Not Linux, or no /proc: the process metrics are simply absent.
///     Err(e) => eprintln!("no process memory here: {e}"),
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ProcessMemory {
    /// Resident set size: bytes of the process's pages held in RAM (heap, stacks, code,
    /// mapped files, and freed heap pages the allocator has not returned). `statm` field 2.
    pub resident_bytes: u64,
    /// Virtual memory size: bytes of every mapping of the process, resident or not.
    /// `statm` field 1.
    pub virtual_bytes: u64,
}

impl ProcessMemory {
    /// Whether this platform can report process memory (Linux and Android).
    pub const SUPPORTED: bool = cfg!(any(target_os = "linux", target_os = "android"));

    /// A value of your own, e.g. for a [`Source`](crate::Source) that reports another
    /// process's memory, or for tests.
    #[must_use]
    pub const fn new(resident_bytes: u64, virtual_bytes: u64) -> Self {
        Self {
            resident_bytes,
            virtual_bytes,
        }
    }

    /// Reads the process's resident and virtual memory now, without allocating.
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`](io::ErrorKind::Unsupported) on platforms other than Linux
    /// and Android; the I/O error when `/proc/self/statm` or `/proc/self/auxv` cannot be read
    /// (no `/proc` mounted); [`ErrorKind::InvalidData`](io::ErrorKind::InvalidData) when
    /// their contents cannot be parsed.
    pub fn read() -> io::Result<Self> {
        imp::read()
    }

    /// Resident bytes that are not live heap: `resident_bytes - live_heap_bytes`, or 0 when
    /// the heap is larger (heap blocks that were never touched are not resident).
    ///
    /// This is where "the process uses 15 GB, the heap says 2 GB" goes: freed blocks whose pages
    /// the allocator keeps, fragmentation, thread stacks, code and mapped files.
    #[must_use]
    pub const fn resident_beyond_heap(&self, live_heap_bytes: u64) -> u64 {
        self.resident_bytes.saturating_sub(live_heap_bytes)
    }
}

/// `(size, resident)` in pages: the first two fields of `/proc/<pid>/statm`.
#[cfg_attr(
    not(any(target_os = "linux", target_os = "android", test)),
    allow(dead_code, reason = "only Linux has statm")
)]
fn parse_statm(text: &[u8]) -> Option<(u64, u64)> {
    let mut fields = text
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|f| !f.is_empty());
    let size = parse_u64(fields.next()?)?;
    let resident = parse_u64(fields.next()?)?;
    Some((size, resident))
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if d.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

/// The value of `AT_PAGESZ` in an auxiliary vector: native-endian `(type, value)` pairs of
/// `usize`, ended by `AT_NULL`.
#[cfg_attr(
    not(any(target_os = "linux", target_os = "android", test)),
    allow(dead_code, reason = "only Linux has auxv")
)]
fn parse_auxv_page_size(auxv: &[u8]) -> Option<u64> {
    const AT_NULL: usize = 0;
    const AT_PAGESZ: usize = 6;
    const WORD: usize = size_of::<usize>();
    let word =
        |bytes: &[u8]| -> Option<usize> { Some(usize::from_ne_bytes(bytes.try_into().ok()?)) };
    for pair in auxv.chunks_exact(2 * WORD) {
        let (key, value) = pair.split_at(WORD);
        match word(key)? {
            AT_NULL => return None,
            AT_PAGESZ => {
                let size = u64::try_from(word(value)?).ok()?;
                return size.is_power_of_two().then_some(size);
            }
            _ => {}
        }
    }
    None
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use std::fs::File;
    use std::io::{self, ErrorKind, Read};
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::{ProcessMemory, parse_auxv_page_size, parse_statm};

    /// The page size once read; 0 until then.
    static PAGE_SIZE: AtomicU64 = AtomicU64::new(0);

    pub(super) fn read() -> io::Result<ProcessMemory> {
        // statm is one line of 7 numbers: well under 128 bytes even at u64::MAX pages.
        let mut buf = [0u8; 256];
        let len = read_into("/proc/self/statm", &mut buf)?;
        let (size, resident) = parse_statm(&buf[..len]).ok_or(ErrorKind::InvalidData)?;
        let page = page_size()?;
        Ok(ProcessMemory {
            resident_bytes: resident.saturating_mul(page),
            virtual_bytes: size.saturating_mul(page),
        })
    }

    fn page_size() -> io::Result<u64> {
        match PAGE_SIZE.load(Ordering::Relaxed) {
            0 => {
                // AT_PAGESZ is among the first entries; 4 KiB holds the whole vector.
                let mut buf = [0u8; 4096];
                let len = read_into("/proc/self/auxv", &mut buf)?;
                let size = parse_auxv_page_size(&buf[..len]).ok_or(ErrorKind::InvalidData)?;
                PAGE_SIZE.store(size, Ordering::Relaxed);
                Ok(size)
            }
            size => Ok(size),
        }
    }

    /// Reads `path` into `buf` until end of file or a full buffer; the file is closed on return.
    /// `File::open` converts a short path on the stack, so nothing here allocates.
    fn read_into(path: &str, buf: &mut [u8]) -> io::Result<usize> {
        let mut file = File::open(path)?;
        let mut len = 0;
        while len < buf.len() {
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(len)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    use std::io::{self, ErrorKind};

    use super::ProcessMemory;

    pub(super) fn read() -> io::Result<ProcessMemory> {
        Err(ErrorKind::Unsupported.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statm_gives_size_and_resident_pages() {
        assert_eq!(parse_statm(b"1234 567 89 10 0 200 0\n"), Some((1234, 567)));
        assert_eq!(parse_statm(b"7 3"), Some((7, 3)));
        let max = format!("{} {} 0 0 0 0 0\n", u64::MAX, u64::MAX);
        assert_eq!(parse_statm(max.as_bytes()), Some((u64::MAX, u64::MAX)));
    }

    #[test]
    fn malformed_statm_is_rejected() {
        for bad in [
            &b""[..],
            b"\n",
            b"1234",
            b"12a4 567 0",
            b"1234 -5 0",
            b"18446744073709551616 1 0", // u64::MAX + 1
        ] {
            assert_eq!(parse_statm(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    fn auxv(pairs: &[(usize, usize)]) -> Vec<u8> {
        pairs
            .iter()
            .flat_map(|&(k, v)| k.to_ne_bytes().into_iter().chain(v.to_ne_bytes()))
            .collect()
    }

    #[test]
    fn auxv_page_size_is_found_among_other_entries() {
        let v = auxv(&[
            (33, 0x7fff_0000),
            (16, 0xbfeb_fbff),
            (6, 16384),
            (17, 100),
            (0, 0),
        ]);
        assert_eq!(parse_auxv_page_size(&v), Some(16384));
    }

    #[test]
    fn auxv_without_a_valid_page_size_gives_none() {
        assert_eq!(
            parse_auxv_page_size(&auxv(&[(33, 1), (0, 0), (6, 4096)])),
            None
        );
        assert_eq!(parse_auxv_page_size(&auxv(&[(6, 4095), (0, 0)])), None);
        assert_eq!(parse_auxv_page_size(&auxv(&[(6, 0), (0, 0)])), None);
        assert_eq!(parse_auxv_page_size(&[]), None);
        // A truncated pair is not read.
        let mut v = auxv(&[(6, 4096)]);
        v.pop();
        assert_eq!(parse_auxv_page_size(&v), None);
    }

    #[test]
    fn resident_beyond_heap_saturates() {
        let m = ProcessMemory {
            resident_bytes: 100,
            virtual_bytes: 1000,
        };
        assert_eq!(m.resident_beyond_heap(30), 70);
        assert_eq!(m.resident_beyond_heap(130), 0);
    }

    /// `VmSize` and `VmRSS` of `/proc/self/status`, in bytes: the kernel's own conversion of
    /// the same counters, with no page size of ours.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn status_bytes() -> (u64, u64) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let kib = |key: &str| -> u64 {
            let line = status.lines().find(|l| l.starts_with(key)).unwrap();
            let n: u64 = line[key.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap();
            n * 1024
        };
        (kib("VmSize:"), kib("VmRSS:"))
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn read_agrees_with_proc_status_and_sees_touched_pages() {
        const BLOCK: usize = 64 << 20;
        // Other tests of this binary allocate meanwhile: compare with slack, never exactly.
        const SLACK: u64 = 16 << 20;
        let before = ProcessMemory::read().unwrap();
        let (vm_size, vm_rss) = status_bytes();
        assert!(before.resident_bytes > 0 && before.resident_bytes <= before.virtual_bytes);
        assert!(
            before.virtual_bytes.abs_diff(vm_size) < SLACK,
            "{before:?} vs {vm_size}"
        );
        assert!(
            before.resident_bytes.abs_diff(vm_rss) < SLACK,
            "{before:?} vs {vm_rss}"
        );

        // Touch 64 MiB: resident grows by about that much, virtual by at least as much.
        let block = vec![1u8; BLOCK];
        let during = ProcessMemory::read().unwrap();
        assert_eq!(std::hint::black_box(&block)[BLOCK - 1], 1);
        let grown = during.resident_bytes.saturating_sub(before.resident_bytes);
        assert!(
            grown + SLACK > BLOCK as u64,
            "resident grew by {grown} after touching {BLOCK} bytes"
        );
        drop(block);
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    #[test]
    fn read_is_unsupported_elsewhere() {
        assert!(!ProcessMemory::SUPPORTED);
        assert_eq!(
            ProcessMemory::read().unwrap_err().kind(),
            io::ErrorKind::Unsupported
        );
    }
}
