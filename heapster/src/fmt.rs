//! `Display` for [`Stats`] and [`Histogram`] (feature `fmt`): a report a person reads in a
//! terminal. Counts get thousands separators, bytes binary units, histograms ASCII bars; empty
//! sections are left out.

use core::fmt::{self, Display, Formatter};

use crate::bucket::{bucket_lower_bound, bucket_upper_bound};
use crate::histogram::Histogram;
use crate::stats::Stats;

/// Width of the longest histogram bar, in characters.
const BAR_WIDTH: u64 = 40;

/// A count with thousands separators: `1,234,567`.
#[derive(Clone, Copy)]
struct Count(u64);

impl Count {
    /// Characters the count takes when displayed.
    fn width(self) -> usize {
        let digits = self.0.checked_ilog10().map_or(1, |d| d as usize + 1);
        digits + (digits - 1) / 3
    }
}

impl Display for Count {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // Render right to left into a fixed buffer: 20 digits and 6 separators at most.
        let mut buf = [b' '; 26];
        let mut at = buf.len();
        let mut n = self.0;
        let mut digits = 0;
        loop {
            if digits > 0 && digits % 3 == 0 {
                at -= 1;
                buf[at] = b',';
            }
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            digits += 1;
            if n == 0 {
                break;
            }
        }
        let text = core::str::from_utf8(&buf[at..]).map_err(|_| fmt::Error)?;
        f.pad_integral(true, "", text)
    }
}

/// A byte count in binary units with one decimal: `512 B`, `1.5 KiB`, `3.0 GiB`.
#[derive(Clone, Copy)]
struct Bytes(u64);

impl Display for Bytes {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let unit = (self.0.ilog2() / 10) as usize; // 1..=6
        let scale = 1u128 << (10 * unit);
        // Tenths of the unit, rounded to nearest.
        let tenths = (u128::from(self.0) * 10 + scale / 2) / scale;
        write!(f, "{}.{} {}", tenths / 10, tenths % 10, UNITS[unit - 1])
    }
}

/// A power of two in the largest binary unit that divides it: `512 B`, `8 KiB`, `1 GiB`.
struct PowerOfTwo(u64);

impl Display for PowerOfTwo {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 == 0 {
            return f.write_str("0 B");
        }
        let unit = (self.0.trailing_zeros() / 10) as usize;
        write!(f, "{} {}", self.0 >> (10 * unit), UNITS[unit])
    }
}

/// One histogram as rows `(lower, upper]  count  bars`, indented by `indent` spaces.
fn histogram_rows(h: &Histogram, indent: usize, f: &mut Formatter<'_>) -> fmt::Result {
    let max = h.buckets().map(|b| b.count).max().unwrap_or(0);
    let width = Count(max).width();
    for b in h.buckets() {
        let label = Label(b.index);
        let bars = (u128::from(b.count) * u128::from(BAR_WIDTH)).div_ceil(u128::from(max));
        write!(f, "{:indent$}{label:<20} {:>width$}  ", "", Count(b.count))?;
        for _ in 0..bars {
            f.write_str("#")?;
        }
        f.write_str("\n")?;
    }
    Ok(())
}

/// A bucket's range: `(8 KiB, 16 KiB]`; bucket 0 is `[0 B, 1 B]`.
struct Label(usize);

impl Display for Label {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut buf = Buffer::new();
        if self.0 == 0 {
            fmt::write(&mut buf, format_args!("[0 B, 1 B]"))?;
        } else {
            fmt::write(
                &mut buf,
                format_args!(
                    "({}, {}]",
                    PowerOfTwo(bucket_lower_bound(self.0)),
                    PowerOfTwo(bucket_upper_bound(self.0))
                ),
            )?;
        }
        f.pad(buf.as_str())
    }
}

/// A small stack buffer, so that labels can be padded without allocating.
struct Buffer {
    bytes: [u8; 32],
    len: usize,
}

