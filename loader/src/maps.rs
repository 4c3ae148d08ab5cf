//! Kernel maps: creating an `Object`'s maps, writing their initial entries,
//! and lookup/update/delete/iteration on them (per-CPU values included).
//! Each `Map` owns its fd, so the kernel frees the map when it is dropped.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use stapc_bpf::{MapDef, MapKind};

use crate::sys::{self, Call, MapCreateAttr, SysError};

/// `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST` flags of map updates.
pub const BPF_ANY: u64 = 0;
pub const BPF_NOEXIST: u64 = 1;
pub const BPF_EXIST: u64 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapError {
    /// A bpf() map command failed.
    Syscall { map: String, source: SysError },
    /// A key or value of the wrong size was passed.
    Size {
        map: String,
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// The number of possible CPUs could not be read.
    Cpus { reason: String },
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::Syscall { map, source } => write!(f, "map `{map}`: {source}"),
            MapError::Size {
                map,
                what,
                expected,
                got,
            } => {
                write!(
                    f,
                    "map `{map}`: {what} is {got} bytes, the map's is {expected}"
                )
            }
            MapError::Cpus { reason } => write!(f, "cannot count possible CPUs: {reason}"),
        }
    }
}

impl std::error::Error for MapError {}

/// Parse a kernel CPU list such as `0-3,8,10-11`.
pub fn parse_cpu_list(s: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 65536 {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    if cpus.is_empty() {
        None
    } else {
        Some(cpus)
    }
}

fn read_cpu_list(path: &str) -> Result<Vec<u32>, MapError> {
    let text = std::fs::read_to_string(path).map_err(|e| MapError::Cpus {
        reason: format!("{path}: {e}"),
    })?;
    parse_cpu_list(&text).ok_or_else(|| MapError::Cpus {
        reason: format!("{path}: cannot parse {:?}", text.trim()),
    })
}

/// The CPUs the kernel may ever bring up (the size of per-CPU values).
pub fn possible_cpus() -> Result<Vec<u32>, MapError> {
    read_cpu_list("/sys/devices/system/cpu/possible")
}

/// The CPUs online now (where per-CPU perf events can be opened).
pub fn online_cpus() -> Result<Vec<u32>, MapError> {
    read_cpu_list("/sys/devices/system/cpu/online")
}

/// The number of slots per-CPU values and perf event arrays need: one past
/// the highest possible CPU.
pub fn possible_cpu_count() -> Result<u32, MapError> {
    Ok(possible_cpus()?.iter().max().map_or(1, |m| m + 1))
}

/// The kernel accepts `[A-Za-z0-9_.]` in object names, at most 15 bytes.
pub(crate) fn object_name(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, c) in out.iter_mut().zip(name.bytes().take(15)) {
        *o = if c.is_ascii_alphanumeric() || c == b'.' {
            c
        } else {
            b'_'
        };
    }
    out
}

/// A created kernel map.
#[derive(Debug)]
pub struct Map {
    name: String,
    kind: MapKind,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    /// Per-CPU maps: the number of CPU slots in a value (possible CPUs).
    cpus: u32,
    fd: OwnedFd,
}

impl Map {
    /// Create the map `def` describes (its `init` entries are not written;
    /// [`Map::create_and_init`] does both).
    pub fn create(def: &MapDef) -> Result<Map, MapError> {
        let per_cpu = matches!(def.kind, MapKind::PerCpuArray | MapKind::PerCpuHash);
        let needs_cpus = per_cpu || (def.kind == MapKind::PerfEventArray && def.max_entries == 0);
        let cpus = if needs_cpus { possible_cpu_count()? } else { 1 };
        let (key_size, value_size, max_entries) = match def.kind {
            // The kernel insists on these shapes.
            MapKind::RingBuf => (0, 0, def.max_entries),
            MapKind::PerfEventArray => (
                4,
                4,
                if def.max_entries == 0 {
                    cpus
                } else {
                    def.max_entries
                },
            ),
            _ => (def.key_size, def.value_size, def.max_entries),
        };
        let attr = MapCreateAttr {
            map_type: def.kind.kernel_type(),
            key_size,
            value_size,
            max_entries,
            map_name: object_name(&def.name),
            ..Default::default()
        };
        let fd =
            sys::syscall_fd(&mut Call::MapCreate(attr)).map_err(|source| MapError::Syscall {
                map: def.name.clone(),
                source,
            })?;
        Ok(Map {
            name: def.name.clone(),
            kind: def.kind,
            key_size,
            value_size,
            max_entries,
            cpus: if per_cpu { cpus } else { 1 },
            fd,
        })
    }

