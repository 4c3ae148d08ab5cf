//! The simulator's `MapStore` over the kernel's maps, so that `begin`, `end`
//! and `error` programs (which run on the simulator) read and write the very
//! maps the kernel programs use.
//!
//! - Lookups and updates are `bpf()` map commands on the loaded maps.
//! - Per-CPU maps: a userspace program runs "on" one CPU (the simulator's
//!   event CPU, 0), so its lookups see **that CPU's value only** (CPU 0's
//!   for now: a userspace read of a per-CPU statistic does not merge the
//!   other CPUs); its updates rewrite that CPU's slot and keep the others.
//!   A userspace update without a CPU writes every CPU, as `bpf()` does.
//! - The output map (ring buffer or perf event array) cannot be written from
//!   userspace, so records a userspace program sends are queued here and
//!   handed back by `drain`; they are never dropped.
//! - Kernel errnos become the simulator's `MapError`s a helper turns back
//!   into the same negative errno (E2BIG, EEXIST, ENOENT, EINVAL); other
//!   failures are reported with the failing call and errno.

use std::collections::VecDeque;
use std::rc::Rc;

use stapc_bpf::{MapDef, MapKind};
use stapc_sim::maps::MapStore;
use stapc_sim::MapError as SimMapError;

use crate::maps::{Map, MapError};
use crate::Loaded;

/// A `MapStore` backed by the maps of a loaded object.
pub struct KernelMaps {
    loaded: Rc<Loaded>,
    defs: Vec<MapDef>,
    /// Records userspace programs sent, per map index (output maps only).
    queued: Vec<VecDeque<Vec<u8>>>,
    cpus: u32,
}

impl KernelMaps {
    /// A store over `loaded`'s maps, described by `defs` (the object's
    /// `maps`, in the same order).
    pub fn new(loaded: Rc<Loaded>, defs: Vec<MapDef>) -> KernelMaps {
        let cpus = loaded
            .maps()
            .iter()
            .map(Map::cpus)
            .max()
            .unwrap_or(1)
            .max(1);
        KernelMaps {
            queued: defs.iter().map(|_| VecDeque::new()).collect(),
            loaded,
            defs,
            cpus,
        }
    }

    fn map(&self, map: u32) -> Result<&Map, SimMapError> {
        self.loaded.map(map).ok_or(SimMapError::NoSuchMap(map))
    }

    fn is_output(&self, map: u32) -> Result<bool, SimMapError> {
        Ok(matches!(
            self.map(map)?.kind(),
            MapKind::RingBuf | MapKind::PerfEventArray
        ))
    }

    fn unsupported(&self, map: u32, op: &'static str) -> SimMapError {
        match self.map(map) {
            Ok(m) => SimMapError::Unsupported {
                map,
                kind: m.kind(),
                op,
            },
            Err(e) => e,
        }
    }

    fn check_size(
        &self,
        map: u32,
        what: &'static str,
        expected: u32,
        got: usize,
    ) -> Result<(), SimMapError> {
        if expected as usize == got {
            Ok(())
        } else {
            Err(SimMapError::Size {
                map,
                what,
                expected,
                got,
            })
        }
    }
}

/// The simulator's error for a failed kernel map command on map `index`.
pub fn sim_error(index: u32, e: MapError) -> SimMapError {
    match e {
        MapError::Syscall { source, .. } => match source.errno {
            libc::E2BIG | libc::ENOMEM => SimMapError::Full,
            libc::EEXIST => SimMapError::Exists,
            libc::ENOENT => SimMapError::NotFound,
            libc::EINVAL => SimMapError::Invalid,
            // The simulator has no variant for "the kernel said no"; this
            // one carries the map and the failing call with its errno.
            _ => SimMapError::BadDef {
                map: index,
                reason: source.to_string(),
            },
        },
        MapError::Size {
            what,
            expected,
            got,
            ..
        } => SimMapError::Size {
            map: index,
            what,
            expected: expected as u32,
            got,
        },
        MapError::Cpus { reason } => SimMapError::BadDef { map: index, reason },
    }
}

impl MapStore for KernelMaps {
    fn def(&self, map: u32) -> Option<&MapDef> {
        self.defs.get(map as usize)
    }

    fn map_count(&self) -> u32 {
        self.defs.len().min(self.loaded.maps().len()) as u32
    }

    fn cpus(&self) -> u32 {
        self.cpus
    }

    fn lookup(&mut self, map: u32, key: &[u8], cpu: u32) -> Result<Option<Vec<u8>>, SimMapError> {
        if self.is_output(map)? {
            return Err(self.unsupported(map, "lookup"));
        }
        let m = self.map(map)?;
        self.check_size(map, "key", m.key_size(), key.len())?;
        if m.is_per_cpu() {
            let values = m.lookup_per_cpu(key).map_err(|e| sim_error(map, e))?;
            return Ok(values.and_then(|v| v.into_iter().nth(cpu as usize)));
        }
        m.lookup(key).map_err(|e| sim_error(map, e))
    }

