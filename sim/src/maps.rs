//! BPF maps for the simulator behind the `MapStore` trait, so that the
//! loader can back userspace probes with the kernel's own maps later.
//!
//! `SimMaps` implements every map kind stapc uses: array, hash, per-CPU
//! array/hash (several simulated CPUs), LRU hash, perf event array and ring
//! buffer. Hash maps iterate in insertion order so output never depends on
//! hashing. Values are exchanged by copy; the machine keeps the copy it hands
//! a program stable for the whole run and writes it back afterwards, so map
//! value pointers behave as the kernel's do.

use bpf::{MapDef, MapKind};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// `flags` of `map_update_elem`.
pub const BPF_ANY: u64 = 0;
pub const BPF_NOEXIST: u64 = 1;
pub const BPF_EXIST: u64 = 2;

/// Bytes of perf buffer per simulated CPU before records are dropped.
pub const PERF_BUFFER_BYTES: usize = 1 << 20;
/// Largest value and key of one element (the kernel's kmalloc limit is of
/// the same order; keys of many string columns must fit).
pub const MAX_VALUE_SIZE: u32 = 4 << 20;
pub const MAX_KEY_SIZE: u32 = 64 << 10;
/// Most simulated CPUs (as many as Linux's default NR_CPUS on x86-64).
pub const MAX_CPUS: u32 = 8192;
/// Largest total size of one map's storage the simulator accepts.
pub const MAX_MAP_BYTES: u64 = 256 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapError {
    NoSuchMap(u32),
    /// The key or value had the wrong size for the map.
    Size {
        map: u32,
        what: &'static str,
        expected: u32,
        got: usize,
    },
    /// A map definition the simulator cannot create.
    BadDef {
        map: u32,
        reason: String,
    },
    /// The operation does not apply to this kind of map.
    Unsupported {
        map: u32,
        kind: MapKind,
        op: &'static str,
    },
    /// Update of a new key into a full map, or an array index out of range (E2BIG).
    Full,
    /// `BPF_NOEXIST` and the key exists (EEXIST).
    Exists,
    /// `BPF_EXIST` or delete and the key does not exist (ENOENT).
    NotFound,
    /// Bad flags or a delete on an array (EINVAL).
    Invalid,
    /// No room in a ring or perf buffer (EAGAIN / ENOSPC); the record is dropped.
    NoSpace,
}

impl MapError {
    /// The negative errno a helper returns for this error.
    pub fn errno(&self) -> i64 {
        match self {
            MapError::Full => -7,
            MapError::Exists => -17,
            MapError::NotFound => -2,
            MapError::NoSpace => -11,
            _ => -22,
        }
    }
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::NoSuchMap(m) => write!(f, "no map #{m}"),
            MapError::Size {
                map,
                what,
                expected,
                got,
            } => {
                write!(f, "map #{map}: {what} is {got} bytes, expected {expected}")
            }
            MapError::BadDef { map, reason } => write!(f, "map #{map}: {reason}"),
            MapError::Unsupported { map, kind, op } => {
                write!(
                    f,
                    "map #{map}: {op} is not supported on a {} map",
                    kind.name()
                )
            }
            MapError::Full => write!(f, "map is full (E2BIG)"),
            MapError::Exists => write!(f, "key exists (EEXIST)"),
            MapError::NotFound => write!(f, "no such key (ENOENT)"),
            MapError::Invalid => write!(f, "invalid argument (EINVAL)"),
            MapError::NoSpace => write!(f, "no space in buffer (EAGAIN)"),
        }
    }
}

impl std::error::Error for MapError {}

