//! The helper functions a simulated program can call: map access, time and
//! task context, output (perf event array, ring buffer, trace_printk),
//! `probe_read*` against simulated memory, callbacks (`for_each_map_elem`,
//! `loop`), the bpf_conformance suite's "unwind", and stapc's own string
//! and statistics helpers for userspace programs.
//!
//! Bad arguments that the kernel's verifier would have rejected (a scalar
//! where a map is needed, a size beyond any buffer) are `ExecError`s;
//! conditions a correct program must handle at run time (a missing key, a
//! full buffer, an unreadable address for `probe_read`) return the kernel's
//! negative errno.

use crate::format;
use crate::machine::{Code, ExecError, Halt, Machine};
use crate::maps::MapError;
use crate::memory::{self, RegionKind};
use crate::strings;
use bpf::helpers as h;
use bpf::MapKind;

const EFAULT: u64 = -14i64 as u64;
const EINVAL: u64 = -22i64 as u64;
const E2BIG: u64 = -7i64 as u64;

/// `bpf_loop` refuses more iterations than this (as Linux does).
const MAX_LOOPS: u64 = 1 << 23;
// ---- functions/strings ----
/// The simulated kernel's HZ is 250: `jiffies64` = simulated time / 4 ms.
const NS_PER_JIFFY: u64 = 4_000_000;
/// `ppid()` of the simulated stapc process (pid 1000 in the event model).
const SIM_PPID: u64 = 1;

/// Largest buffer a helper copies at once.
const MAX_HELPER_BYTES: u64 = 1 << 20;
/// Ring buffer reservations open at once before `ringbuf_reserve` fails.
const MAX_OPEN_RESERVATIONS: usize = 1024;

