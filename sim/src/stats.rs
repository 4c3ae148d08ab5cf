//! Statistics as userspace sees them: every CPU's copy of a statistic
//! (`object::StatDesc` layout: count, sum, min, max, then the log and
//! linear buckets, all i64) merged into one, and the text of
//! `print(@hist_…)`. Works through the `MapStore` trait, so the same code
//! reads the simulator's maps and (through the loader) the kernel's.

use crate::format;
use crate::maps::{MapError, MapStore};
use bpf::{HistDesc, StatDesc};

/// A statistic merged over every CPU.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Merged {
    pub count: i64,
    pub sum: i64,
    /// Meaningful only when `count > 0`.
    pub min: i64,
    pub max: i64,
    /// `StatDesc::LOG_BUCKETS` entries when the statistic keeps them.
    pub log: Vec<u64>,
    /// `StatDesc::linear_buckets` entries (underflow first) when kept.
    pub linear: Vec<u64>,
}

impl Merged {
    /// `@count` … `@avg` by the `stapc_stat_read` operand code (0 count,
    /// 1 sum, 2 min, 3 max, 4 avg truncated toward zero); 0 for min, max and
    /// avg of an empty statistic and for an unknown code.
    pub fn aggregate(&self, op: u64) -> i64 {
        match op {
            0 => self.count,
            1 => self.sum,
            2 if self.count > 0 => self.min,
            3 if self.count > 0 => self.max,
            4 if self.count > 0 => self.sum.wrapping_div(self.count),
            _ => 0,
        }
    }
}

fn word(v: &[u8], off: usize) -> i64 {
    v.get(off..off + 8)
        .and_then(|b| b.try_into().ok())
        .map(i64::from_le_bytes)
        .unwrap_or(0)
}

fn add_buckets(dst: &mut Vec<u64>, v: &[u8], off: usize, n: usize) {
    dst.resize(n, 0);
    for (k, d) in dst.iter_mut().enumerate() {
        *d = d.wrapping_add(word(v, off + 8 * k) as u64);
    }
}

/// Merge per-CPU values of a statistic; `desc` says which buckets exist
/// (`None`: only count, sum, min and max are read). Values shorter than the
/// layout read as zeros past their end.
pub fn merge<V: AsRef<[u8]>>(values: &[V], desc: Option<&StatDesc>) -> Merged {
    let mut m = Merged::default();
    for v in values {
        let v = v.as_ref();
        let count = word(v, StatDesc::COUNT as usize);
        if count == 0 {
            continue;
        }
        let (min, max) = (
            word(v, StatDesc::MIN as usize),
            word(v, StatDesc::MAX as usize),
        );
        if m.count == 0 {
            (m.min, m.max) = (min, max);
        } else {
            m.min = m.min.min(min);
            m.max = m.max.max(max);
        }
        m.count = m.count.wrapping_add(count);
        m.sum = m.sum.wrapping_add(word(v, StatDesc::SUM as usize));
    }
    if let Some(d) = desc {
        if d.log {
            let mut log = vec![0; StatDesc::LOG_BUCKETS as usize];
            for v in values {
                add_buckets(
                    &mut log,
                    v.as_ref(),
                    d.log_offset() as usize,
                    StatDesc::LOG_BUCKETS as usize,
                );
            }
            m.log = log;
        }
        if d.linear.is_some() {
            let n = d.linear_buckets() as usize;
            let mut lin = vec![0; n];
            for v in values {
                add_buckets(&mut lin, v.as_ref(), d.linear_offset() as usize, n);
            }
            m.linear = lin;
        }
    }
    m
}

/// Read statistic `desc` at `key` from every CPU and merge; an absent key
/// (an array element never added to) is an empty statistic.
pub fn read(store: &mut dyn MapStore, desc: &StatDesc, key: &[u8]) -> Result<Merged, MapError> {
    let values = store.lookup_all_cpus(desc.map, key)?.unwrap_or_default();
    Ok(merge(&values, Some(desc)))
}

/// The key of a statistic: the u32 0 of a global one, else the packed
/// array key that follows a HIST record's header.
pub fn key_of(store: &dyn MapStore, desc: &StatDesc, body: &[u8]) -> Option<Vec<u8>> {
    if desc.keys.is_empty() {
        return Some(0u32.to_le_bytes().to_vec());
    }
    let ks = store.def(desc.map)?.key_size as usize;
    body.get(..ks).map(<[u8]>::to_vec)
}