/// Storage for a set of maps, addressed by index (`lddw` imm in an Object).
///
/// `cpu` arguments select the per-CPU copy of a per-CPU map (ignored for the
/// others); `None` in `update` means "every CPU", as a userspace update does.
pub trait MapStore {
    fn def(&self, map: u32) -> Option<&MapDef>;
    fn map_count(&self) -> u32;
    /// Number of simulated (or possible) CPUs.
    fn cpus(&self) -> u32;
    /// A copy of the value for `key` (on `cpu` for per-CPU maps).
    fn lookup(&mut self, map: u32, key: &[u8], cpu: u32) -> Result<Option<Vec<u8>>, MapError>;
    /// Every CPU's value of a per-CPU map (one entry for other maps).
    fn lookup_all_cpus(&mut self, map: u32, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>, MapError>;
    fn update(
        &mut self,
        map: u32,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: Option<u32>,
    ) -> Result<(), MapError>;
    fn delete(&mut self, map: u32, key: &[u8]) -> Result<(), MapError>;
    /// The key after `key` (the first key for `None` or a missing key);
    /// `None` at the end.
    fn next_key(&mut self, map: u32, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError>;
    /// Append a record to a perf event array (on `cpu`) or ring buffer.
    fn output(&mut self, map: u32, cpu: u32, data: &[u8]) -> Result<(), MapError>;
    /// Reserve `size` bytes in a ring buffer (counted until submitted or discarded).
    fn reserve(&mut self, map: u32, size: u32) -> Result<(), MapError>;
    /// Finish a reservation: `Some(data)` submits it, `None` discards it.
    fn commit(&mut self, map: u32, size: u32, data: Option<&[u8]>) -> Result<(), MapError>;
    /// Take every record of a perf event array or ring buffer, oldest first.
    fn drain(&mut self, map: u32) -> Result<Vec<Vec<u8>>, MapError>;
    /// Records dropped so far because a buffer was full.
    fn dropped(&self, map: u32) -> u64;
    /// Whether perf and ring buffers drop records when full (`true`, as the
    /// kernel's do) or grow without limit: userspace probes run on the
    /// simulator, where one loop may print more than a buffer holds before
    /// the next drain.
    fn set_buffer_limits(&mut self, _enforced: bool) {}
}

#[derive(Debug)]
struct HashEntry {
    /// One value, or one per CPU for a per-CPU hash.
    values: Vec<Vec<u8>>,
    /// Insertion sequence number (iteration order).
    seq: u64,
    /// Last use, for LRU eviction.
    stamp: u64,
}

#[derive(Debug)]
enum Data {
    /// Per CPU (one for plain arrays): `max_entries * value_size` bytes.
    Array(Vec<Vec<u8>>),
    Hash {
        entries: FxHashMap<Vec<u8>, HashEntry>,
        order: BTreeMap<u64, Vec<u8>>,
        recency: BTreeMap<u64, Vec<u8>>,
        next_seq: u64,
    },
    Perf {
        queue: VecDeque<(u32, Vec<u8>)>,
        bytes: Vec<usize>,
        dropped: u64,
    },
    RingBuf {
        queue: VecDeque<Vec<u8>>,
        used: usize,
        capacity: usize,
        dropped: u64,
    },
}

#[derive(Debug)]
struct SimMap {
    def: MapDef,
    data: Data,
}

/// In-memory maps for the simulator.
#[derive(Debug)]
pub struct SimMaps {
    maps: Vec<SimMap>,
    cpus: u32,
    clock: u64,
    /// See `MapStore::set_buffer_limits`.
    limits: bool,
}

/// Bytes a ring buffer record takes: an 8-byte header, rounded up to 8.
fn ringbuf_cost(size: usize) -> usize {
    (size + 8 + 7) & !7
}

impl SimMaps {
    /// Create the maps of `defs` with `cpus` simulated CPUs (clamped to
    /// 1..=`MAX_CPUS`).
    pub fn new(defs: &[MapDef], cpus: u32) -> Result<SimMaps, MapError> {
        let cpus = cpus.clamp(1, MAX_CPUS);
        let mut maps = Vec::with_capacity(defs.len());
        for (i, def) in defs.iter().enumerate() {
            let i = i as u32;
            let bad = |reason: &str| MapError::BadDef {
                map: i,
                reason: reason.to_string(),
            };
            let per_cpu_copies = match def.kind {
                MapKind::PerCpuArray | MapKind::PerCpuHash => cpus as u64,
                _ => 1,
            };
            let data = match def.kind {
                MapKind::Array | MapKind::PerCpuArray => {
                    if def.key_size != 4 {
                        return Err(bad("array keys must be 4 bytes"));
                    }
                    if def.value_size == 0 || def.max_entries == 0 {
                        return Err(bad("array with no value bytes or no entries"));
                    }
                    let total =
                        def.value_size as u128 * def.max_entries as u128 * per_cpu_copies as u128;
                    if total > MAX_MAP_BYTES as u128 || def.value_size > MAX_VALUE_SIZE {
                        return Err(bad("too large for the simulator"));
                    }
                    let one = (def.value_size as usize) * (def.max_entries as usize);
                    Data::Array((0..per_cpu_copies).map(|_| vec![0; one]).collect())
                }
                MapKind::Hash | MapKind::PerCpuHash | MapKind::LruHash => {
                    if def.key_size == 0 || def.value_size == 0 || def.max_entries == 0 {
                        return Err(bad("hash map with empty keys, values or no entries"));
                    }
                    let total = (def.value_size as u128 * per_cpu_copies as u128
                        + def.key_size as u128)
                        * def.max_entries as u128;
                    if total > MAX_MAP_BYTES as u128 * 4
                        || def.value_size > MAX_VALUE_SIZE
                        || def.key_size > MAX_KEY_SIZE
                    {
                        return Err(bad("too large for the simulator"));
                    }
                    Data::Hash {
                        entries: FxHashMap::default(),
                        order: BTreeMap::new(),
                        recency: BTreeMap::new(),
                        next_seq: 0,
                    }
                }
                MapKind::PerfEventArray => Data::Perf {
                    queue: VecDeque::new(),
                    bytes: vec![0; cpus as usize],
                    dropped: 0,
                },
                MapKind::RingBuf => {
                    let cap = def.max_entries as usize;
                    if cap == 0 || !cap.is_power_of_two() || cap as u64 > MAX_MAP_BYTES {
                        return Err(bad("ring buffer size must be a power of two"));
                    }
                    Data::RingBuf {
                        queue: VecDeque::new(),
                        used: 0,
                        capacity: cap,
                        dropped: 0,
                    }
                }
            };
            maps.push(SimMap {
                def: def.clone(),
                data,
            });
        }
        Ok(SimMaps {
            maps,
            cpus,
            clock: 0,
            limits: true,
        })
    }

    fn map(&mut self, map: u32) -> Result<&mut SimMap, MapError> {
        self.maps
            .get_mut(map as usize)
            .ok_or(MapError::NoSuchMap(map))
    }

    fn check_key(m: &SimMap, map: u32, key: &[u8]) -> Result<(), MapError> {
        if key.len() != m.def.key_size as usize {
            return Err(MapError::Size {
                map,
                what: "key",
                expected: m.def.key_size,
                got: key.len(),
            });
        }
        Ok(())
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
}

fn array_index(key: &[u8]) -> usize {
    u32::from_le_bytes([key[0], key[1], key[2], key[3]]) as usize
}

impl MapStore for SimMaps {
    fn def(&self, map: u32) -> Option<&MapDef> {
        self.maps.get(map as usize).map(|m| &m.def)
    }

    fn map_count(&self) -> u32 {
        self.maps.len() as u32
    }

    fn cpus(&self) -> u32 {
        self.cpus
    }

    fn lookup(&mut self, map: u32, key: &[u8], cpu: u32) -> Result<Option<Vec<u8>>, MapError> {
        let stamp = self.tick();
        let cpus = self.cpus;
        let m = self.map(map)?;
        Self::check_key(m, map, key)?;
        let vs = m.def.value_size as usize;
        let cpu = if cpu < cpus { cpu as usize } else { 0 };
        match &mut m.data {
            Data::Array(per_cpu) => {
                let i = array_index(key);
                if i >= m.def.max_entries as usize {
                    return Ok(None);
                }
                let copy = if per_cpu.len() > 1 { cpu } else { 0 };
                Ok(Some(per_cpu[copy][i * vs..(i + 1) * vs].to_vec()))
            }
            Data::Hash {
                entries, recency, ..
            } => {
                let Some(e) = entries.get_mut(key) else {
                    return Ok(None);
                };
                if m.def.kind == MapKind::LruHash {
                    recency.remove(&e.stamp);
                    e.stamp = stamp;
                    recency.insert(stamp, key.to_vec());
                }
                let copy = if e.values.len() > 1 { cpu } else { 0 };
                Ok(Some(e.values[copy].clone()))
            }
            _ => Err(MapError::Unsupported {
                map,
                kind: m.def.kind,
                op: "lookup",
            }),
        }
    }

    fn lookup_all_cpus(&mut self, map: u32, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>, MapError> {
        let m = self.map(map)?;
        Self::check_key(m, map, key)?;
        let vs = m.def.value_size as usize;
        match &m.data {
            Data::Array(per_cpu) => {
                let i = array_index(key);
                if i >= m.def.max_entries as usize {
                    return Ok(None);
                }
                Ok(Some(
                    per_cpu
                        .iter()
                        .map(|c| c[i * vs..(i + 1) * vs].to_vec())
                        .collect(),
                ))
            }
            Data::Hash { entries, .. } => Ok(entries.get(key).map(|e| e.values.clone())),
            _ => Err(MapError::Unsupported {
                map,
                kind: m.def.kind,
                op: "lookup",
            }),
        }
    }

    fn update(
        &mut self,
        map: u32,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: Option<u32>,
    ) -> Result<(), MapError> {
        let stamp = self.tick();
        let cpus = self.cpus as usize;
        let m = self.map(map)?;
        Self::check_key(m, map, key)?;
        let vs = m.def.value_size as usize;
        if value.len() != vs {
            return Err(MapError::Size {
                map,
                what: "value",
                expected: m.def.value_size,
                got: value.len(),
            });
        }
        if flags > BPF_EXIST {
            return Err(MapError::Invalid);
        }
        let kind = m.def.kind;
        let max = m.def.max_entries as usize;
        match &mut m.data {
            Data::Array(per_cpu) => {
                let i = array_index(key);
                if i >= max {
                    return Err(MapError::Full);
                }
                if flags == BPF_NOEXIST {
                    return Err(MapError::Exists);
                }
                let n = per_cpu.len();
                for (c, copy) in per_cpu.iter_mut().enumerate() {
                    if n == 1 || cpu.is_none_or(|x| x as usize == c) {
                        copy[i * vs..(i + 1) * vs].copy_from_slice(value);
                    }
                }
                Ok(())
            }
            Data::Hash {
                entries,
                order,
                recency,
                next_seq,
            } => {
                let per_cpu = kind == MapKind::PerCpuHash;
                if let Some(e) = entries.get_mut(key) {
                    if flags == BPF_NOEXIST {
                        return Err(MapError::Exists);
                    }
                    for (c, v) in e.values.iter_mut().enumerate() {
                        if !per_cpu || cpu.is_none_or(|x| x as usize == c) {
                            v.copy_from_slice(value);
                        }
                    }
                    if kind == MapKind::LruHash {
                        recency.remove(&e.stamp);
                        e.stamp = stamp;
                        recency.insert(stamp, key.to_vec());
                    }
                    return Ok(());
                }
                if flags == BPF_EXIST {
                    return Err(MapError::NotFound);
                }
                if entries.len() >= max {
                    if kind != MapKind::LruHash {
                        return Err(MapError::Full);
                    }
                    // Evict the least recently used element.
                    if let Some((_, old)) = recency.pop_first() {
                        if let Some(e) = entries.remove(&old) {
                            order.remove(&e.seq);
                        }
                    }
                }
                let values = if per_cpu {
                    (0..cpus)
                        .map(|c| {
                            if cpu.is_none_or(|x| x as usize == c) {
                                value.to_vec()
                            } else {
                                vec![0; vs]
                            }
                        })
                        .collect()
                } else {
                    vec![value.to_vec()]
                };
                let seq = *next_seq;
                *next_seq += 1;
                order.insert(seq, key.to_vec());
                if kind == MapKind::LruHash {
                    recency.insert(stamp, key.to_vec());
                }
                entries.insert(key.to_vec(), HashEntry { values, seq, stamp });
                Ok(())
            }
            _ => Err(MapError::Unsupported {
                map,
                kind,
                op: "update",
            }),
        }
    }

    fn delete(&mut self, map: u32, key: &[u8]) -> Result<(), MapError> {
        let m = self.map(map)?;
        Self::check_key(m, map, key)?;
        match &mut m.data {
            Data::Array(_) => Err(MapError::Invalid),
            Data::Hash {
                entries,
                order,
                recency,
                ..
            } => {
                let e = entries.remove(key).ok_or(MapError::NotFound)?;
                order.remove(&e.seq);
                if m.def.kind == MapKind::LruHash {
                    recency.remove(&e.stamp);
                }
                Ok(())
            }
            _ => Err(MapError::Unsupported {
                map,
                kind: m.def.kind,
                op: "delete",
            }),
        }
    }

    fn next_key(&mut self, map: u32, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        let m = self.map(map)?;
        if let Some(k) = key {
            Self::check_key(m, map, k)?;
        }
        match &m.data {
            Data::Array(_) => {
                let next = match key {
                    Some(k) if array_index(k) < m.def.max_entries as usize => array_index(k) + 1,
                    _ => 0,
                };
                Ok((next < m.def.max_entries as usize)
                    .then(|| (next as u32).to_le_bytes().to_vec()))
            }
            Data::Hash { entries, order, .. } => {
                let from = key
                    .and_then(|k| entries.get(k))
                    .map(|e| e.seq + 1)
                    .unwrap_or(0);
                Ok(order.range(from..).next().map(|(_, k)| k.clone()))
            }
            _ => Err(MapError::Unsupported {
                map,
                kind: m.def.kind,
                op: "get_next_key",
            }),
        }
    }

    fn output(&mut self, map: u32, cpu: u32, data: &[u8]) -> Result<(), MapError> {
        let cpus = self.cpus;
        let limits = self.limits;
        let m = self.map(map)?;
        match &mut m.data {
            Data::Perf {
                queue,
                bytes,
                dropped,
            } => {
                if cpu >= cpus {
                    return Err(MapError::Full);
                }
                let b = &mut bytes[cpu as usize];
                if limits && *b + data.len() + 8 > PERF_BUFFER_BYTES {
                    *dropped += 1;
                    return Err(MapError::NoSpace);
                }
                *b += data.len() + 8;
                queue.push_back((cpu, data.to_vec()));
                Ok(())
            }
            Data::RingBuf { .. } => {
                self.reserve(map, data.len() as u32)?;
                self.commit(map, data.len() as u32, Some(data))
            }
            _ => Err(MapError::Unsupported {
                map,
                kind: m.def.kind,
                op: "output",
            }),
        }
    }

    fn reserve(&mut self, map: u32, size: u32) -> Result<(), MapError> {
        let limits = self.limits;
        let m = self.map(map)?;
        match &mut m.data {
            Data::RingBuf {
                used,
                capacity,
                dropped,
                ..
            } => {
                let cost = ringbuf_cost(size as usize);
                if limits && *used + cost > *capacity {
                    *dropped += 1;
                    return Err(MapError::NoSpace);
                }
                *used += cost;
                Ok(())
            }
            _ => Err(MapError::Unsupported {
                map,
                kind: m.def.kind,
                op: "reserve",
            }),
        }
    }

    fn commit(&mut self, map: u32, size: u32, data: Option<&[u8]>) -> Result<(), MapError> {
        let m = self.map(map)?;
        match &mut m.data {
            Data::RingBuf { queue, used, .. } => {
                match data {
                    Some(d) => queue.push_back(d.to_vec()),
                    None => *used = used.saturating_sub(ringbuf_cost(size as usize)),
                }
                Ok(())
            }
            _ => Err(MapError::Unsupported {
                map,
                kind: m.def.kind,
                op: "submit",
            }),
        }
    }

    fn drain(&mut self, map: u32) -> Result<Vec<Vec<u8>>, MapError> {
        let m = self.map(map)?;
        match &mut m.data {
            Data::Perf { queue, bytes, .. } => {
                bytes.fill(0);
                Ok(queue.drain(..).map(|(_, d)| d).collect())
            }
            Data::RingBuf { queue, used, .. } => {
                let out: Vec<Vec<u8>> = queue.drain(..).collect();
                let freed: usize = out.iter().map(|d| ringbuf_cost(d.len())).sum();
                *used = used.saturating_sub(freed);
                Ok(out)
            }
            _ => Err(MapError::Unsupported {
                map,
                kind: m.def.kind,
                op: "drain",
            }),
        }
    }

    fn dropped(&self, map: u32) -> u64 {
        match self.maps.get(map as usize).map(|m| &m.data) {
            Some(Data::Perf { dropped, .. }) | Some(Data::RingBuf { dropped, .. }) => *dropped,
            _ => 0,
        }
    }

    fn set_buffer_limits(&mut self, enforced: bool) {
        self.limits = enforced;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn k(i: u32) -> Vec<u8> {
        i.to_le_bytes().to_vec()
    }

    #[test]
    fn array_semantics() {
        let mut s = SimMaps::new(&[def(MapKind::Array, 4, 8, 2)], 1).unwrap();
        assert_eq!(s.lookup(0, &k(1), 0).unwrap(), Some(vec![0; 8]));
        assert_eq!(s.lookup(0, &k(2), 0).unwrap(), None);
        s.update(0, &k(1), &[7; 8], BPF_ANY, None).unwrap();
        assert_eq!(s.lookup(0, &k(1), 0).unwrap(), Some(vec![7; 8]));
        assert_eq!(
            s.update(0, &k(2), &[7; 8], BPF_ANY, None),
            Err(MapError::Full)
        );
        assert_eq!(
            s.update(0, &k(0), &[7; 8], BPF_NOEXIST, None),
            Err(MapError::Exists)
        );
        assert_eq!(s.delete(0, &k(0)), Err(MapError::Invalid));
        assert_eq!(s.next_key(0, None).unwrap(), Some(k(0)));
        assert_eq!(s.next_key(0, Some(&k(0))).unwrap(), Some(k(1)));
        assert_eq!(s.next_key(0, Some(&k(1))).unwrap(), None);
        assert!(matches!(
            s.lookup(0, &[0; 3], 0),
            Err(MapError::Size { .. })
        ));
    }

    #[test]
    fn hash_semantics_and_order() {
        let mut s = SimMaps::new(&[def(MapKind::Hash, 4, 4, 2)], 1).unwrap();
        s.update(0, &k(9), &k(90), BPF_NOEXIST, None).unwrap();
        s.update(0, &k(3), &k(30), BPF_ANY, None).unwrap();
        assert_eq!(
            s.update(0, &k(5), &k(50), BPF_ANY, None),
            Err(MapError::Full)
        );
        assert_eq!(
            s.update(0, &k(5), &k(50), BPF_EXIST, None),
            Err(MapError::NotFound)
        );
        assert_eq!(
            s.update(0, &k(9), &k(1), BPF_NOEXIST, None),
            Err(MapError::Exists)
        );
        // Insertion order, not hash order.
        assert_eq!(s.next_key(0, None).unwrap(), Some(k(9)));
        assert_eq!(s.next_key(0, Some(&k(9))).unwrap(), Some(k(3)));
        assert_eq!(s.next_key(0, Some(&k(3))).unwrap(), None);
        s.delete(0, &k(9)).unwrap();
        assert_eq!(s.delete(0, &k(9)), Err(MapError::NotFound));
        assert_eq!(s.lookup(0, &k(9), 0).unwrap(), None);
        assert_eq!(s.next_key(0, Some(&k(9))).unwrap(), Some(k(3)));
        assert_eq!(MapError::Full.errno(), -7);
    }

    #[test]
    fn lru_evicts_least_recently_used() {
        let mut s = SimMaps::new(&[def(MapKind::LruHash, 4, 4, 2)], 1).unwrap();
        s.update(0, &k(1), &k(1), BPF_ANY, None).unwrap();
        s.update(0, &k(2), &k(2), BPF_ANY, None).unwrap();
        s.lookup(0, &k(1), 0).unwrap();
        s.update(0, &k(3), &k(3), BPF_ANY, None).unwrap();
        assert!(s.lookup(0, &k(2), 0).unwrap().is_none());
        assert!(s.lookup(0, &k(1), 0).unwrap().is_some());
        assert!(s.lookup(0, &k(3), 0).unwrap().is_some());
    }

    #[test]
    fn per_cpu_maps() {
        let defs = [
            def(MapKind::PerCpuArray, 4, 4, 1),
            def(MapKind::PerCpuHash, 4, 4, 4),
        ];
        let mut s = SimMaps::new(&defs, 2).unwrap();
        s.update(0, &k(0), &k(5), BPF_ANY, Some(1)).unwrap();
        assert_eq!(s.lookup(0, &k(0), 0).unwrap(), Some(k(0)));
        assert_eq!(s.lookup(0, &k(0), 1).unwrap(), Some(k(5)));
        assert_eq!(s.lookup_all_cpus(0, &k(0)).unwrap(), Some(vec![k(0), k(5)]));
        s.update(1, &k(7), &k(3), BPF_ANY, Some(0)).unwrap();
        assert_eq!(s.lookup_all_cpus(1, &k(7)).unwrap(), Some(vec![k(3), k(0)]));
        s.update(1, &k(7), &k(4), BPF_ANY, None).unwrap();
        assert_eq!(s.lookup_all_cpus(1, &k(7)).unwrap(), Some(vec![k(4), k(4)]));
    }

    #[test]
    fn ring_buffer_capacity_and_drops() {
        let mut s = SimMaps::new(&[def(MapKind::RingBuf, 0, 0, 64)], 1).unwrap();
        s.output(0, 0, &[1; 24]).unwrap(); // 32 bytes
        s.output(0, 0, &[2; 20]).unwrap(); // 32 bytes: full now
        assert_eq!(s.output(0, 0, &[3; 1]), Err(MapError::NoSpace));
        assert_eq!(s.dropped(0), 1);
        assert_eq!(s.drain(0).unwrap(), vec![vec![1; 24], vec![2; 20]]);
        s.reserve(0, 56).unwrap();
        assert_eq!(s.reserve(0, 1), Err(MapError::NoSpace));
        s.commit(0, 56, None).unwrap();
        s.output(0, 0, &[4; 8]).unwrap();
        assert_eq!(s.drain(0).unwrap(), vec![vec![4; 8]]);
        assert!(SimMaps::new(&[def(MapKind::RingBuf, 0, 0, 100)], 1).is_err());
        // Without limits (userspace probes) nothing is dropped.
        s.set_buffer_limits(false);
        for _ in 0..10 {
            s.output(0, 0, &[5; 40]).unwrap();
        }
        assert_eq!(s.drain(0).unwrap().len(), 10);
        // Still the two drops from before (the full output and the failed reserve).
        assert_eq!(s.dropped(0), 2);
    }

    #[test]
    fn perf_event_array_keeps_emission_order() {
        let mut s = SimMaps::new(&[def(MapKind::PerfEventArray, 4, 4, 0)], 2).unwrap();
        s.output(0, 1, b"a").unwrap();
        s.output(0, 0, b"b").unwrap();
        assert_eq!(s.output(0, 2, b"c"), Err(MapError::Full));
        assert_eq!(s.drain(0).unwrap(), vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(s.drain(0).unwrap().is_empty());
    }

    #[test]
    fn absurd_definitions_are_errors() {
        assert!(SimMaps::new(&[def(MapKind::Array, 4, u32::MAX, u32::MAX)], 1).is_err());
        assert!(SimMaps::new(&[def(MapKind::Array, 8, 4, 1)], 1).is_err());
        assert!(SimMaps::new(&[def(MapKind::Hash, 0, 4, 1)], 1).is_err());
        assert!(SimMaps::new(
            &[def(MapKind::PerCpuHash, u32::MAX, u32::MAX, u32::MAX)],
            8192
        )
        .is_err());
        assert!(SimMaps::new(&[def(MapKind::PerCpuArray, 4, 1 << 30, u32::MAX)], 8192).is_err());
        assert!(SimMaps::new(&[def(MapKind::Hash, 4, 8 << 20, 1)], 1).is_err());
    }
}
