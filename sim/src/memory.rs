//! Tagged memory for the simulated machine: every address a program sees is
//! an encoded `(region id, offset)` pair, never a host pointer, and every
//! access is bounds-checked against its region.
//!
//! Encoding: `region id << 32 | offset`. Region ids start at 1, so NULL (0)
//! is never a valid address. Stack frames, the context and the code region
//! have fixed ids; regions added later (input memory, map values handed out
//! by `map_lookup_elem`, ring buffer samples) get the next free id.
//! Pointer arithmetic that leaves a region lands on an offset outside it (or
//! in a neighbouring id whose offsets are ≥ 2^32 − 2^31), and faults.

use std::fmt;

/// Bytes of one stack frame; r10 points at its top.
pub const STACK_SIZE: usize = 512;
/// Maximum nesting of BPF-to-BPF calls (and helper callbacks), as in Linux:
/// the default of `MachineOptions::max_frames`.
pub const MAX_FRAMES: usize = 8;
/// Stack frames the memory has: the most `MachineOptions::max_frames` can
/// allow (userspace programs recurse deeper than the kernel's 8 frames).
pub const MAX_STACK_FRAMES: usize = 255;

/// Region id of stack frame `n` (0 = the program's own frame).
pub const fn stack_region(frame: usize) -> u32 {
    1 + frame as u32
}
/// Region id of the program context (what r1 points at on entry).
pub const CONTEXT_REGION: u32 = 1 + MAX_STACK_FRAMES as u32;
/// Region id of "code": function pointers (`lddw rX, func`) are addresses in
/// this region whose offset is the instruction index. Never dereferenceable.
pub const CODE_REGION: u32 = CONTEXT_REGION + 1;
/// First id available for other regions.
const FIRST_FREE: u32 = CODE_REGION + 1;

/// Build an address.
pub const fn addr(region: u32, offset: u32) -> u64 {
    ((region as u64) << 32) | offset as u64
}

/// Split an address into `(region id, offset)`.
pub const fn split(addr: u64) -> (u32, u32) {
    ((addr >> 32) as u32, addr as u32)
}

/// What a region holds; shown in fault messages and used by helpers to
/// recognise map handles and ring buffer samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// Stack of call frame `frame`.
    Stack { frame: u8 },
    /// The program's context (`r1` on entry).
    Context,
    /// A map handle as loaded by `lddw rX, map`; not dereferenceable.
    Map { map: u32 },
    /// A map value handed out by a lookup.
    MapValue { map: u32, cpu: u32 },
    /// A copy of a map key given to a `for_each_map_elem` callback.
    MapKey { map: u32 },
    /// A ring buffer sample from `ringbuf_reserve`.
    RingBufSample { map: u32 },
    /// Input memory given by the caller (e.g. a conformance test's `-- mem`).
    Input,
    /// Memory of the traced process (strings an events file gives).
    User,
    /// Read-only data.
    ReadOnly,
    /// Function pointers (offset = instruction index).
    Code,
}