    /// Create the map and write its initial entries (on every CPU for
    /// per-CPU maps).
    pub fn create_and_init(def: &MapDef) -> Result<Map, MapError> {
        let map = Map::create(def)?;
        for (key, value) in &def.init {
            if map.is_per_cpu() {
                let values = vec![value.clone(); map.cpus as usize];
                map.update_per_cpu(key, &values, BPF_ANY)?;
            } else {
                map.update(key, value, BPF_ANY)?;
            }
        }
        Ok(map)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> MapKind {
        self.kind
    }

    pub fn key_size(&self) -> u32 {
        self.key_size
    }

    pub fn value_size(&self) -> u32 {
        self.value_size
    }

    /// The entries the kernel map has (for a perf event array with
    /// `max_entries` 0 in its definition: the possible CPUs).
    pub fn max_entries(&self) -> u32 {
        self.max_entries
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn is_per_cpu(&self) -> bool {
        matches!(self.kind, MapKind::PerCpuArray | MapKind::PerCpuHash)
    }

    /// CPU slots in a per-CPU value (1 for other maps).
    pub fn cpus(&self) -> u32 {
        self.cpus
    }

    /// The per-CPU stride: the kernel rounds each CPU's value up to 8 bytes.
    fn stride(&self) -> usize {
        (self.value_size as usize).div_ceil(8).max(1) * 8
    }

    fn err(&self, source: SysError) -> MapError {
        MapError::Syscall {
            map: self.name.clone(),
            source,
        }
    }

    fn check(&self, what: &'static str, expected: usize, got: usize) -> Result<(), MapError> {
        if expected == got {
            Ok(())
        } else {
            Err(MapError::Size {
                map: self.name.clone(),
                what,
                expected,
                got,
            })
        }
    }

    fn lookup_raw(&self, key: &[u8], len: usize) -> Result<Option<Vec<u8>>, MapError> {
        self.check("key", self.key_size as usize, key.len())?;
        let mut value = vec![0u8; len];
        match sys::syscall(&mut Call::MapLookupElem {
            map: self.fd(),
            key,
            value: &mut value,
        }) {
            Ok(_) => Ok(Some(value)),
            Err(e) if e.errno == libc::ENOENT => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    /// The value at `key`, `None` when absent. For per-CPU maps this is
    /// CPU 0's value; see [`Map::lookup_per_cpu`].
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        if self.is_per_cpu() {
            return Ok(self.lookup_per_cpu(key)?.and_then(|v| v.into_iter().next()));
        }
        self.lookup_raw(key, self.value_size as usize)
    }

    /// Every CPU's value at `key` (one `value_size` vector per possible CPU).
    pub fn lookup_per_cpu(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>, MapError> {
        let stride = self.stride();
        let Some(raw) = self.lookup_raw(key, stride * self.cpus as usize)? else {
            return Ok(None);
        };
        Ok(Some(
            raw.chunks(stride)
                .map(|c| c[..self.value_size as usize].to_vec())
                .collect(),
        ))
    }

    /// Write `value` at `key` (for per-CPU maps: on every CPU).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        if self.is_per_cpu() {
            let values = vec![value.to_vec(); self.cpus as usize];
            return self.update_per_cpu(key, &values, flags);
        }
        self.check("key", self.key_size as usize, key.len())?;
        self.check("value", self.value_size as usize, value.len())?;
        sys::syscall(&mut Call::MapUpdateElem {
            map: self.fd(),
            key,
            value,
            flags,
        })
        .map(drop)
        .map_err(|e| self.err(e))
    }

    /// Write one value per possible CPU at `key`.
    pub fn update_per_cpu(
        &self,
        key: &[u8],
        values: &[Vec<u8>],
        flags: u64,
    ) -> Result<(), MapError> {
        self.check("key", self.key_size as usize, key.len())?;
        self.check("number of per-CPU values", self.cpus as usize, values.len())?;
        let stride = self.stride();
        let mut raw = vec![0u8; stride * values.len()];
        for (chunk, v) in raw.chunks_mut(stride).zip(values) {
            self.check("value", self.value_size as usize, v.len())?;
            chunk[..v.len()].copy_from_slice(v);
        }
        sys::syscall(&mut Call::MapUpdateElem {
            map: self.fd(),
            key,
            value: &raw,
            flags,
        })
        .map(drop)
        .map_err(|e| self.err(e))
    }

    /// Delete `key`; false when it was absent.
    pub fn delete(&self, key: &[u8]) -> Result<bool, MapError> {
        self.check("key", self.key_size as usize, key.len())?;
        match sys::syscall(&mut Call::MapDeleteElem {
            map: self.fd(),
            key,
        }) {
            Ok(_) => Ok(true),
            Err(e) if e.errno == libc::ENOENT => Ok(false),
            Err(e) => Err(self.err(e)),
        }
    }

    /// The key after `key` (the first key for `None`); `None` at the end.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        if let Some(k) = key {
            self.check("key", self.key_size as usize, k.len())?;
        }
        let mut next = vec![0u8; self.key_size as usize];
        match sys::syscall(&mut Call::MapGetNextKey {
            map: self.fd(),
            key,
            next_key: &mut next,
        }) {
            Ok(_) => Ok(Some(next)),
            Err(e) if e.errno == libc::ENOENT => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    /// All keys, in the kernel's iteration order. Bounded by `max_entries`
    /// so a map changing underneath cannot make it loop forever.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        let mut keys = Vec::new();
        let mut cur: Option<Vec<u8>> = None;
        while keys.len() < self.max_entries as usize {
            match self.next_key(cur.as_deref())? {
                Some(k) => {
                    keys.push(k.clone());
                    cur = Some(k);
                }
                None => break,
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0,2-3,7"), Some(vec![0, 2, 3, 7]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a"), None);
    }

    #[test]
    fn object_names_are_sanitised() {
        assert_eq!(&object_name("stapc_globals")[..14], b"stapc_globals\0");
        assert_eq!(&object_name("a-b:c")[..6], b"a_b_c\0");
        let long = object_name("a_very_long_map_name_indeed");
        assert_eq!(long[15], 0);
        assert_eq!(&long[..15], b"a_very_long_map");
    }

    fn def(kind: MapKind, key: u32, value: u32, max: u32) -> MapDef {
        MapDef {
            name: "m".into(),
            kind,
            key_size: key,
            value_size: value,
            max_entries: max,
            init: vec![],
        }
    }

    #[test]
    fn creation_uses_kernel_shapes() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        fake::set(move |call| {
            if let Call::MapCreate(a) = call {
                s.borrow_mut().push(*a);
            }
            Ok(3)
        });
        let rb = Map::create(&def(MapKind::RingBuf, 4, 8, 1 << 18)).unwrap();
        let pea = Map::create(&def(MapKind::PerfEventArray, 4, 4, 0)).unwrap();
        let h = Map::create(&def(MapKind::Hash, 8, 16, 100)).unwrap();
        fake::clear();
        let seen = seen.borrow();
        assert_eq!(
            (seen[0].map_type, seen[0].key_size, seen[0].value_size),
            (27, 0, 0)
        );
        assert_eq!(seen[0].max_entries, 1 << 18);
        assert_eq!(seen[1].map_type, 4);
        assert_eq!(seen[1].max_entries, possible_cpu_count().unwrap());
        assert_eq!(pea.max_entries(), seen[1].max_entries);
        assert_eq!(
            (seen[2].map_type, seen[2].key_size, seen[2].value_size),
            (1, 8, 16)
        );
        assert_eq!(&seen[2].map_name[..2], b"m\0");
        assert_eq!(rb.kind(), MapKind::RingBuf);
        assert_eq!(h.max_entries(), 100);
    }

