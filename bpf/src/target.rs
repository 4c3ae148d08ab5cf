//! The kernel a compiled script is meant for: its version and privilege, and
//! the verifier rules and features that follow from them. The midend's budget,
//! the backend's instruction choice and the mini-verifier all read this.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
}

impl KernelVersion {
    pub const fn new(major: u32, minor: u32) -> KernelVersion {
        KernelVersion { major, minor }
    }

    /// Parse `X.Y`, `X.Y.Z` or a release string such as `6.18.44-fc-v657`.
    pub fn parse(s: &str) -> Option<KernelVersion> {
        let mut parts = s.trim().split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(KernelVersion { major, minor })
    }

    /// The running kernel, read from procfs; `None` where that is not possible.
    pub fn host() -> Option<KernelVersion> {
        let s = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
        KernelVersion::parse(&s)
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A target kernel. `privileged` means the loader has CAP_BPF/CAP_SYS_ADMIN and
/// the kernel's large program limits apply; the default budget is the
/// portable 4096 instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub kernel: KernelVersion,
    pub privileged: bool,
    /// `--insn-limit N` overrides the limit derived from the kernel.
    pub insn_limit_override: Option<u32>,
}

impl Default for Target {
    fn default() -> Target {
        Target::new(KernelVersion::host().unwrap_or(KernelVersion::new(6, 1)))
    }
}

impl Target {
    pub const fn new(kernel: KernelVersion) -> Target {
        Target {
            kernel,
            privileged: false,
            insn_limit_override: None,
        }
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        self.kernel >= KernelVersion::new(major, minor)
    }

    /// Maximum instructions in one program (BPF_MAXINSNS before 5.2 or
    /// unprivileged; 1,000,000 for privileged loads since 5.2).
    pub fn insn_limit(&self) -> u32 {
        if let Some(n) = self.insn_limit_override {
            return n;
        }
        if self.privileged && self.at_least(5, 2) {
            1_000_000
        } else {
            4096
        }
    }

    /// Processed-instruction (complexity) limit of the verifier.
    pub fn complexity_limit(&self) -> u32 {
        if self.at_least(5, 2) {
            1_000_000
        } else {
            131_072
        }
    }

    pub fn stack_size(&self) -> u32 {
        512
    }

    /// Bounded loops (back-edges) are verified since 5.3.
    pub fn bounded_loops(&self) -> bool {
        self.at_least(5, 3)
    }

    /// The `bpf_loop` helper exists since 5.17.
    pub fn has_bpf_loop(&self) -> bool {
        self.at_least(5, 17)
    }

    /// Fetching atomics (fetch_add, xchg, cmpxchg, and/or/xor) since 5.12.
    pub fn has_fetch_atomics(&self) -> bool {
        self.at_least(5, 12)
    }

    /// BPF ring buffer maps since 5.8; older kernels use a perf event array.
    pub fn has_ringbuf(&self) -> bool {
        self.at_least(5, 8)
    }

    /// ISA v4 (signed div/mod, sign-extending loads and moves, bswap, gotol) since 6.6.
    pub fn has_isa_v4(&self) -> bool {
        self.at_least(6, 6)
    }

    /// `bpf_for_each_map_elem` since 5.13.
    pub fn has_for_each_map_elem(&self) -> bool {
        self.at_least(5, 13)
    }

    /// `bpf_probe_read_kernel`/`_user` since 5.5 (before: `bpf_probe_read`).
    pub fn has_probe_read_kernel(&self) -> bool {
        self.at_least(5, 5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_strings() {
        assert_eq!(
            KernelVersion::parse("6.18.44-fc-v657"),
            Some(KernelVersion::new(6, 18))
        );
        assert_eq!(
            KernelVersion::parse("4.14"),
            Some(KernelVersion::new(4, 14))
        );
        assert_eq!(KernelVersion::parse("x"), None);
    }

    #[test]
    fn limits_follow_the_kernel() {
        let old = Target::new(KernelVersion::new(4, 14));
        assert_eq!(old.insn_limit(), 4096);
        assert!(!old.bounded_loops() && !old.has_ringbuf());
        let mut new = Target::new(KernelVersion::new(6, 18));
        assert_eq!(new.insn_limit(), 4096);
        new.privileged = true;
        assert_eq!(new.insn_limit(), 1_000_000);
        assert!(new.has_isa_v4() && new.has_ringbuf() && new.bounded_loops());
    }
}
