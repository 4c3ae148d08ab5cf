//! Reading a perf event array map (`BPF_MAP_TYPE_PERF_EVENT_ARRAY`), the
//! output channel of kernels without ring buffers: one `PERF_COUNT_SW_BPF_OUTPUT`
//! event per online CPU, each with its own mmapped ring, stored in the map
//! at its CPU's index so `bpf_perf_event_output(BPF_F_CURRENT_CPU)` finds it.
//! Records are in order within a CPU (not across CPUs).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use stapc_bpf::MapKind;

use crate::attach::{PERF_COUNT_SW_BPF_OUTPUT, PERF_TYPE_SOFTWARE};
use crate::maps::{self, Map, BPF_ANY};
use crate::ringbuf::OutputError;
use crate::sys::{self, Call, Mapping, PerfEventAttr, PerfIoctl, SysError};

/// `perf_event_attr.sample_type`: the raw data bpf_perf_event_output sends.
const PERF_SAMPLE_RAW: u64 = 1 << 10;
const PERF_RECORD_LOST: u32 = 2;
const PERF_RECORD_SAMPLE: u32 = 9;
/// Offsets in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;
const DATA_OFFSET: usize = 1040;
const DATA_SIZE: usize = 1048;

struct PerfRing {
    fd: OwnedFd,
    mem: Mapping,
    data_offset: usize,
    data_size: usize,
}

impl PerfRing {
    fn read_wrapped(&self, pos: u64, out: &mut [u8]) {
        let off = (pos % self.data_size as u64) as usize;
        let first = out.len().min(self.data_size - off);
        let (a, b) = out.split_at_mut(first);
        self.mem.read(self.data_offset + off, a);
        self.mem.read(self.data_offset, b);
    }
}

/// The per-CPU rings of one perf event array.
pub struct PerfBufReader {
    rings: Vec<PerfRing>,
    lost: u64,
}

impl PerfBufReader {
    /// Open a ring of `pages` data pages (a power of two) on every online
    /// CPU and store them in `map`.
    pub fn new(map: &Map, pages: usize) -> Result<PerfBufReader, OutputError> {
        if map.kind() != MapKind::PerfEventArray {
            return Err(OutputError::WrongKind {
                map: map.name().into(),
                kind: map.kind(),
            });
        }
        let pages = pages.max(1).next_power_of_two();
        let page = sys::page_size();
        let mut rings = Vec::new();
        for cpu in maps::online_cpus()?
            .into_iter()
            .filter(|&c| c < map.max_entries())
        {
            let mut attr = PerfEventAttr::new(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_BPF_OUTPUT);
            attr.sample_type = PERF_SAMPLE_RAW;
            attr.sample_period = 1;
            attr.wakeup_events = 1;
            let fd = sys::syscall_fd(&mut Call::PerfEventOpen {
                attr,
                name: None,
                pid: -1,
                cpu: cpu as i32,
            })?;
            let mem = sys::mmap(fd.as_fd(), (1 + pages) * page, 0, true)?;
            let raw = std::os::fd::AsRawFd::as_raw_fd(&fd) as u32;
            map.update(&cpu.to_le_bytes(), &raw.to_le_bytes(), BPF_ANY)?;
            sys::syscall(&mut Call::PerfEventIoctl {
                fd: fd.as_fd(),
                op: PerfIoctl::Enable,
            })?;
            // Kernels before 4.1 leave these 0: the data follows the first page.
            let data_offset = match mem.load_u64(DATA_OFFSET) {
                0 => page,
                o => o as usize,
            };
            let data_size = match mem.load_u64(DATA_SIZE) {
                0 => pages * page,
                s => s as usize,
            };
            rings.push(PerfRing {
                fd,
                mem,
                data_offset,
                data_size,
            });
        }
        Ok(PerfBufReader { rings, lost: 0 })
    }