    #[test]
    fn per_cpu_values_are_strided_by_eight() {
        let cpus = possible_cpu_count().unwrap() as usize;
        let written = Rc::new(RefCell::new(Vec::new()));
        let w = written.clone();
        fake::set(move |call| match call {
            Call::MapUpdateElem { value, .. } => {
                w.borrow_mut().push(value.to_vec());
                Ok(0)
            }
            Call::MapLookupElem { value, .. } => {
                // CPU i holds bytes [i, i, i, 0xee(pad)...]
                assert_eq!(value.len(), 8 * cpus);
                for (i, c) in value.chunks_mut(8).enumerate() {
                    c.fill(0xee);
                    c[..3].fill(i as u8);
                }
                Ok(0)
            }
            _ => Ok(3),
        });
        let mut d = def(MapKind::PerCpuArray, 4, 3, 1);
        d.init = vec![(vec![0; 4], vec![1, 2, 3])];
        let m = Map::create_and_init(&d).unwrap();
        let v = m.lookup_per_cpu(&[0; 4]).unwrap().unwrap();
        fake::clear();
        assert_eq!(v.len(), cpus);
        assert_eq!(v[cpus - 1], vec![(cpus - 1) as u8; 3]);
        let w = written.borrow();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].len(), 8 * cpus);
        assert_eq!(&w[0][..8], &[1, 2, 3, 0, 0, 0, 0, 0]);
        assert_eq!(&w[0][8 * (cpus - 1)..8 * (cpus - 1) + 3], &[1, 2, 3]);
    }

    #[test]
    fn absent_keys_and_errors_are_distinguished() {
        fake::set(|call| match call {
            Call::MapCreate(_) => Ok(3),
            Call::MapLookupElem { key, .. } if key[0] == 1 => Err(libc::ENOENT),
            Call::MapLookupElem { .. } => Err(libc::EFAULT),
            Call::MapGetNextKey {
                key: None,
                next_key,
                ..
            } => {
                next_key.copy_from_slice(&[7, 0, 0, 0]);
                Ok(0)
            }
            Call::MapGetNextKey { .. } => Err(libc::ENOENT),
            Call::MapDeleteElem { .. } => Err(libc::ENOENT),
            _ => Err(libc::EINVAL),
        });
        let m = Map::create(&def(MapKind::Hash, 4, 8, 10)).unwrap();
        assert_eq!(m.lookup(&[1, 0, 0, 0]), Ok(None));
        let e = m.lookup(&[2, 0, 0, 0]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "map `m`: bpf(BPF_MAP_LOOKUP_ELEM) failed: EFAULT (Bad address)"
        );
        assert_eq!(m.keys().unwrap(), vec![vec![7, 0, 0, 0]]);
        assert_eq!(m.delete(&[7, 0, 0, 0]), Ok(false));
        let e = m.update(&[1, 2], &[0; 8], BPF_ANY).unwrap_err();
        assert_eq!(e.to_string(), "map `m`: key is 2 bytes, the map's is 4");
        fake::clear();
    }
}
