//! Enums whose variants index arrays ([`indexed!`]): a table, a counter or a mark is passed as
//! its enum, never as a raw `usize`, and turned into an index only where an array is indexed.

/// Declares a fieldless enum whose variants are numbered `0..COUNT` in the order written, with
/// `COUNT`, `ALL` (every variant, in index order) and `index()` (the variant's index in arrays
/// of `COUNT`).
macro_rules! indexed {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )*
        }

        #[allow(dead_code, reason = "not every enum uses every item")]
        impl $name {
            /// Number of variants.
            $vis const COUNT: usize = [$(Self::$variant),*].len();
            /// Every variant, in index order.
            $vis const ALL: [Self; Self::COUNT] = [$(Self::$variant),*];

            /// The variant's index in arrays of `COUNT`.
            #[inline(always)]
            $vis const fn index(self) -> usize {
                self as usize
            }
        }
    };
}

pub(crate) use indexed;