    fn lookup_all_cpus(
        &mut self,
        map: u32,
        key: &[u8],
    ) -> Result<Option<Vec<Vec<u8>>>, SimMapError> {
        if self.is_output(map)? {
            return Err(self.unsupported(map, "lookup"));
        }
        let m = self.map(map)?;
        self.check_size(map, "key", m.key_size(), key.len())?;
        if m.is_per_cpu() {
            return m.lookup_per_cpu(key).map_err(|e| sim_error(map, e));
        }
        Ok(m.lookup(key)
            .map_err(|e| sim_error(map, e))?
            .map(|v| vec![v]))
    }

    fn update(
        &mut self,
        map: u32,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: Option<u32>,
    ) -> Result<(), SimMapError> {
        if self.is_output(map)? {
            return Err(self.unsupported(map, "update"));
        }
        let m = self.map(map)?;
        self.check_size(map, "key", m.key_size(), key.len())?;
        self.check_size(map, "value", m.value_size(), value.len())?;
        if flags > crate::maps::BPF_EXIST {
            return Err(SimMapError::Invalid);
        }
        match cpu {
            Some(cpu) if m.is_per_cpu() => {
                if cpu >= m.cpus() {
                    return Err(SimMapError::Invalid);
                }
                // One CPU's slot: read every CPU's value, replace this one,
                // write them all back (bpf() writes per-CPU values whole).
                let current = m.lookup_per_cpu(key).map_err(|e| sim_error(map, e))?;
                let exists = current.is_some();
                match flags {
                    crate::maps::BPF_NOEXIST if exists => return Err(SimMapError::Exists),
                    crate::maps::BPF_EXIST if !exists => return Err(SimMapError::NotFound),
                    _ => {}
                }
                let mut values = current
                    .unwrap_or_else(|| vec![vec![0; m.value_size() as usize]; m.cpus() as usize]);
                if let Some(slot) = values.get_mut(cpu as usize) {
                    slot.copy_from_slice(value);
                }
                m.update_per_cpu(key, &values, flags)
                    .map_err(|e| sim_error(map, e))
            }
            _ => m.update(key, value, flags).map_err(|e| sim_error(map, e)),
        }
    }

    fn delete(&mut self, map: u32, key: &[u8]) -> Result<(), SimMapError> {
        if self.is_output(map)? {
            return Err(self.unsupported(map, "delete"));
        }
        let m = self.map(map)?;
        self.check_size(map, "key", m.key_size(), key.len())?;
        match m.delete(key).map_err(|e| sim_error(map, e))? {
            true => Ok(()),
            false => Err(SimMapError::NotFound),
        }
    }

