//! Reading a BPF ring buffer map (`BPF_MAP_TYPE_RINGBUF`) from userspace:
//! the consumer page is mapped writable, the producer page and the data
//! area read-only, and records are taken in the order the kernel committed
//! them. Also the output reader that picks the ring or perf buffer.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};

use stapc_bpf::MapKind;

use crate::maps::{Map, MapError};
use crate::perfbuf::PerfBufReader;
use crate::sys::{self, Call, Mapping, SysError};

/// Record header bits of the length word.
const BUSY_BIT: u32 = 1 << 31;
const DISCARD_BIT: u32 = 1 << 30;
const HEADER_SIZE: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputError {
    Syscall(SysError),
    Map(MapError),
    /// The map cannot be read this way.
    WrongKind {
        map: String,
        kind: MapKind,
    },
    /// A ring buffer whose size is not a power-of-two multiple of the page size.
    BadSize {
        map: String,
        size: u64,
    },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::Syscall(e) => write!(f, "cannot read the output buffer: {e}"),
            OutputError::Map(e) => write!(f, "cannot read the output buffer: {e}"),
            OutputError::WrongKind { map, kind } => {
                write!(
                    f,
                    "map `{map}` is a {} map, not an output buffer",
                    kind.name()
                )
            }
            OutputError::BadSize { map, size } => write!(
                f,
                "ring buffer `{map}` has {size} bytes, not a power-of-two multiple of the page size"
            ),
        }
    }
}

impl std::error::Error for OutputError {}

impl From<SysError> for OutputError {
    fn from(e: SysError) -> OutputError {
        OutputError::Syscall(e)
    }
}

impl From<MapError> for OutputError {
    fn from(e: MapError) -> OutputError {
        OutputError::Map(e)
    }
}

/// A consumer of one BPF ring buffer map.
pub struct RingBufReader {
    fd: OwnedFd,
    consumer: Mapping,
    producer: Mapping,
    /// Where the data area starts in `producer` (one page in).
    data: usize,
    size: u64,
}

impl RingBufReader {
    pub fn new(map: &Map) -> Result<RingBufReader, OutputError> {
        if map.kind() != MapKind::RingBuf {
            return Err(OutputError::WrongKind {
                map: map.name().into(),
                kind: map.kind(),
            });
        }
        let page = sys::page_size();
        let size = u64::from(map.max_entries());
        if !size.is_power_of_two() || size % page as u64 != 0 {
            return Err(OutputError::BadSize {
                map: map.name().into(),
                size,
            });
        }
        let fd = map.fd().try_clone_to_owned().map_err(|e| {
            OutputError::Syscall(SysError {
                call: "dup",
                errno: e.raw_os_error().unwrap_or(libc::EBADF),
            })
        })?;
        let consumer = sys::mmap(fd.as_fd(), page, 0, true)?;
        // The kernel maps the data area twice in a row so records that wrap
        // are contiguous; `read` does not rely on it.
        let producer = sys::mmap(fd.as_fd(), page + 2 * size as usize, page as i64, false)?;
        Ok(RingBufReader {
            fd,
            consumer,
            producer,
            data: page,
            size,
        })
    }

    /// Hand every committed record to `f`, in order; returns how many.
    /// Discarded records are skipped; a record still being written ends the
    /// batch (it will be read next time).
    pub fn read(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let mask = self.size - 1;
        let mut cons = self.consumer.load_u64(0);
        let mut n = 0;
        loop {
            let prod = self.producer.load_u64(0);
            if cons >= prod {
                break;
            }
            let word = self.producer.load_u32(self.data + (cons & mask) as usize);
            if word & BUSY_BIT != 0 {
                break;
            }
            let len = (word & !(BUSY_BIT | DISCARD_BIT)) as usize;
            if len as u64 > self.size {
                // Not a record the kernel can have written; stop rather than
                // read garbage.
                break;
            }
            if word & DISCARD_BIT == 0 {
                let mut rec = vec![0u8; len];
                self.read_wrapped(cons + HEADER_SIZE as u64, &mut rec);
                f(&rec);
                n += 1;
            }
            cons += (len + HEADER_SIZE).div_ceil(8) as u64 * 8;
            self.consumer.store_u64(0, cons);
        }
        n
    }

    fn read_wrapped(&self, pos: u64, out: &mut [u8]) {
        let off = (pos & (self.size - 1)) as usize;
        let first = out.len().min(self.size as usize - off);
        let (a, b) = out.split_at_mut(first);
        self.producer.read(self.data + off, a);
        self.producer.read(self.data, b);
    }

    /// The descriptor that polls readable when records are ready (for a
    /// caller that waits on other descriptors too).
    pub fn fds(&self) -> Vec<std::os::fd::BorrowedFd<'_>> {
        vec![self.fd.as_fd()]
    }

    /// Wait up to `timeout_ms` for records; true when some may be ready.
    pub fn wait(&self, timeout_ms: i32) -> Result<bool, SysError> {
        let fds = [self.fd.as_fd()];
        Ok(sys::syscall(&mut Call::Poll {
            fds: &fds,
            timeout_ms,
        })? > 0)
    }
}