impl fmt::Display for RegionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionKind::Stack { frame } => write!(f, "stack of frame {frame}"),
            RegionKind::Context => write!(f, "context"),
            RegionKind::Map { map } => write!(f, "map #{map} (handle)"),
            RegionKind::MapValue { map, cpu } => write!(f, "value of map #{map} (cpu {cpu})"),
            RegionKind::MapKey { map } => write!(f, "key of map #{map}"),
            RegionKind::RingBufSample { map } => write!(f, "ring buffer sample of map #{map}"),
            RegionKind::Input => write!(f, "input memory"),
            RegionKind::User => write!(f, "user memory"),
            RegionKind::ReadOnly => write!(f, "read-only data"),
            RegionKind::Code => write!(f, "code"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A bad memory access: where, what and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub addr: u64,
    /// The region the address names, when it names one.
    pub region: Option<RegionKind>,
    /// Offset of the access inside that region.
    pub offset: u32,
    pub size: usize,
    pub access: Access,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.access {
            Access::Read => "read",
            Access::Write => "write",
        };
        match self.region {
            None if self.addr == 0 => write!(f, "{what} of {} bytes at NULL", self.size),
            None => write!(
                f,
                "{what} of {} bytes at 0x{:x}, which is not mapped",
                self.size, self.addr
            ),
            Some(r) => write!(
                f,
                "{what} of {} bytes at offset {} of {r} is out of bounds or not permitted",
                self.size, self.offset as i32
            ),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Region {
    pub kind: RegionKind,
    pub data: Vec<u8>,
    pub writable: bool,
}

/// All regions of a machine.
#[derive(Clone, Debug)]
pub struct Memory {
    regions: Vec<Region>,
    /// Regions with an id below this survive `reset_dynamic`.
    persistent: usize,
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl Memory {
    pub fn new() -> Memory {
        let mut regions = Vec::with_capacity(64);
        // Id 0 is NULL: an empty, unwritable placeholder so that id = index.
        regions.push(Region {
            kind: RegionKind::ReadOnly,
            data: Vec::new(),
            writable: false,
        });
        for frame in 0..MAX_STACK_FRAMES {
            regions.push(Region {
                kind: RegionKind::Stack { frame: frame as u8 },
                data: vec![0; STACK_SIZE],
                writable: true,
            });
        }
        regions.push(Region {
            kind: RegionKind::Context,
            data: Vec::new(),
            writable: false,
        });
        regions.push(Region {
            kind: RegionKind::Code,
            data: Vec::new(),
            writable: false,
        });
        debug_assert_eq!(regions.len(), FIRST_FREE as usize);
        let persistent = regions.len();
        Memory {
            regions,
            persistent,
        }
    }

    /// Add a region that lives until the machine is dropped (map handles,
    /// read-only data). Drops the current dynamic regions first.
    pub fn add_persistent(&mut self, kind: RegionKind, data: Vec<u8>, writable: bool) -> u64 {
        self.reset_dynamic();
        let id = self.push(kind, data, writable);
        self.persistent = self.regions.len();
        addr(id, 0)
    }

    /// Add a region that lives until the end of the current run.
    pub fn add_dynamic(&mut self, kind: RegionKind, data: Vec<u8>, writable: bool) -> u64 {
        addr(self.push(kind, data, writable), 0)
    }

    fn push(&mut self, kind: RegionKind, data: Vec<u8>, writable: bool) -> u32 {
        let id = self.regions.len() as u32;
        self.regions.push(Region {
            kind,
            data,
            writable,
        });
        id
    }

    /// Forget every region added with `add_dynamic`.
    pub fn reset_dynamic(&mut self) {
        self.regions.truncate(self.persistent);
    }

    /// Replace the context region's bytes.
    pub fn set_context(&mut self, data: &[u8], writable: bool) {
        let r = &mut self.regions[CONTEXT_REGION as usize];
        r.data.clear();
        r.data.extend_from_slice(data);
        r.writable = writable;
    }

    /// Zero a stack frame (a fresh frame starts zeroed so runs are reproducible).
    pub fn clear_stack(&mut self, frame: usize) {
        if let Some(r) = self.regions.get_mut(stack_region(frame) as usize) {
            r.data.fill(0);
        }
    }

    /// Number of regions, NULL's placeholder included.
    pub fn region_count(&self) -> usize {
        self.regions.len()
    }

    pub fn region(&self, id: u32) -> Option<&Region> {
        self.regions.get(id as usize)
    }

    pub fn region_mut(&mut self, id: u32) -> Option<&mut Region> {
        self.regions.get_mut(id as usize)
    }

    /// The kind of region an address points into, if it names one.
    pub fn kind_of(&self, a: u64) -> Option<RegionKind> {
        let (id, _) = split(a);
        if id == 0 {
            return None;
        }
        self.region(id).map(|r| r.kind)
    }

    fn fault(&self, a: u64, size: usize, access: Access) -> Fault {
        let (id, offset) = split(a);
        let region = if id == 0 {
            None
        } else {
            self.region(id).map(|r| r.kind)
        };
        Fault {
            addr: a,
            region,
            offset,
            size,
            access,
        }
    }

    /// `len` bytes at `a`, readable.
    #[inline]
    pub fn slice(&self, a: u64, len: usize) -> Result<&[u8], Fault> {
        let (id, off) = split(a);
        let off = off as usize;
        self.regions
            .get(id as usize)
            .filter(|_| id != 0)
            .and_then(|r| r.data.get(off..off.checked_add(len)?))
            .ok_or_else(|| self.fault(a, len, Access::Read))
    }

    /// `len` bytes at `a`, writable.
    #[inline]
    pub fn slice_mut(&mut self, a: u64, len: usize) -> Result<&mut [u8], Fault> {
        let (id, off) = split(a);
        let off = off as usize;
        let ok = id != 0
            && self.regions.get(id as usize).is_some_and(|r| {
                r.writable && off.checked_add(len).is_some_and(|e| e <= r.data.len())
            });
        if !ok {
            return Err(self.fault(a, len, Access::Write));
        }
        Ok(&mut self.regions[id as usize].data[off..off + len])
    }

    /// Load `size` (1, 2, 4 or 8) bytes, little endian, zero-extended.
    #[inline(always)]
    pub fn load(&self, a: u64, size: usize) -> Result<u64, Fault> {
        let (id, off) = split(a);
        let off = off as usize;
        // Region 0 (NULL) has no bytes, so it needs no test of its own.
        if let Some(b) = self
            .regions
            .get(id as usize)
            .and_then(|r| r.data.get(off..off + size))
        {
            return Ok(match size {
                1 => b[0] as u64,
                2 => u16::from_le_bytes([b[0], b[1]]) as u64,
                4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64,
                _ => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            });
        }
        Err(self.cold_fault(a, size, Access::Read))
    }

    /// Store the low `size` (1, 2, 4 or 8) bytes of `v`, little endian.
    #[inline(always)]
    pub fn store(&mut self, a: u64, size: usize, v: u64) -> Result<(), Fault> {
        let (id, off) = split(a);
        let off = off as usize;
        if let Some(r) = self.regions.get_mut(id as usize) {
            if r.writable {
                if let Some(b) = r.data.get_mut(off..off + size) {
                    b.copy_from_slice(&v.to_le_bytes()[..size]);
                    return Ok(());
                }
            }
        }
        Err(self.cold_fault(a, size, Access::Write))
    }

    #[cold]
    #[inline(never)]
    fn cold_fault(&self, a: u64, size: usize, access: Access) -> Fault {
        self.fault(a, size, access)
    }

    /// Read a NUL-terminated string of at most `max` bytes (the NUL not
    /// included); stops early at the end of the region.
    pub fn read_cstr(&self, a: u64, max: usize) -> Result<Vec<u8>, Fault> {
        let (id, off) = split(a);
        let r = self
            .regions
            .get(id as usize)
            .filter(|_| id != 0)
            .filter(|r| (off as usize) < r.data.len() || max == 0)
            .ok_or_else(|| self.fault(a, 1, Access::Read))?;
        let rest = r.data.get(off as usize..).unwrap_or(&[]);
        let rest = &rest[..rest.len().min(max)];
        let n = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        Ok(rest[..n].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_unmapped_fault() {
        let m = Memory::new();
        let f = m.load(0, 8).unwrap_err();
        assert_eq!(f.region, None);
        assert!(f.to_string().contains("NULL"));
        assert!(m.load(addr(999, 0), 1).is_err());
    }

    #[test]
    fn stack_bounds() {
        let mut m = Memory::new();
        let top = addr(stack_region(0), STACK_SIZE as u32);
        m.store(top - 8, 8, 0x1122).unwrap();
        assert_eq!(m.load(top - 8, 8).unwrap(), 0x1122);
        let f = m.store(top - 4, 8, 1).unwrap_err();
        assert_eq!(f.region, Some(RegionKind::Stack { frame: 0 }));
        assert_eq!(f.offset, 508);
        assert_eq!(f.access, Access::Write);
        // Below the bottom of frame 1's stack lands at a huge offset of frame 0.
        assert!(m.load(addr(stack_region(1), 0) - 8, 8).is_err());
        assert!(m.load(top, 1).is_err());
    }

    #[test]
    fn read_only_and_dynamic() {
        let mut m = Memory::new();
        let p = m.add_persistent(RegionKind::ReadOnly, b"hi\0x".to_vec(), false);
        assert!(m.store(p, 1, 0).is_err());
        assert_eq!(m.read_cstr(p, 64).unwrap(), b"hi");
        let d = m.add_dynamic(RegionKind::Input, vec![1, 2], true);
        assert_eq!(m.load(d + 1, 1).unwrap(), 2);
        m.reset_dynamic();
        assert!(m.load(d, 1).is_err());
        assert_eq!(m.load(p, 1).unwrap(), b'h' as u64);
    }
}