impl Machine {
    /// The helpers that take no arguments and cannot fail (time, task, CPU,
    /// random numbers): the interpreter calls this inline before falling
    /// back to `call_helper`, so the `pid()`/`cpu()`/`gettimeofday_ns()` a
    /// script calls on every event cost a few instructions.
    #[inline(always)]
    pub(crate) fn simple_helper(&mut self, id: i32) -> Option<u64> {
        Some(match id {
            h::KTIME_GET_NS if !self.opts.conformance => self.event.time_ns,
            h::GET_PRANDOM_U32 => {
                // xorshift64*: deterministic for a given seed.
                let mut x = self.rng;
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                self.rng = x;
                (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32 as u64
            }
            h::GET_SMP_PROCESSOR_ID => self.event.cpu as u64,
            h::GET_CURRENT_PID_TGID => ((self.event.pid as u64) << 32) | self.event.tid as u64,
            h::GET_CURRENT_UID_GID => ((self.event.gid as u64) << 32) | self.event.uid as u64,
            _ => return None,
        })
    }

    /// Run helper `id` with r1–r5 = `a`; returns r0.
    pub(crate) fn call_helper(
        &mut self,
        code: &Code,
        pc: usize,
        id: i32,
        a: [u64; 5],
    ) -> Result<u64, Halt> {
        let bad = |reason: String| -> Halt {
            ExecError::BadHelperArg {
                pc,
                helper: id,
                reason,
            }
            .into()
        };
        let mem_fault = |fault| -> Halt { ExecError::Memory { pc, fault }.into() };
        match id {
            h::MAP_LOOKUP_ELEM => {
                let map = self.map_arg(pc, id, a[0])?;
                let key = self.key_arg(pc, id, map, a[1])?;
                let cpu = self.event.cpu;
                match self.lookup_cached(map, &key, cpu) {
                    Ok(p) => Ok(p.unwrap_or(0)),
                    Err(e) => Err(bad(e.to_string())),
                }
            }
            h::MAP_UPDATE_ELEM => {
                let map = self.map_arg(pc, id, a[0])?;
                let key = self.key_arg(pc, id, map, a[1])?;
                let vs = self.store.def(map).map(|d| d.value_size).unwrap_or(0) as usize;
                let value = self.mem.slice(a[2], vs).map_err(mem_fault)?.to_vec();
                let cpu = self.event.cpu;
                match self.store.update(map, &key, &value, a[3], Some(cpu)) {
                    Ok(()) => {
                        // Keep the run's copy (if a program holds a pointer to it) in step.
                        let cached = self.cache_index.get(&(map, cpu)).and_then(|m| m.get(&key));
                        if let Some(i) = cached.copied() {
                            let c = &mut self.cache[i];
                            c.original = value.clone();
                            if let Some(r) = self.mem.region_mut(c.region) {
                                r.data.copy_from_slice(&value);
                            }
                        }
                        Ok(0)
                    }
                    Err(
                        e @ (MapError::Full
                        | MapError::Exists
                        | MapError::NotFound
                        | MapError::Invalid),
                    ) => Ok(e.errno() as u64),
                    Err(e) => Err(bad(e.to_string())),
                }
            }
            h::MAP_DELETE_ELEM => {
                let map = self.map_arg(pc, id, a[0])?;
                let key = self.key_arg(pc, id, map, a[1])?;
                match self.store.delete(map, &key) {
                    Ok(()) => {
                        for c in &mut self.cache {
                            if c.map == map && c.key == key {
                                c.live = false;
                            }
                        }
                        for ((m, _), keys) in self.cache_index.iter_mut() {
                            if *m == map {
                                keys.remove(&key);
                            }
                        }
                        Ok(0)
                    }
                    Err(e @ (MapError::NotFound | MapError::Invalid)) => Ok(e.errno() as u64),
                    Err(e) => Err(bad(e.to_string())),
                }
            }
            h::KTIME_GET_NS if self.opts.conformance => {
                // bpf_conformance's "unwind": return r1; stop the program when it is 0.
                if a[0] == 0 {
                    Err(Halt::Unwind)
                } else {
                    Ok(a[0])
                }
            }
            h::KTIME_GET_NS
            | h::GET_PRANDOM_U32
            | h::GET_SMP_PROCESSOR_ID
            | h::GET_CURRENT_PID_TGID
            | h::GET_CURRENT_UID_GID => Ok(self.simple_helper(id).unwrap_or(0)),
            h::GET_CURRENT_COMM => {
                let size = self.size_arg(pc, id, a[1])?;
                if size == 0 {
                    return Ok(EINVAL);
                }
                let comm = self.event.comm.as_bytes();
                let buf = self.mem.slice_mut(a[0], size).map_err(mem_fault)?;
                buf.fill(0);
                let n = comm.len().min(size - 1);
                buf[..n].copy_from_slice(&comm[..n]);
                Ok(0)
            }
            h::PROBE_READ | h::PROBE_READ_KERNEL | h::PROBE_READ_USER => {
                let size = self.size_arg(pc, id, a[1])?;
                let src = self.mem.slice(a[2], size).map(|b| b.to_vec());
                let dst = self.mem.slice_mut(a[0], size).map_err(mem_fault)?;
                match src {
                    Ok(b) => {
                        dst.copy_from_slice(&b);
                        Ok(0)
                    }
                    Err(_) => {
                        dst.fill(0);
                        Ok(EFAULT)
                    }
                }
            }
            h::PROBE_READ_STR | h::PROBE_READ_KERNEL_STR | h::PROBE_READ_USER_STR => {
                let size = self.size_arg(pc, id, a[1])?;
                let src = self.read_str_for_probe(a[2], size);
                let dst = self.mem.slice_mut(a[0], size).map_err(mem_fault)?;
                if size == 0 {
                    return Ok(0);
                }
                match src {
                    Some(s) => {
                        dst[..s.len()].copy_from_slice(&s);
                        dst[s.len()] = 0;
                        Ok(s.len() as u64 + 1)
                    }
                    None => {
                        dst.fill(0);
                        Ok(EFAULT)
                    }
                }
            }
            h::TRACE_PRINTK => {
                let size = self.size_arg(pc, id, a[1])?;
                let fmt = self.mem.slice(a[0], size).map_err(mem_fault)?;
                let end = fmt.iter().position(|&c| c == 0).unwrap_or(fmt.len());
                let fmt = fmt[..end].to_vec();
                let args = [a[2], a[3], a[4]];
                let mem = &self.mem;
                let text = format::trace_printk(&fmt, &args, |p| mem.read_cstr(p, 256).ok());
                let n = text.len();
                self.trace_log
                    .push(String::from_utf8_lossy(&text).into_owned());
                Ok(n as u64)
            }
            h::PERF_EVENT_OUTPUT => {
                let map = self.map_arg(pc, id, a[1])?;
                let size = self.size_arg(pc, id, a[4])?;
                let data = self.mem.slice(a[3], size).map_err(mem_fault)?.to_vec();
                let data = self.render_hist(data);
                let index = a[2] & 0xffff_ffff;
                if a[2] >> 32 != 0 {
                    return Ok(EINVAL);
                }
                let cpu = if index as i64 == h::BPF_F_CURRENT_CPU {
                    self.event.cpu
                } else {
                    index as u32
                };
                if self.kind_of(map) != Some(MapKind::PerfEventArray) {
                    return Err(bad("map is not a perf event array".into()));
                }
                match self.store.output(map, cpu, &data) {
                    Ok(()) => Ok(0),
                    Err(MapError::Full) => Ok(E2BIG),
                    Err(MapError::NoSpace) => Ok(-28i64 as u64),
                    Err(e) => Err(bad(e.to_string())),
                }
            }
            h::RINGBUF_OUTPUT => {
                let map = self.map_arg(pc, id, a[0])?;
                let size = self.size_arg(pc, id, a[2])?;
                let data = self.mem.slice(a[1], size).map_err(mem_fault)?.to_vec();
                let data = self.render_hist(data);
                if self.kind_of(map) != Some(MapKind::RingBuf) {
                    return Err(bad("map is not a ring buffer".into()));
                }
                match self.store.output(map, self.event.cpu, &data) {
                    Ok(()) => Ok(0),
                    Err(MapError::NoSpace) => Ok(-11i64 as u64),
                    Err(e) => Err(bad(e.to_string())),
                }
            }
            h::RINGBUF_RESERVE => {
                let map = self.map_arg(pc, id, a[0])?;
                let size = self.size_arg(pc, id, a[1])?;
                if self.kind_of(map) != Some(MapKind::RingBuf) {
                    return Err(bad("map is not a ring buffer".into()));
                }
                if self.reservations.len() >= MAX_OPEN_RESERVATIONS {
                    return Ok(0);
                }
                match self.store.reserve(map, size as u32) {
                    Ok(()) => {
                        // Reuse the region of a finished sample, as the
                        // kernel reuses ring space, so a loop of
                        // reserve/submit does not grow memory.
                        let kind = RegionKind::RingBufSample { map };
                        let p = match self.free_samples.pop() {
                            Some(id) => match self.mem.region_mut(id) {
                                Some(r) => {
                                    r.kind = kind;
                                    r.data.clear();
                                    r.data.resize(size, 0);
                                    r.writable = true;
                                    memory::addr(id, 0)
                                }
                                None => self.mem.add_dynamic(kind, vec![0; size], true),
                            },
                            None => self.mem.add_dynamic(kind, vec![0; size], true),
                        };
                        self.reservations
                            .insert(memory::split(p).0, (map, size as u32));
                        Ok(p)
                    }
                    Err(_) => Ok(0),
                }
            }
            h::RINGBUF_SUBMIT | h::RINGBUF_DISCARD => {
                let (region, off) = memory::split(a[0]);
                let Some((map, size)) = self.reservations.remove(&region).filter(|_| off == 0)
                else {
                    return Err(bad("pointer is not a ring buffer reservation".into()));
                };
                let data = self
                    .mem
                    .region(region)
                    .map(|r| r.data.clone())
                    .unwrap_or_default();
                let commit = (id == h::RINGBUF_SUBMIT).then_some(&data[..]);
                self.store
                    .commit(map, size, commit)
                    .map_err(|e| bad(e.to_string()))?;
                // A pointer to a finished sample no longer reaches any bytes.
                if let Some(r) = self.mem.region_mut(region) {
                    r.data.clear();
                    r.writable = false;
                }
                self.free_samples.push(region);
                Ok(0)
            }
            h::FOR_EACH_MAP_ELEM => {
                let map = self.map_arg(pc, id, a[0])?;
                let target = self.func_arg(pc, id, code, a[1])?;
                if a[3] != 0 {
                    return Ok(EINVAL);
                }
                let cpu = self.event.cpu;
                let mut key: Option<Vec<u8>> = None;
                let mut n = 0u64;
                loop {
                    let next = self
                        .store
                        .next_key(map, key.as_deref())
                        .map_err(|e| bad(e.to_string()))?;
                    let Some(k) = next else { break };
                    // An element deleted meanwhile has no value: skip it.
                    if let Some(vp) = self
                        .lookup_cached(map, &k, cpu)
                        .map_err(|e| bad(e.to_string()))?
                    {
                        // One key region per (map, key) and run keeps
                        // repeated iterations from growing memory.
                        let kp = match self.key_regions.get(&(map, k.clone())) {
                            Some(&p) => p,
                            None => {
                                let p = self.mem.add_dynamic(
                                    RegionKind::MapKey { map },
                                    k.clone(),
                                    false,
                                );
                                self.key_regions.insert((map, k.clone()), p);
                                p
                            }
                        };
                        n += 1;
                        let r = self.invoke(code, pc, target, [a[0], kp, vp, a[2], 0])?;
                        if r != 0 {
                            break;
                        }
                    }
                    key = Some(k);
                }
                Ok(n)
            }
            h::LOOP => {
                let target = self.func_arg(pc, id, code, a[1])?;
                if a[3] != 0 {
                    return Ok(EINVAL);
                }
                if a[0] > MAX_LOOPS {
                    return Ok(E2BIG);
                }
                let mut i = 0;
                while i < a[0] {
                    let r = self.invoke(code, pc, target, [i, a[2], 0, 0, 0])?;
                    i += 1;
                    if r != 0 {
                        break;
                    }
                }
                Ok(i)
            }
            h::STAPC_STR_CONCAT => {
                let size = self.size_arg(pc, id, a[3])?;
                if size == 0 {
                    return Ok(0);
                }
                let mut s = self.mem.read_cstr(a[1], size).map_err(mem_fault)?;
                let b = self.mem.read_cstr(a[2], size).map_err(mem_fault)?;
                s.extend_from_slice(&b);
                s.truncate(size - 1);
                let dst = self.mem.slice_mut(a[0], size).map_err(mem_fault)?;
                dst.fill(0);
                dst[..s.len()].copy_from_slice(&s);
                Ok(0)
            }
            h::STAPC_STR_COMPARE => {
                let size = self.size_arg(pc, id, a[2])?;
                let x = self.mem.read_cstr(a[0], size).map_err(mem_fault)?;
                let y = self.mem.read_cstr(a[1], size).map_err(mem_fault)?;
                Ok(match x.cmp(&y) {
                    std::cmp::Ordering::Less => -1i64 as u64,
                    std::cmp::Ordering::Equal => 0,
                    std::cmp::Ordering::Greater => 1,
                })
            }
            // ---- arrays ----
            h::STAPC_ARRAY_CLEAR => {
                let map = self.map_arg(pc, id, a[0])?;
                self.array_clear(map).map_err(|e| bad(e.to_string()))?;
                Ok(0)
            }
            h::STAPC_ARRAY_ITER_START => {
                let map = self.map_arg(pc, id, a[0])?;
                let (key_size, value_size) = self
                    .store
                    .def(map)
                    .map(|d| (d.key_size, d.value_size))
                    .unwrap_or((0, 0));
                let layout = ArrayLayout::decode(a[1] as u32, key_size, value_size)
                    .ok_or_else(|| bad(format!("bad foreach spec 0x{:x}", a[1])))?;
                let open = self.array_iters.iter().filter(|i| i.is_some()).count();
                if open >= MAX_OPEN_ITERS {
                    return Err(bad(format!(
                        "more than {MAX_OPEN_ITERS} foreach loops open"
                    )));
                }
                let keys = self
                    .array_snapshot(map, &layout, a[2] as i64)
                    .map_err(|e| bad(e.to_string()))?;
                let it = ArrayIter { map, keys, pos: 0 };
                let handle = match self.array_iters.iter().position(|i| i.is_none()) {
                    Some(h) => {
                        self.array_iters[h] = Some(it);
                        h
                    }
                    None => {
                        self.array_iters.push(Some(it));
                        self.array_iters.len() - 1
                    }
                };
                Ok(handle as u64)
            }
            h::STAPC_ARRAY_ITER_NEXT => {
                let cpu = self.event.cpu;
                loop {
                    let Some(it) = self
                        .array_iters
                        .get_mut(a[0] as usize)
                        .and_then(|i| i.as_mut())
                    else {
                        return Err(bad(format!("{} is not an open foreach", a[0])));
                    };
                    let Some(key) = it.keys.get(it.pos).cloned() else {
                        return Ok(0);
                    };
                    it.pos += 1;
                    let map = it.map;
                    if key.len() as u64 != a[2] {
                        return Err(bad(format!(
                            "key buffer of {} bytes for a {}-byte key",
                            a[2],
                            key.len()
                        )));
                    }
                    // Elements deleted since the snapshot are skipped.
                    if self
                        .lookup_cached(map, &key, cpu)
                        .map_err(|e| bad(e.to_string()))?
                        .is_none()
                    {
                        continue;
                    }
                    let dst = self.mem.slice_mut(a[1], key.len()).map_err(mem_fault)?;
                    dst.copy_from_slice(&key);
                    return Ok(1);
                }
            }
            h::STAPC_ARRAY_ITER_END => {
                match self.array_iters.get_mut(a[0] as usize) {
                    Some(i @ Some(_)) => *i = None,
                    _ => return Err(bad(format!("{} is not an open foreach", a[0]))),
                }
                Ok(0)
            }
            // ---- functions/strings ----
            h::JIFFIES64 => Ok(self.event.time_ns / NS_PER_JIFFY),
            h::STAPC_CONTEXT => match a[0] as i32 {
                h::STAPC_CTX_PPID => Ok(SIM_PPID),
                h::STAPC_CTX_EUID => Ok(u64::from(self.event.uid)),
                h::STAPC_CTX_REALTIME_NS => {
                    Ok(self.event.time_ns.wrapping_add(self.realtime_offset as u64))
                }
                other => Err(bad(format!("unknown context value {other}"))),
            },
            h::STAPC_STR_LEN => {
                let size = self.size_arg(pc, id, a[1])?;
                Ok(self.mem.read_cstr(a[0], size).map_err(mem_fault)?.len() as u64)
            }
            h::STAPC_ISINSTR => {
                let size = self.size_arg(pc, id, a[2])?;
                let s = self.mem.read_cstr(a[0], size).map_err(mem_fault)?;
                let sub = self.mem.read_cstr(a[1], size).map_err(mem_fault)?;
                Ok(u64::from(strings::isinstr(&s, &sub)))
            }
            h::STAPC_STRTOL => {
                let size = self.size_arg(pc, id, a[2])?;
                let s = self.mem.read_cstr(a[0], size).map_err(mem_fault)?;
                Ok(strings::strtol(&s, a[1] as i64) as u64)
            }
            h::STAPC_SUBSTR => {
                let size = self.size_arg(pc, id, a[4])?;
                let s = self.mem.read_cstr(a[1], size).map_err(mem_fault)?;
                let r = strings::substr(&s, a[2] as i64, a[3] as i64);
                self.write_str(a[0], size, &r).map_err(mem_fault)?;
                Ok(0)
            }
            h::STAPC_STR_REPLACE => {
                let size = self.size_arg(pc, id, a[4])?;
                let s = self.mem.read_cstr(a[1], size).map_err(mem_fault)?;
                let search = self.mem.read_cstr(a[2], size).map_err(mem_fault)?;
                let repl = self.mem.read_cstr(a[3], size).map_err(mem_fault)?;
                let r = strings::str_replace(&s, &search, &repl);
                self.write_str(a[0], size, &r).map_err(mem_fault)?;
                Ok(0)
            }
            h::STAPC_TEXT_STR => {
                let size = self.size_arg(pc, id, a[2])?;
                let s = self.mem.read_cstr(a[1], size).map_err(mem_fault)?;
                let r = strings::text_str(&s, size.saturating_sub(1));
                self.write_str(a[0], size, &r).map_err(mem_fault)?;
                Ok(0)
            }
            h::STAPC_SPRINTF => {
                let size = self.size_arg(pc, id, a[3])?;
                let Some(fmt) = self.formats.get(a[1] as usize).cloned() else {
                    return Err(bad(format!("format {} does not exist", a[1])));
                };
                if size as u64 != u64::from(self.max_string_len) {
                    return Err(bad(format!(
                        "size {size} is not the object's MAXSTRINGLEN {}",
                        self.max_string_len
                    )));
                }
                let need: usize = fmt
                    .args
                    .iter()
                    .map(|k| match k {
                        bpf::ArgKind::Long => 8,
                        bpf::ArgKind::Str => size,
                    })
                    .sum();
                let bytes = self.mem.slice(a[2], need).map_err(mem_fault)?.to_vec();
                let args = format::record_args(&fmt, self.max_string_len, &bytes)
                    .map_err(|e| bad(e.to_string()))?;
                let r = format::sprintf(fmt.text.as_bytes(), &args);
                self.write_str(a[0], size, &r).map_err(mem_fault)?;
                Ok(0)
            }
            // ---- statistics ----
            h::STAPC_STAT_READ => {
                let map = self.map_arg(pc, id, a[0])?;
                let key = self.key_arg(pc, id, map, a[1])?;
                let values = self
                    .stat_values(map, &key)
                    .map_err(|e| bad(e.to_string()))?;
                Ok(crate::stats::merge(&values, None).aggregate(a[2]) as u64)
            }
            h::STAPC_STAT_CLEAR => {
                let map = self.map_arg(pc, id, a[0])?;
                let key = self.key_arg(pc, id, map, a[1])?;
                let vs = self.store.def(map).map(|d| d.value_size).unwrap_or(0) as usize;
                let present = self
                    .store
                    .lookup_all_cpus(map, &key)
                    .map_err(|e| bad(e.to_string()))?
                    .is_some();
                if !present {
                    return Ok(0);
                }
                let zero = vec![0u8; vs];
                self.store
                    .update(map, &key, &zero, crate::maps::BPF_ANY, None)
                    .map_err(|e| bad(e.to_string()))?;
                // The run's copies (a `<<<` earlier in this run) restart empty.
                for c in &mut self.cache {
                    if c.map == map && c.key == key && c.live {
                        c.original = zero.clone();
                        if let Some(r) = self.mem.region_mut(c.region) {
                            r.data.fill(0);
                        }
                    }
                }
                Ok(0)
            }
            _ => Err(ExecError::UnknownHelper { pc, id }.into()),
        }
    }

    // ---- arrays ----

    /// Delete every element of `map`, and forget the run's copies of them.
    fn array_clear(&mut self, map: u32) -> Result<(), MapError> {
        while let Some(k) = self.store.next_key(map, None)? {
            self.store.delete(map, &k)?;
        }
        for c in &mut self.cache {
            if c.map == map {
                c.live = false;
            }
        }
        for ((m, _), keys) in self.cache_index.iter_mut() {
            if *m == map {
                keys.clear();
            }
        }
        Ok(())
    }

    /// The keys of `map` in `layout`'s order, at most `limit` (negative: all).
    fn array_snapshot(
        &mut self,
        map: u32,
        layout: &ArrayLayout,
        limit: i64,
    ) -> Result<Vec<Vec<u8>>, MapError> {
        let cpu = self.event.cpu;
        // An array of statistics (a per-CPU hash) sorts by its elements'
        // @count over every CPU, as SystemTap does by default.
        let per_cpu = self
            .store
            .def(map)
            .is_some_and(|d| d.kind == MapKind::PerCpuHash);
        let mut entries = Vec::new();
        let mut key: Option<Vec<u8>> = None;
        while let Some(k) = self.store.next_key(map, key.as_deref())? {
            if per_cpu {
                let count: i64 = self
                    .store
                    .lookup_all_cpus(map, &k)?
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|v| v.get(..8)?.try_into().ok().map(i64::from_le_bytes))
                    .fold(0, i64::wrapping_add);
                let mut value = count.to_le_bytes().to_vec();
                value.resize(layout.value_size as usize, 0);
                entries.push((k.clone(), value));
                key = Some(k);
                continue;
            }
            // The run's copy when the program changed the value through a pointer.
            let value = match self.lookup_cached(map, &k, cpu)? {
                Some(p) => self
                    .mem
                    .slice(p, layout.value_size as usize)
                    .map(|b| b.to_vec())
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            entries.push((k.clone(), value));
            key = Some(k);
        }
        sort_entries(&mut entries, layout);
        let mut keys: Vec<Vec<u8>> = entries.into_iter().map(|(k, _)| k).collect();
        if limit >= 0 {
            keys.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Ok(keys)
    }

    /// Write `s` as a `size`-byte string buffer: truncated to `size - 1`
    /// bytes and cut at an inner NUL, then zero-filled.
    fn write_str(&mut self, dst: u64, size: usize, s: &[u8]) -> Result<(), memory::Fault> {
        if size == 0 {
            return Ok(());
        }
        let n = s
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(s.len())
            .min(size - 1);
        let buf = self.mem.slice_mut(dst, size)?;
        buf.fill(0);
        buf[..n].copy_from_slice(&s[..n]);
        Ok(())
    }

    /// Every CPU's value of `map[key]`, as this run sees it: the run's own
    /// copy where a program looked the value up (and may have changed it),
    /// the store's elsewhere. Empty when the key is absent.
    fn stat_values(&mut self, map: u32, key: &[u8]) -> Result<Vec<Vec<u8>>, MapError> {
        let mut values = self.store.lookup_all_cpus(map, key)?.unwrap_or_default();
        for c in &self.cache {
            if c.map != map || c.key != key || !c.live {
                continue;
            }
            let cpu = c.cpu as usize;
            if let (Some(v), Some(r)) = (values.get_mut(cpu), self.mem.region(c.region)) {
                v.clone_from(&r.data);
            }
        }
        Ok(values)
    }

    /// Call the BPF function at `target` in a new frame (callbacks).
    fn invoke(
        &mut self,
        code: &Code,
        pc: usize,
        target: usize,
        args: [u64; 5],
    ) -> Result<u64, Halt> {
        let saved = self.depth;
        if saved + 1 >= self.max_frames() {
            return Err(ExecError::CallDepth { pc }.into());
        }
        self.depth = saved + 1;
        let r = self.exec(code, target, args);
        self.depth = saved;
        r
    }

    fn kind_of(&self, map: u32) -> Option<MapKind> {
        self.store.def(map).map(|d| d.kind)
    }

    fn map_arg(&self, pc: usize, helper: i32, v: u64) -> Result<u32, Halt> {
        match self.mem.kind_of(v) {
            Some(RegionKind::Map { map }) if memory::split(v).1 == 0 => Ok(map),
            _ => Err(ExecError::BadHelperArg {
                pc,
                helper,
                reason: format!("0x{v:x} is not a map"),
            }
            .into()),
        }
    }

    fn key_arg(&self, pc: usize, _helper: i32, map: u32, p: u64) -> Result<Vec<u8>, Halt> {
        let ks = self.store.def(map).map(|d| d.key_size).unwrap_or(0) as usize;
        self.mem
            .slice(p, ks)
            .map(|b| b.to_vec())
            .map_err(|fault| ExecError::Memory { pc, fault }.into())
    }

    fn size_arg(&self, pc: usize, helper: i32, v: u64) -> Result<usize, Halt> {
        if v > MAX_HELPER_BYTES {
            return Err(ExecError::BadHelperArg {
                pc,
                helper,
                reason: format!("size {} is too large", v as i64),
            }
            .into());
        }
        Ok(v as usize)
    }

    fn func_arg(&self, pc: usize, helper: i32, code: &Code, v: u64) -> Result<usize, Halt> {
        match memory::split(v) {
            (memory::CODE_REGION, t) if (t as usize) < code.len() => Ok(t as usize),
            _ => Err(ExecError::BadHelperArg {
                pc,
                helper,
                reason: format!("0x{v:x} is not a function"),
            }
            .into()),
        }
    }

    /// With `render_hists`, a HIST record becomes a TEXT record holding the
    /// histogram as the statistic is now; anything else (or a record the
    /// session would refuse) is sent as it is.
    fn render_hist(&mut self, data: Vec<u8>) -> Vec<u8> {
        use bpf::object::record;
        let word = |o: usize| {
            data.get(o..o + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
        };
        if !self.render_hists || word(0) != Some(record::HIST) {
            return data;
        }
        let Some(id) = word(4) else { return data };
        let (hists, stats) = &self.hist_descs;
        let Some((hist, stat)) = hists
            .get(id as usize)
            .and_then(|h| Some((*h, stats.get(h.stat as usize)?.clone())))
        else {
            return data;
        };
        // The run's own changes (map values it changed through pointers)
        // are in the store first.
        self.write_back_cache();
        let body = &data[record::HEADER_SIZE as usize..];
        let Some(key) = crate::stats::key_of(self.store.as_ref(), &stat, body) else {
            return data;
        };
        let Ok(merged) = crate::stats::read(self.store.as_mut(), &stat, &key) else {
            return data;
        };
        let mut out = Vec::with_capacity(64);
        out.extend(record::TEXT.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend(crate::stats::hist_text(&hist, &stat, &merged).into_bytes());
        out
    }

    /// The bytes `probe_read_str` copies from `src` into a `size`-byte
    /// buffer (without the NUL), or `None` when the read faults first.
    fn read_str_for_probe(&self, src: u64, size: usize) -> Option<Vec<u8>> {
        if size == 0 {
            return Some(Vec::new());
        }
        let (id, off) = memory::split(src);
        if id == 0 {
            return None;
        }
        let r = self.mem.region(id)?;
        if matches!(r.kind, RegionKind::Map { .. } | RegionKind::Code) {
            return None;
        }
        let rest = r.data.get(off as usize..)?;
        let limit = size - 1;
        match rest.iter().take(limit).position(|&c| c == 0) {
            Some(n) => Some(rest[..n].to_vec()),
            None if rest.len() >= limit => Some(rest[..limit].to_vec()),
            // The region ends before a NUL or the buffer's end: a fault.
            None => None,
        }
    }
}

// ---- arrays ----

/// Most `foreach` snapshots open at once in one run.
const MAX_OPEN_ITERS: usize = 4096;

/// One `foreach` snapshot: the keys still to visit.
#[derive(Clone, Debug)]
pub(crate) struct ArrayIter {
    map: u32,
    keys: Vec<Vec<u8>>,
    pos: usize,
}

/// A packed key's columns and the sort of a `foreach`, decoded from the
/// spec of `bpf::helpers::iter_spec` and the map's sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArrayLayout {
    /// (offset, size, is_string) of every key column.
    columns: Vec<(usize, usize, bool)>,
    value_size: u32,
    value_is_str: bool,
    /// None: the map's own order; Some((column or None for the value, descending)).
    sort: Option<(Option<usize>, bool)>,
}

impl ArrayLayout {
    pub(crate) fn decode(spec: u32, key_size: u32, value_size: u32) -> Option<ArrayLayout> {
        let n = ((spec >> 9) & 0xf) as usize;
        if n == 0 || n > 9 {
            return None;
        }
        let strs: Vec<bool> = (0..n).map(|i| spec & (1 << i) != 0).collect();
        let nstr = strs.iter().filter(|s| **s).count() as u32;
        let longs = 8 * (n as u32 - nstr);
        let msl = if nstr == 0 {
            0
        } else {
            let rest = key_size.checked_sub(longs)?;
            if rest % nstr != 0 {
                return None;
            }
            rest / nstr
        };
        if nstr == 0 && key_size != longs {
            return None;
        }
        let mut columns = Vec::with_capacity(n);
        let mut off = 0usize;
        for s in strs {
            let size = if s { msl as usize } else { 8 };
            columns.push((off, size, s));
            off += size;
        }
        let value_is_str = spec & (1 << 13) != 0;
        // An array of statistics has a statistic's value (at least count,
        // sum, min and max); its foreach sorts by the count.
        let stat = spec & h::ITER_SPEC_STAT as u32 != 0;
        if stat && (value_is_str || value_size < 32) {
            return None;
        }
        if !value_is_str && !stat && value_size != 8 {
            return None;
        }
        let sort = if spec & (1 << 14) != 0 {
            let col = ((spec >> 16) & 0xf) as usize;
            let column = match col {
                0 => None,
                c if c <= n => Some(c - 1),
                _ => return None,
            };
            Some((column, spec & (1 << 15) != 0))
        } else {
            None
        };
        Some(ArrayLayout {
            columns,
            value_size,
            value_is_str,
            sort,
        })
    }
}

/// Compare two column values: longs as i64, strings byte-wise up to their
/// NUL (they are zero after it, so the whole buffers compare the same).
fn cmp_field(a: &[u8], b: &[u8], is_str: bool) -> std::cmp::Ordering {
    if is_str {
        return a.cmp(b);
    }
    let v = |x: &[u8]| {
        let mut w = [0u8; 8];
        let n = x.len().min(8);
        w[..n].copy_from_slice(&x[..n]);
        i64::from_le_bytes(w)
    };
    v(a).cmp(&v(b))
}

/// Compare two packed keys column by column.
fn cmp_keys(a: &[u8], b: &[u8], layout: &ArrayLayout) -> std::cmp::Ordering {
    for &(off, size, is_str) in &layout.columns {
        let fa = a.get(off..off + size).unwrap_or(&[]);
        let fb = b.get(off..off + size).unwrap_or(&[]);
        let o = cmp_field(fa, fb, is_str);
        if o.is_ne() {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

/// Sort `(key, value)` entries per the layout's sort (stable; ties by the
/// whole key, ascending, as SystemTap breaks them).
pub(crate) fn sort_entries(entries: &mut [(Vec<u8>, Vec<u8>)], layout: &ArrayLayout) {
    let Some((column, descending)) = layout.sort else {
        return;
    };
    entries.sort_by(|(ka, va), (kb, vb)| {
        let primary = match column {
            Some(c) => {
                let (off, size, is_str) = layout.columns[c];
                cmp_field(
                    ka.get(off..off + size).unwrap_or(&[]),
                    kb.get(off..off + size).unwrap_or(&[]),
                    is_str,
                )
            }
            None => cmp_field(va, vb, layout.value_is_str),
        };
        let primary = if descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then_with(|| cmp_keys(ka, kb, layout))
    });
}

#[cfg(test)]
mod array_tests {
    use super::*;

    fn long_key(v: i64) -> Vec<u8> {
        v.to_le_bytes().to_vec()
    }

    fn str_long_key(s: &str, v: i64) -> Vec<u8> {
        let mut k = vec![0u8; 8];
        k[..s.len()].copy_from_slice(s.as_bytes());
        k.extend(v.to_le_bytes());
        k
    }

    fn layout(
        str_cols: &[bool],
        value_str: bool,
        sort: Option<(Option<u32>, bool)>,
    ) -> ArrayLayout {
        // MAXSTRINGLEN 8 here: every column is 8 bytes.
        let ks = 8 * str_cols.len() as u32;
        let spec = h::iter_spec(str_cols, value_str, sort) as u32;
        ArrayLayout::decode(spec, ks, 8).expect("valid spec")
    }

    fn keys(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
        entries.iter().map(|(k, _)| k.clone()).collect()
    }

    #[test]
    fn long_keys_sort_as_signed_numbers() {
        let mut e: Vec<_> = [3i64, -5, 1]
            .iter()
            .map(|v| (long_key(*v), long_key(0)))
            .collect();
        sort_entries(&mut e, &layout(&[false], false, Some((Some(0), false))));
        assert_eq!(keys(&e), vec![long_key(-5), long_key(1), long_key(3)]);
        sort_entries(&mut e, &layout(&[false], false, Some((Some(0), true))));
        assert_eq!(keys(&e), vec![long_key(3), long_key(1), long_key(-5)]);
    }

    #[test]
    fn value_sort_breaks_ties_by_key_and_unsorted_keeps_map_order() {
        let e0 = vec![
            (long_key(2), long_key(5)),
            (long_key(9), long_key(-1)),
            (long_key(1), long_key(5)),
        ];
        let mut e = e0.clone();
        sort_entries(&mut e, &layout(&[false], false, Some((None, false))));
        assert_eq!(keys(&e), vec![long_key(9), long_key(1), long_key(2)]);
        // Descending reverses the value order, not the tie-break.
        sort_entries(&mut e, &layout(&[false], false, Some((None, true))));
        assert_eq!(keys(&e), vec![long_key(1), long_key(2), long_key(9)]);
        let mut u = e0.clone();
        sort_entries(&mut u, &layout(&[false], false, None));
        assert_eq!(u, e0);
    }

    #[test]
    fn multi_column_keys_sort_by_the_chosen_column_then_the_key() {
        let mut e = vec![
            (str_long_key("b", 1), long_key(0)),
            (str_long_key("a", 2), long_key(0)),
            (str_long_key("ab", 1), long_key(0)),
        ];
        sort_entries(
            &mut e,
            &layout(&[true, false], false, Some((Some(1), false))),
        );
        assert_eq!(
            keys(&e),
            vec![
                str_long_key("ab", 1),
                str_long_key("b", 1),
                str_long_key("a", 2)
            ]
        );
        sort_entries(
            &mut e,
            &layout(&[true, false], false, Some((Some(0), false))),
        );
        assert_eq!(
            keys(&e),
            vec![
                str_long_key("a", 2),
                str_long_key("ab", 1),
                str_long_key("b", 1)
            ]
        );
    }

    #[test]
    fn specs_that_do_not_match_the_map_are_refused() {
        let spec = h::iter_spec(&[true, false], false, None) as u32;
        // MAXSTRINGLEN 64: 72-byte key.
        assert!(ArrayLayout::decode(spec, 72, 8).is_some());
        assert!(ArrayLayout::decode(spec, 4, 8).is_none());
        // A long value must be 8 bytes.
        assert!(ArrayLayout::decode(spec, 72, 64).is_none());
        // ... unless the array is an array of statistics (a whole statistic).
        let stat = spec | h::ITER_SPEC_STAT as u32;
        assert!(ArrayLayout::decode(stat, 72, 64).is_some());
        assert!(ArrayLayout::decode(stat, 72, 16).is_none());
        // No columns, or a sort column beyond them.
        assert!(ArrayLayout::decode(0, 8, 8).is_none());
        let bad = h::iter_spec(&[false], false, Some((Some(3), false))) as u32;
        assert!(ArrayLayout::decode(bad, 8, 8).is_none());
    }
}