impl Buffer {
    const fn new() -> Self {
        Self {
            bytes: [0; 32],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for Buffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// ```
/// let mut h = heapster::Histogram::new();
/// for size in [16, 16, 16, 16, 1000, 5000] {
///     h.record(size);
/// }
/// assert_eq!(
///     h.to_string(),
///     "(8 B, 16 B]          4  ########################################\n\
///      (512 B, 1 KiB]       1  ##########\n\
///      (4 KiB, 8 KiB]       1  ##########\n"
/// );
/// ```
impl Display for Histogram {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        histogram_rows(self, 0, f)
    }
}

/// A multi-line report; sections with nothing in them are left out.
///
/// ```
/// let mut s = heapster::Stats::new();
/// s.allocations = 1500;
/// s.allocated_bytes = 3 << 20;
/// s.deallocations = 1000;
/// s.deallocated_bytes = 1 << 20;
/// s.peak_bytes = 2560 << 10;
/// assert_eq!(
///     s.to_string(),
///     "allocations    1,500  3.0 MiB\n\
///      deallocations  1,000  1.0 MiB\n\
///      live             500  2.0 MiB  (peak 2.5 MiB)\n"
/// );
/// ```
impl Display for Stats {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let width = [
            self.allocations,
            self.deallocations,
            self.reallocations(),
            self.failures(),
        ]
        .into_iter()
        .map(|n| Count(n).width())
        .max()
        .unwrap_or(1);
        let row = |f: &mut Formatter<'_>, name: &str, n: u64| {
            write!(f, "{name:<13}  {:>width$}  ", Count(n))
        };
        row(f, "allocations", self.allocations)?;
        write!(f, "{}", Bytes(self.allocated_bytes))?;
        if self.zeroed_allocations != 0 || self.zeroed_bytes != 0 {
            write!(
                f,
                "  (zeroed {}, {})",
                Count(self.zeroed_allocations),
                Bytes(self.zeroed_bytes)
            )?;
        }
        f.write_str("\n")?;
        row(f, "deallocations", self.deallocations)?;
        write!(f, "{}", Bytes(self.deallocated_bytes))?;
        f.write_str("\n")?;
        row(f, "live", self.live_allocations())?;
        write!(f, "{}", Bytes(self.live_bytes()))?;
        if self.peak_bytes != 0 {
            write!(f, "  (peak {})", Bytes(self.peak_bytes))?;
        }
        f.write_str("\n")?;
        if self.reallocations() != 0 {
            row(f, "reallocations", self.reallocations())?;
            writeln!(
                f,
                "grew in place {}, shrank in place {}, moved {}, unchanged {}",
                Count(self.realloc_grew_in_place),
                Count(self.realloc_shrank_in_place),
                Count(self.realloc_moved),
                Count(self.realloc_unchanged),
            )?;
            writeln!(
                f,
                "{:w$}grown {}, shrunk {}, copied {}",
                "",
                Bytes(self.realloc_grown_bytes),
                Bytes(self.realloc_shrunk_bytes),
                Bytes(self.realloc_moved_bytes),
                w = 13 + 2 + width + 2,
            )?;
        }
        if self.failures() != 0 {
            row(f, "failures", self.failures())?;
            writeln!(
                f,
                "alloc {}, realloc {}",
                Count(self.alloc_failures),
                Count(self.realloc_failures)
            )?;
        }
        for (title, h) in [
            ("allocation sizes", &self.allocation_sizes),
            ("realloc growth", &self.realloc_grow_sizes),
            ("realloc shrinkage", &self.realloc_shrink_sizes),
        ] {
            if !h.is_empty() {
                writeln!(f, "{title}")?;
                histogram_rows(h, 2, f)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn counts_have_separators() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1_234_567, "1,234,567"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ] {
            assert_eq!(Count(n).to_string(), s);
            assert_eq!(Count(n).width(), s.len());
        }
    }

    #[test]
    fn bytes_use_binary_units() {
        for (n, s) in [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (1024 * 1024 - 1, "1024.0 KiB"),
            (5 << 30, "5.0 GiB"),
            (u64::MAX, "16.0 EiB"),
        ] {
            assert_eq!(Bytes(n).to_string(), s, "{n}");
        }
    }

    #[test]
    fn full_report() {
        let mut s = Stats::new();
        for size in [24, 24, 24, 100, 4096] {
            s.allocation_sizes.record(size);
        }
        s.allocations = s.allocation_sizes.count();
        s.allocated_bytes = s.allocation_sizes.sum();
        s.zeroed_allocations = 1;
        s.zeroed_bytes = 4096;
        s.deallocations = 2;
        s.deallocated_bytes = 48;
        s.realloc_grew_in_place = 1;
        s.realloc_moved = 2;
        s.realloc_grown_bytes = 3000;
        s.realloc_moved_bytes = 200;
        s.realloc_grow_sizes.record(1000);
        s.realloc_grow_sizes.record(2000);
        s.realloc_grow_sizes.record(0);
        s.alloc_failures = 1234;
        s.peak_bytes = 8000;
        let expected = "\
allocations        5  4.2 KiB  (zeroed 1, 4.0 KiB)
deallocations      2  48 B
live               3  7.1 KiB  (peak 7.8 KiB)
reallocations      3  grew in place 1, shrank in place 0, moved 2, unchanged 0
                      grown 2.9 KiB, shrunk 0 B, copied 200 B
failures       1,234  alloc 1,234, realloc 0
allocation sizes
  (16 B, 32 B]         3  ########################################
  (64 B, 128 B]        1  ##############
  (2 KiB, 4 KiB]       1  ##############
realloc growth
  [0 B, 1 B]           1  ########################################
  (512 B, 1 KiB]       1  ########################################
  (1 KiB, 2 KiB]       1  ########################################
";
        assert_eq!(s.to_string(), expected);
    }
}

#[cfg(test)]
mod coverage {
    use crate::stats::Stats;
    use std::string::ToString;

    /// The report shows every counter: setting any one of them changes the text.
    #[test]
    fn report_shows_every_field() {
        let mut base = Stats::new();
        // Sections appear once something is in them; make every section appear.
        base.realloc_unchanged = 1;
        base.alloc_failures = 1;
        let text = base.to_string();
        for name in Stats::COUNTERS.iter().chain(Stats::GAUGES) {
            let mut s = base;
            *s.get_mut(name).unwrap() += 7_777_777;
            assert_ne!(s.to_string(), text, "`{name}` does not show in the report");
        }
        for name in Stats::HISTOGRAMS {
            let mut s = base;
            s.histogram_mut(name).unwrap().record(100);
            assert_ne!(s.to_string(), text, "`{name}` does not show in the report");
        }
    }
}