    fn next_key(&mut self, map: u32, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, SimMapError> {
        if self.is_output(map)? {
            return Err(self.unsupported(map, "next_key"));
        }
        let m = self.map(map)?;
        if let Some(k) = key {
            self.check_size(map, "key", m.key_size(), k.len())?;
        }
        m.next_key(key).map_err(|e| sim_error(map, e))
    }

    fn output(&mut self, map: u32, _cpu: u32, data: &[u8]) -> Result<(), SimMapError> {
        if !self.is_output(map)? {
            return Err(self.unsupported(map, "output"));
        }
        if let Some(q) = self.queued.get_mut(map as usize) {
            q.push_back(data.to_vec());
        }
        Ok(())
    }

    fn reserve(&mut self, map: u32, _size: u32) -> Result<(), SimMapError> {
        // Userspace records are queued here without limit (see the module doc).
        match self.map(map)?.kind() {
            MapKind::RingBuf => Ok(()),
            _ => Err(self.unsupported(map, "reserve")),
        }
    }

    fn commit(&mut self, map: u32, _size: u32, data: Option<&[u8]>) -> Result<(), SimMapError> {
        if self.map(map)?.kind() != MapKind::RingBuf {
            return Err(self.unsupported(map, "commit"));
        }
        if let (Some(d), Some(q)) = (data, self.queued.get_mut(map as usize)) {
            q.push_back(d.to_vec());
        }
        Ok(())
    }

    fn drain(&mut self, map: u32) -> Result<Vec<Vec<u8>>, SimMapError> {
        if !self.is_output(map)? {
            return Err(self.unsupported(map, "drain"));
        }
        Ok(self
            .queued
            .get_mut(map as usize)
            .map(|q| q.drain(..).collect())
            .unwrap_or_default())
    }

    fn dropped(&self, _map: u32) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{fake, Call};
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::os::fd::AsRawFd;

    fn def(name: &str, kind: MapKind, key: u32, value: u32) -> MapDef {
        MapDef {
            name: name.into(),
            kind,
            key_size: key,
            value_size: value,
            max_entries: 4,
            init: vec![],
        }
    }

    /// Maps in a fake kernel: values by (fd, key); a hash (map 1) refuses
    /// a new key with E2BIG once it holds one, and fails lookups of key 9
    /// with EPERM.
    type Values = Rc<RefCell<HashMap<(i32, Vec<u8>), Vec<u8>>>>;

    fn store() -> (KernelMaps, Values) {
        let values: Values = Default::default();
        let v = values.clone();
        fake::set(move |call| {
            let mut v = v.borrow_mut();
            match call {
                Call::MapLookupElem { key, .. } if key[0] == 9 => return Err(libc::EPERM),
                Call::MapLookupElem { map, key, value } => {
                    match v.get(&(map.as_raw_fd(), key.to_vec())) {
                        Some(x) => value.copy_from_slice(x),
                        None => return Err(libc::ENOENT),
                    }
                }
                Call::MapUpdateElem {
                    map, key, value, ..
                } => {
                    let fd = map.as_raw_fd();
                    let full = value.len() == 16 && v.keys().any(|(f, _)| *f == fd);
                    if full && !v.contains_key(&(fd, key.to_vec())) {
                        return Err(libc::E2BIG);
                    }
                    v.insert((fd, key.to_vec()), value.to_vec());
                }
                Call::MapDeleteElem { map, key }
                    if v.remove(&(map.as_raw_fd(), key.to_vec())).is_none() =>
                {
                    return Err(libc::ENOENT);
                }
                _ => {}
            }
            Ok(0)
        });
        let defs = vec![
            def("pcpu", MapKind::PerCpuArray, 4, 4),
            def("hash", MapKind::Hash, 4, 16),
            def("out", MapKind::RingBuf, 0, 0),
        ];
        let obj = stapc_bpf::Object {
            source_name: "t.stp".into(),
            programs: vec![],
            maps: {
                let mut d = defs.clone();
                d[2].max_entries = 4096;
                d
            },
            formats: vec![],
            errors: vec![],
            max_string_len: 64,
            control_map: 1,
            output_map: 2,
            license: "GPL".into(),
            ..Default::default()
        };
        let loaded = crate::load(&obj).unwrap();
        (KernelMaps::new(Rc::new(loaded), defs), values)
    }

    #[test]
    fn a_userspace_update_of_one_cpu_keeps_the_others() {
        let (mut s, _) = store();
        let cpus = s.cpus() as usize;
        let key = 0u32.to_le_bytes();
        s.update(0, &key, &[1, 1, 1, 1], 0, None).unwrap();
        s.update(0, &key, &[7, 0, 0, 0], 0, Some(0)).unwrap();
        assert_eq!(s.lookup(0, &key, 0).unwrap(), Some(vec![7, 0, 0, 0]));
        let all = s.lookup_all_cpus(0, &key).unwrap().unwrap();
        assert_eq!(all.len(), cpus);
        assert!(all[1..].iter().all(|v| v == &[1, 1, 1, 1]));
        assert_eq!(
            s.update(0, &key, &[0; 4], 0, Some(cpus as u32)),
            Err(SimMapError::Invalid)
        );
        fake::clear();
    }

    #[test]
    fn kernel_errnos_become_the_simulators_errors() {
        let (mut s, _) = store();
        let k = |i: u8| [i, 0, 0, 0];
        assert_eq!(s.lookup(1, &k(1), 0), Ok(None));
        s.update(1, &k(1), &[5; 16], 0, None).unwrap();
        assert_eq!(
            s.update(1, &k(2), &[5; 16], 0, None),
            Err(SimMapError::Full)
        );
        assert_eq!(s.delete(1, &k(2)), Err(SimMapError::NotFound));
        s.delete(1, &k(1)).unwrap();
        assert_eq!(
            s.lookup(1, &k(9), 0).unwrap_err().to_string(),
            "map #1: bpf(BPF_MAP_LOOKUP_ELEM) failed: EPERM (Operation not permitted)"
        );
        assert!(matches!(
            s.update(1, &[1, 2], &[0; 16], 0, None),
            Err(SimMapError::Size { what: "key", .. })
        ));
        assert_eq!(s.lookup(7, &k(0), 0), Err(SimMapError::NoSuchMap(7)));
        fake::clear();
    }

    #[test]
    fn userspace_records_are_queued_in_order_and_never_dropped() {
        let (mut s, _) = store();
        s.output(2, 0, b"one").unwrap();
        s.reserve(2, 3).unwrap();
        s.commit(2, 3, Some(b"two")).unwrap();
        s.reserve(2, 5).unwrap();
        s.commit(2, 5, None).unwrap();
        assert_eq!(s.drain(2).unwrap(), vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(s.drain(2).unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(s.dropped(2), 0);
        assert!(matches!(
            s.lookup(2, &[], 0),
            Err(SimMapError::Unsupported { op: "lookup", .. })
        ));
        assert!(matches!(
            s.output(1, 0, b"x"),
            Err(SimMapError::Unsupported { op: "output", .. })
        ));
        fake::clear();
    }
}