/// The text of `print(@hist_…)` for histogram site `hist` of statistic
/// `stat` (already merged).
pub fn hist_text(hist: &HistDesc, stat: &StatDesc, merged: &Merged) -> String {
    match (hist.linear, stat.linear) {
        (true, Some((start, _, interval))) => format::hist_linear(&merged.linear, start, interval),
        _ => format::hist_log(&merged.log),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::SimMaps;
    use bpf::{MapDef, MapKind};

    fn value(count: i64, sum: i64, min: i64, max: i64, desc: &StatDesc) -> Vec<u8> {
        let mut v = vec![0u8; desc.value_size() as usize];
        for (i, w) in [count, sum, min, max].iter().enumerate() {
            v[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
        }
        v
    }

    fn set_bucket(v: &mut [u8], off: u32, k: usize, n: i64) {
        let o = off as usize + 8 * k;
        v[o..o + 8].copy_from_slice(&n.to_le_bytes());
    }

    #[test]
    fn merges_cpus_skipping_empty_ones() {
        let desc = StatDesc {
            name: "s".into(),
            map: 0,
            keys: vec![],
            log: true,
            linear: Some((0, 50, 10)),
        };
        let mut a = value(2, 10, 3, 7, &desc);
        set_bucket(&mut a, desc.log_offset(), format::log_bucket(3), 1);
        set_bucket(&mut a, desc.log_offset(), format::log_bucket(7), 1);
        set_bucket(&mut a, desc.linear_offset(), 1, 2);
        // An empty CPU: its zero min/max must not win.
        let empty = value(0, 0, 0, 0, &desc);
        let mut b = value(3, -3, -5, 2, &desc);
        set_bucket(&mut b, desc.log_offset(), format::log_bucket(-5), 1);
        set_bucket(&mut b, desc.log_offset(), format::log_bucket(2), 2);
        set_bucket(&mut b, desc.linear_offset(), 0, 1);
        set_bucket(&mut b, desc.linear_offset(), 1, 2);
        let m = merge(&[a, empty, b], Some(&desc));
        assert_eq!((m.count, m.sum, m.min, m.max), (5, 7, -5, 7));
        assert_eq!(m.aggregate(4), 1);
        assert_eq!(m.log[format::log_bucket(2)], 3);
        assert_eq!(m.log[format::log_bucket(-5)], 1);
        assert_eq!(m.log.iter().sum::<u64>(), 5);
        assert_eq!(m.linear.len(), 8);
        assert_eq!(&m.linear[..2], &[1, 4]);
    }

    #[test]
    fn empty_statistic_aggregates() {
        let m = merge::<Vec<u8>>(&[], None);
        for op in 0..5 {
            assert_eq!(m.aggregate(op), 0);
        }
        // avg truncates toward zero.
        let m = Merged {
            count: 2,
            sum: -7,
            ..Merged::default()
        };
        assert_eq!(m.aggregate(4), -3);
    }

    #[test]
    fn reads_every_cpu_through_the_store() {
        let desc = StatDesc {
            name: "s".into(),
            map: 0,
            keys: vec![],
            log: false,
            linear: None,
        };
        let def = MapDef {
            name: "stat_s".into(),
            kind: MapKind::PerCpuArray,
            key_size: 4,
            value_size: desc.value_size(),
            max_entries: 1,
            init: vec![],
        };
        let mut maps = SimMaps::new(&[def], 4).unwrap();
        let key = 0u32.to_le_bytes();
        for (cpu, (c, s, lo, hi)) in [(1, 4, 4, 4), (0, 0, 0, 0), (2, 1, -1, 2), (1, 9, 9, 9)]
            .into_iter()
            .enumerate()
        {
            let v = value(c, s, lo, hi, &desc);
            maps.update(0, &key, &v, 0, Some(cpu as u32)).unwrap();
        }
        let m = read(&mut maps, &desc, &key).unwrap();
        assert_eq!((m.count, m.sum, m.min, m.max), (4, 14, -1, 9));
        assert_eq!(m.aggregate(4), 3);
    }
}