/// The reader of an object's output map, whichever kind it is.
pub enum OutputReader {
    RingBuf(RingBufReader),
    PerfBuf(PerfBufReader),
}

impl OutputReader {
    /// Open a reader on `map` (a ring buffer, or a perf event array with
    /// `pages_per_cpu` data pages per CPU).
    pub fn open(map: &Map, pages_per_cpu: usize) -> Result<OutputReader, OutputError> {
        match map.kind() {
            MapKind::RingBuf => RingBufReader::new(map).map(OutputReader::RingBuf),
            MapKind::PerfEventArray => {
                PerfBufReader::new(map, pages_per_cpu).map(OutputReader::PerfBuf)
            }
            kind => Err(OutputError::WrongKind {
                map: map.name().into(),
                kind,
            }),
        }
    }

    /// Hand every available record to `f`; returns how many.
    pub fn read(&mut self, f: impl FnMut(&[u8])) -> usize {
        match self {
            OutputReader::RingBuf(r) => r.read(f),
            OutputReader::PerfBuf(r) => r.read(f),
        }
    }

    /// The descriptors that poll readable when records are ready.
    pub fn fds(&self) -> Vec<std::os::fd::BorrowedFd<'_>> {
        match self {
            OutputReader::RingBuf(r) => r.fds(),
            OutputReader::PerfBuf(r) => r.fds(),
        }
    }

    /// Records the kernel reported lost (perf buffers count them; ring
    /// buffers cannot, see `control::OUTPUT_DROPS`).
    pub fn lost(&self) -> u64 {
        match self {
            OutputReader::RingBuf(_) => 0,
            OutputReader::PerfBuf(r) => r.lost(),
        }
    }

    pub fn wait(&self, timeout_ms: i32) -> Result<bool, SysError> {
        match self {
            OutputReader::RingBuf(r) => r.wait(timeout_ms),
            OutputReader::PerfBuf(r) => r.wait(timeout_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake;
    use stapc_bpf::MapDef;

    fn ringbuf(size: u32) -> Map {
        fake::set(|_| Ok(0));
        Map::create(&MapDef {
            name: "out".into(),
            kind: MapKind::RingBuf,
            key_size: 0,
            value_size: 0,
            max_entries: size,
            init: vec![],
        })
        .unwrap()
    }

    /// Write a record at `pos` as the kernel's producer does.
    fn produce(r: &RingBufReader, pos: u64, data: &[u8], flags: u32) -> u64 {
        let size = r.size;
        let off = (pos & (size - 1)) as usize;
        r.producer
            .write(r.data + off, &(data.len() as u32 | flags).to_le_bytes());
        for (i, b) in data.iter().enumerate() {
            let o = ((pos + 8 + i as u64) & (size - 1)) as usize;
            r.producer.write(r.data + o, &[*b]);
        }
        pos + (data.len() as u64 + 8).div_ceil(8) * 8
    }

    #[test]
    fn records_are_read_in_order_skipping_discarded_ones() {
        let map = ringbuf(4096);
        let mut r = RingBufReader::new(&map).unwrap();
        let mut pos = produce(&r, 0, b"first", 0);
        pos = produce(&r, pos, b"dropped", DISCARD_BIT);
        pos = produce(&r, pos, b"third record", 0);
        r.producer.store_u64(0, pos);
        let mut got = Vec::new();
        assert_eq!(r.read(|rec| got.push(rec.to_vec())), 2);
        assert_eq!(got, vec![b"first".to_vec(), b"third record".to_vec()]);
        assert_eq!(r.consumer.load_u64(0), pos);
        // Nothing new: nothing read.
        assert_eq!(r.read(|_| panic!("no record expected")), 0);
        fake::clear();
    }

    #[test]
    fn a_busy_record_ends_the_batch_and_wrapped_records_are_whole() {
        let map = ringbuf(4096);
        let mut r = RingBufReader::new(&map).unwrap();
        // Start near the end so the next record wraps around.
        let start = 4096 * 3 - 16;
        r.consumer.store_u64(0, start);
        let data: Vec<u8> = (0..40).collect();
        let next = produce(&r, start, &data, 0);
        let end = produce(&r, next, b"busy", BUSY_BIT);
        r.producer.store_u64(0, end);
        let mut got = Vec::new();
        assert_eq!(r.read(|rec| got.push(rec.to_vec())), 1);
        assert_eq!(got, vec![data]);
        assert_eq!(r.consumer.load_u64(0), next);
        fake::clear();
    }

    #[test]
    fn only_ring_buffers_of_page_multiples() {
        let map = ringbuf(100);
        assert!(matches!(
            RingBufReader::new(&map),
            Err(OutputError::BadSize { size: 100, .. })
        ));
        fake::clear();
    }
}