    /// Hand every available sample's raw data to `f`, CPU by CPU; returns
    /// how many. The raw data is padded by the kernel to keep records 8-byte
    /// aligned, so it may be up to 7 bytes longer than what was sent.
    pub fn read(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        for ring in &self.rings {
            let head = ring.mem.load_u64(DATA_HEAD);
            let mut tail = ring.mem.load_u64(DATA_TAIL);
            while tail < head {
                let mut hdr = [0u8; 8];
                ring.read_wrapped(tail, &mut hdr);
                let kind = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
                let size = u16::from_le_bytes([hdr[6], hdr[7]]) as usize;
                if size < hdr.len() || size > ring.data_size {
                    // Not a record the kernel writes; drop what is left.
                    tail = head;
                    break;
                }
                let mut rec = vec![0u8; size];
                ring.read_wrapped(tail, &mut rec);
                match kind {
                    PERF_RECORD_SAMPLE if size >= 12 => {
                        let raw = u32::from_le_bytes([rec[8], rec[9], rec[10], rec[11]]) as usize;
                        let end = (12 + raw).min(size);
                        f(&rec[12..end]);
                        n += 1;
                    }
                    PERF_RECORD_LOST if size >= 24 => {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&rec[16..24]);
                        self.lost += u64::from_le_bytes(b);
                    }
                    _ => {}
                }
                tail += size as u64;
            }
            ring.mem.store_u64(DATA_TAIL, tail);
        }
        n
    }

    /// Samples the kernel dropped because a ring was full.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Rings opened (one per online CPU).
    pub fn cpus(&self) -> usize {
        self.rings.len()
    }

    /// One descriptor per CPU ring, each readable when samples are ready.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.rings.iter().map(|r| r.fd.as_fd()).collect()
    }

    /// Wait up to `timeout_ms` for samples; true when some may be ready.
    pub fn wait(&self, timeout_ms: i32) -> Result<bool, SysError> {
        let fds: Vec<BorrowedFd<'_>> = self.rings.iter().map(|r| r.fd.as_fd()).collect();
        Ok(sys::syscall(&mut Call::Poll {
            fds: &fds,
            timeout_ms,
        })? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake;
    use stapc_bpf::MapDef;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn sample(data: &[u8]) -> Vec<u8> {
        // header, u32 size, data, padded to 8
        let raw = (data.len() + 4).div_ceil(8) * 8 - 4;
        let size = 8 + 4 + raw;
        let mut rec = Vec::new();
        rec.extend(PERF_RECORD_SAMPLE.to_le_bytes());
        rec.extend(0u16.to_le_bytes());
        rec.extend((size as u16).to_le_bytes());
        rec.extend((raw as u32).to_le_bytes());
        rec.extend(data);
        rec.resize(size, 0);
        rec
    }

    #[test]
    fn opens_one_ring_per_cpu_and_reads_samples_and_losses() {
        let updates = Rc::new(RefCell::new(Vec::new()));
        let u = updates.clone();
        fake::set(move |call| {
            match call {
                Call::PerfEventOpen { attr, .. } => {
                    assert_eq!(
                        (attr.type_, attr.config, attr.sample_type),
                        (1, 10, PERF_SAMPLE_RAW)
                    );
                }
                Call::MapUpdateElem { key, .. } => u.borrow_mut().push(key.to_vec()),
                _ => {}
            }
            Ok(0)
        });
        let map = Map::create(&MapDef {
            name: "out".into(),
            kind: MapKind::PerfEventArray,
            key_size: 4,
            value_size: 4,
            max_entries: 0,
            init: vec![],
        })
        .unwrap();
        let mut r = PerfBufReader::new(&map, 1).unwrap();
        let online = maps::online_cpus().unwrap();
        assert_eq!(r.cpus(), online.len());
        let keys: Vec<Vec<u8>> = online.iter().map(|c| c.to_le_bytes().to_vec()).collect();
        assert_eq!(*updates.borrow(), keys);

        let ring = &r.rings[0];
        let size = ring.data_size as u64;
        // A sample that wraps around the end of the ring, then a LOST record.
        let start = size - 8;
        let mut stream = sample(b"hello world");
        let mut lost = Vec::new();
        lost.extend(PERF_RECORD_LOST.to_le_bytes());
        lost.extend(0u16.to_le_bytes());
        lost.extend(24u16.to_le_bytes());
        lost.extend(0u64.to_le_bytes());
        lost.extend(3u64.to_le_bytes());
        stream.extend(&lost);
        for (i, b) in stream.iter().enumerate() {
            let o = ((start + i as u64) % size) as usize;
            ring.mem.write(ring.data_offset + o, &[*b]);
        }
        ring.mem.store_u64(DATA_TAIL, start);
        ring.mem.store_u64(DATA_HEAD, start + stream.len() as u64);
        let mut got = Vec::new();
        assert_eq!(r.read(|d| got.push(d.to_vec())), 1);
        assert_eq!(&got[0][..11], b"hello world");
        assert!(got[0][11..].iter().all(|&b| b == 0));
        assert_eq!(r.lost(), 3);
        assert_eq!(
            r.rings[0].mem.load_u64(DATA_TAIL),
            start + stream.len() as u64
        );
        fake::clear();
    }
}
