//! Tristate numbers ("tnums"): the kernel verifier's bit-level abstraction of
//! a 64-bit value, where every bit is known 0, known 1 or unknown.
//!
//! `value` holds the known-1 bits, `mask` the unknown bits; a bit is never set
//! in both. The operations are the standard sound transfer functions (the
//! same algebra the kernel's `kernel/bpf/tnum.c` implements).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tnum {
    pub value: u64,
    pub mask: u64,
}

impl Tnum {
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    pub const fn known(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum holding every value in `min..=max`.
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum {
            value: min & !delta,
            mask: delta,
        }
    }

    pub fn is_const(self) -> bool {
        self.mask == 0
    }

    pub fn is_unknown(self) -> bool {
        self.mask == u64::MAX
    }

    pub fn lshift(self, s: u32) -> Tnum {
        Tnum {
            value: self.value.checked_shl(s).unwrap_or(0),
            mask: self.mask.checked_shl(s).unwrap_or(0),
        }
    }

    pub fn rshift(self, s: u32) -> Tnum {
        Tnum {
            value: self.value.checked_shr(s).unwrap_or(0),
            mask: self.mask.checked_shr(s).unwrap_or(0),
        }
    }

    /// Arithmetic shift right of the 64-bit value.
    pub fn arshift(self, s: u32) -> Tnum {
        let s = s.min(63);
        Tnum {
            value: ((self.value as i64) >> s) as u64,
            mask: ((self.mask as i64) >> s) as u64,
        }
    }

    pub fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: sv & !mu,
            mask: mu,
        }
    }

    pub fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: dv & !mu,
            mask: mu,
        }
    }

    pub fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    pub fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    pub fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// Multiplication by shift-and-add over the known and unknown bits.
    pub fn mul(self, b: Tnum) -> Tnum {
        let acc_v = self.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::known(0);
        let (mut a, mut b) = (self, b);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.mask,
                });
            } else if a.mask & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.value | b.mask,
                });
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::known(acc_v).add(acc_m)
    }

    /// Values in both `self` and `b` (assumes they overlap).
    pub fn intersect(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// True when some value is in both.
    pub fn overlaps(self, b: Tnum) -> bool {
        (self.value ^ b.value) & !(self.mask | b.mask) == 0
    }

    /// Truncate to the low `bytes` bytes (zero-extended).
    pub fn cast(self, bytes: u32) -> Tnum {
        if bytes >= 8 {
            return self;
        }
        let m = (1u64 << (bytes * 8)) - 1;
        Tnum {
            value: self.value & m,
            mask: self.mask & m,
        }
    }

    /// True when every value of `b` is a value of `self`.
    pub fn contains(self, b: Tnum) -> bool {
        if b.mask & !self.mask != 0 {
            return false;
        }
        b.value & !self.mask == self.value
    }

    pub fn is_aligned(self, size: u64) -> bool {
        size == 0 || (self.value | self.mask) & (size - 1) == 0
    }

    pub fn min(self) -> u64 {
        self.value
    }

    pub fn max(self) -> u64 {
        self.value | self.mask
    }
}

impl fmt::Display for Tnum {
    /// The kernel's `tnum_strn` form, `(0x0; 0xff)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:#x}; {:#x})", self.value, self.mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_and_arith() {
        assert_eq!(
            Tnum::range(0, 255),
            Tnum {
                value: 0,
                mask: 255
            }
        );
        assert_eq!(Tnum::range(4, 4), Tnum::known(4));
        let a = Tnum::range(0, 3).add(Tnum::known(4));
        assert!(a.contains(Tnum::known(4)) && a.contains(Tnum::known(7)));
        assert_eq!(Tnum::known(6).mul(Tnum::known(7)), Tnum::known(42));
        let m = Tnum::range(0, 3).mul(Tnum::known(8));
        assert!(m.contains(Tnum::known(24)) && !m.contains(Tnum::known(25)));
        assert_eq!(Tnum::UNKNOWN.and(Tnum::known(0xff)).max(), 0xff);
        assert_eq!(format!("{}", Tnum::range(0, 15)), "(0x0; 0xf)");
    }
}
