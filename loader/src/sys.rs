//! The one unsafe site of stapc: every system call the loader makes is a
//! [`Call`] handed to [`syscall`], which builds the kernel's `#[repr(C)]`
//! argument structs from safe Rust slices and calls `libc`. Under
//! `#[cfg(test)]` the calls go to a thread-local fake instead (aya's shape),
//! so the loader's logic is unit-tested without root or a BPF-capable kernel.
//!
//! Everything a call returns that owns a kernel object becomes an `OwnedFd`
//! (or a [`Mapping`]) at once, so it is released on drop whatever happens.

use std::ffi::CStr;
use std::fmt;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

// `enum bpf_cmd`.
const BPF_MAP_CREATE: u32 = 0;
const BPF_MAP_LOOKUP_ELEM: u32 = 1;
const BPF_MAP_UPDATE_ELEM: u32 = 2;
const BPF_MAP_DELETE_ELEM: u32 = 3;
const BPF_MAP_GET_NEXT_KEY: u32 = 4;
const BPF_PROG_LOAD: u32 = 5;
const BPF_PROG_TEST_RUN: u32 = 10;
const BPF_PROG_GET_NEXT_ID: u32 = 11;
const BPF_PROG_GET_FD_BY_ID: u32 = 13;
const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;
const BPF_RAW_TRACEPOINT_OPEN: u32 = 17;
const BPF_BTF_LOAD: u32 = 18;

// `<linux/perf_event.h>` ioctls: _IO('$', 0), _IO('$', 1), _IOW('$', 8, __u32).
const PERF_EVENT_IOC_ENABLE: u64 = 0x2400;
const PERF_EVENT_IOC_DISABLE: u64 = 0x2401;
const PERF_EVENT_IOC_SET_BPF: u64 = 0x4004_2408;
const PERF_FLAG_FD_CLOEXEC: u64 = 8;

/// `union bpf_attr` for `BPF_MAP_CREATE` (no pointers, so callers fill it in).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; 16],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub map_extra: u64,
    pub value_type_btf_obj_fd: i32,
    pub map_token_fd: i32,
}

/// `union bpf_attr` for the `BPF_MAP_*_ELEM` commands.
#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    /// `value` or `next_key`.
    value: u64,
    flags: u64,
}

/// `union bpf_attr` for `BPF_PROG_LOAD`, up to `fd_array_cnt`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_prog_fd: u32,
    core_relo_cnt: u32,
    fd_array: u64,
    core_relos: u64,
    core_relo_rec_size: u32,
    log_true_size: u32,
    prog_token_fd: i32,
    fd_array_cnt: u32,
}

/// `union bpf_attr` for `BPF_PROG_TEST_RUN` (`test`).
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

/// `union bpf_attr` for `BPF_*_GET_NEXT_ID` and `BPF_*_GET_FD_BY_ID`.
#[repr(C)]
#[derive(Default)]
struct GetIdAttr {
    /// `start_id` or `prog_id`.
    id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `union bpf_attr` for `BPF_OBJ_GET_INFO_BY_FD` (`info`).
#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// `union bpf_attr` for `BPF_BTF_LOAD`.
#[repr(C)]
#[derive(Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
    btf_log_true_size: u32,
    btf_flags: u32,
    btf_token_fd: i32,
}

/// `union bpf_attr` for `BPF_RAW_TRACEPOINT_OPEN`.
#[repr(C)]
#[derive(Default)]
struct RawTracepointAttr {
    name: u64,
    prog_fd: u32,
    _pad: u32,
    cookie: u64,
}

/// `struct perf_event_attr` (PERF_ATTR_SIZE_VER8, 136 bytes). `flags` holds
/// the bitfield word (`disabled` is bit 0, `freq` bit 10, ...).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerfEventAttr {
    pub type_: u32,
    pub size: u32,
    pub config: u64,
    /// `sample_period` or `sample_freq`.
    pub sample_period: u64,
    pub sample_type: u64,
    pub read_format: u64,
    pub flags: u64,
    /// `wakeup_events` or `wakeup_watermark`.
    pub wakeup_events: u32,
    pub bp_type: u32,
    /// `config1` (`uprobe_path`/`kprobe_func`: set by [`syscall`] from
    /// `Call::PerfEventOpen::name`, never by callers).
    pub config1: u64,
    /// `config2` (`probe_offset`/`kprobe_addr`).
    pub config2: u64,
    pub branch_sample_type: u64,
    pub sample_regs_user: u64,
    pub sample_stack_user: u32,
    pub clockid: i32,
    pub sample_regs_intr: u64,
    pub aux_watermark: u32,
    pub sample_max_stack: u16,
    pub reserved_2: u16,
    pub aux_sample_size: u32,
    pub reserved_3: u32,
    pub sig_data: u64,
    pub config3: u64,
}

impl PerfEventAttr {
    pub fn new(type_: u32, config: u64) -> PerfEventAttr {
        PerfEventAttr {
            type_,
            size: size_of::<PerfEventAttr>() as u32,
            config,
            ..Default::default()
        }
    }
}

// The kernel reads these structs by offset; pin the offsets of include/uapi/linux/bpf.h.
const _: () = {
    assert!(offset_of!(MapCreateAttr, map_name) == 28);
    assert!(offset_of!(MapCreateAttr, map_ifindex) == 44);
    assert!(offset_of!(MapCreateAttr, map_extra) == 64);
    assert!(size_of::<MapCreateAttr>() == 80);
    assert!(offset_of!(MapElemAttr, key) == 8);
    assert!(offset_of!(MapElemAttr, flags) == 24);
    assert!(offset_of!(ProgLoadAttr, log_buf) == 32);
    assert!(offset_of!(ProgLoadAttr, prog_name) == 48);
    assert!(offset_of!(ProgLoadAttr, expected_attach_type) == 68);
    assert!(offset_of!(ProgLoadAttr, func_info) == 80);
    assert!(offset_of!(ProgLoadAttr, line_info) == 96);
    assert!(offset_of!(ProgLoadAttr, fd_array) == 120);
    assert!(offset_of!(ProgLoadAttr, log_true_size) == 140);
    assert!(size_of::<ProgLoadAttr>() == 152);
    assert!(offset_of!(TestRunAttr, data_in) == 16);
    assert!(offset_of!(TestRunAttr, repeat) == 32);
    assert!(offset_of!(TestRunAttr, ctx_in) == 48);
    assert!(offset_of!(TestRunAttr, flags) == 64);
    assert!(size_of::<TestRunAttr>() == 80);
    assert!(size_of::<GetIdAttr>() == 12);
    assert!(offset_of!(InfoAttr, info) == 8);
    assert!(offset_of!(RawTracepointAttr, cookie) == 16);
    assert!(offset_of!(BtfLoadAttr, btf_size) == 16);
    assert!(offset_of!(BtfLoadAttr, btf_flags) == 32);
    assert!(size_of::<BtfLoadAttr>() == 40);
    assert!(offset_of!(PerfEventAttr, flags) == 40);
    assert!(offset_of!(PerfEventAttr, config1) == 56);
    assert!(offset_of!(PerfEventAttr, sample_regs_user) == 80);
    assert!(offset_of!(PerfEventAttr, aux_watermark) == 104);
    assert!(offset_of!(PerfEventAttr, sig_data) == 120);
    assert!(size_of::<PerfEventAttr>() == 136);
};

/// The input and output of `BPF_PROG_LOAD`.
pub struct ProgLoad<'a> {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub prog_flags: u32,
    /// Encoded instructions (8 bytes each).
    pub insns: &'a [u8],
    pub license: &'a CStr,
    pub name: [u8; 16],
    pub kern_version: u32,
    pub log_level: u32,
    /// BTF with the program's functions and line strings, and the
    /// `bpf_func_info` (8-byte) and `bpf_line_info` (16-byte) records.
    pub btf: Option<BorrowedFd<'a>>,
    pub func_info: &'a [u8],
    pub line_info: &'a [u8],
    /// Verifier log buffer (empty with log level 0).
    pub log: &'a mut [u8],
    /// Out: the log size the kernel needed (kernels since 6.4, else 0).
    pub log_true_size: u32,
}

/// The input and output of `BPF_PROG_TEST_RUN`.
pub struct TestRun<'a> {
    pub prog: BorrowedFd<'a>,
    /// Mutable: for `syscall` programs the kernel copies the context back here.
    pub ctx_in: &'a mut [u8],
    pub data_in: &'a [u8],
    pub data_out: &'a mut [u8],
    pub repeat: u32,
    /// Out: the program's return value.
    pub retval: u32,
    /// Out: nanoseconds per run, as the kernel measured it.
    pub duration: u32,
}

#[derive(Clone, Copy, Debug)]
pub enum PerfIoctl<'a> {
    Enable,
    Disable,
    SetBpf(BorrowedFd<'a>),
}

/// One system call with its arguments as safe references.
pub enum Call<'a> {
    MapCreate(MapCreateAttr),
    MapLookupElem {
        map: BorrowedFd<'a>,
        key: &'a [u8],
        value: &'a mut [u8],
    },
    MapUpdateElem {
        map: BorrowedFd<'a>,
        key: &'a [u8],
        value: &'a [u8],
        flags: u64,
    },
    MapDeleteElem {
        map: BorrowedFd<'a>,
        key: &'a [u8],
    },
    /// `key: None` asks for the first key.
    MapGetNextKey {
        map: BorrowedFd<'a>,
        key: Option<&'a [u8]>,
        next_key: &'a mut [u8],
    },
    ProgLoad(ProgLoad<'a>),
    /// Load a BTF blob; `log` receives the BTF verifier's log.
    BtfLoad {
        btf: &'a [u8],
        log_level: u32,
        log: &'a mut [u8],
    },
    ProgTestRun(TestRun<'a>),
    /// `info` is a zeroed `bpf_prog_info`/`bpf_map_info` prefix the kernel fills in.
    ObjGetInfoByFd {
        fd: BorrowedFd<'a>,
        info: &'a mut [u8],
    },
    /// Out: `next_id`.
    ProgGetNextId {
        start_id: u32,
        next_id: u32,
    },
    ProgGetFdById {
        id: u32,
    },
    RawTracepointOpen {
        name: &'a CStr,
        prog: BorrowedFd<'a>,
    },
    /// `name` becomes `config1` (the uprobe path or kprobe function).
    PerfEventOpen {
        attr: PerfEventAttr,
        name: Option<&'a CStr>,
        pid: i32,
        cpu: i32,
    },
    PerfEventIoctl {
        fd: BorrowedFd<'a>,
        op: PerfIoctl<'a>,
    },
    /// Returns the address of a shared mapping of `fd`.
    Mmap {
        fd: BorrowedFd<'a>,
        len: usize,
        offset: i64,
        writable: bool,
    },
    Munmap {
        addr: usize,
        len: usize,
    },
    /// Mount tracefs at `target`.
    MountTracefs {
        target: &'a CStr,
    },
    Umount {
        target: &'a CStr,
    },
    /// Wait until one of `fds` is readable; returns how many are.
    Poll {
        fds: &'a [BorrowedFd<'a>],
        timeout_ms: i32,
    },
}

impl Call<'_> {
    /// How the call is named in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Call::MapCreate(_) => "bpf(BPF_MAP_CREATE)",
            Call::MapLookupElem { .. } => "bpf(BPF_MAP_LOOKUP_ELEM)",
            Call::MapUpdateElem { .. } => "bpf(BPF_MAP_UPDATE_ELEM)",
            Call::MapDeleteElem { .. } => "bpf(BPF_MAP_DELETE_ELEM)",
            Call::MapGetNextKey { .. } => "bpf(BPF_MAP_GET_NEXT_KEY)",
            Call::ProgLoad(_) => "bpf(BPF_PROG_LOAD)",
            Call::BtfLoad { .. } => "bpf(BPF_BTF_LOAD)",
            Call::ProgTestRun(_) => "bpf(BPF_PROG_TEST_RUN)",
            Call::ObjGetInfoByFd { .. } => "bpf(BPF_OBJ_GET_INFO_BY_FD)",
            Call::ProgGetNextId { .. } => "bpf(BPF_PROG_GET_NEXT_ID)",
            Call::ProgGetFdById { .. } => "bpf(BPF_PROG_GET_FD_BY_ID)",
            Call::RawTracepointOpen { .. } => "bpf(BPF_RAW_TRACEPOINT_OPEN)",
            Call::PerfEventOpen { .. } => "perf_event_open",
            Call::PerfEventIoctl {
                op: PerfIoctl::Enable,
                ..
            } => "ioctl(PERF_EVENT_IOC_ENABLE)",
            Call::PerfEventIoctl {
                op: PerfIoctl::Disable,
                ..
            } => "ioctl(PERF_EVENT_IOC_DISABLE)",
            Call::PerfEventIoctl {
                op: PerfIoctl::SetBpf(_),
                ..
            } => "ioctl(PERF_EVENT_IOC_SET_BPF)",
            Call::Mmap { .. } => "mmap",
            Call::Munmap { .. } => "munmap",
            Call::MountTracefs { .. } => "mount(tracefs)",
            Call::Umount { .. } => "umount",
            Call::Poll { .. } => "poll",
        }
    }
}

/// A failed system call: which one, and the errno it returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysError {
    pub call: &'static str,
    pub errno: i32,
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: {}",
            self.call,
            crate::errno::describe(self.errno)
        )
    }
}

impl std::error::Error for SysError {}

fn ptr_of(s: &[u8]) -> u64 {
    if s.is_empty() {
        0
    } else {
        s.as_ptr() as u64
    }
}

fn ptr_of_mut(s: &mut [u8]) -> u64 {
    if s.is_empty() {
        0
    } else {
        s.as_mut_ptr() as u64
    }
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    fd.as_raw_fd() as u32
}

/// Perform `call`. Outputs (`log_true_size`, `retval`, `next_id`, buffers) are
/// written back into `call`.
pub fn syscall(call: &mut Call<'_>) -> Result<i64, SysError> {
    #[cfg(test)]
    {
        fake::dispatch(call)
    }
    #[cfg(not(test))]
    {
        let name = call.name();
        let ret = real_syscall(call);
        if ret < 0 {
            let errno = std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            Err(SysError { call: name, errno })
        } else {
            Ok(ret)
        }
    }
}

/// Perform a call that returns a new file descriptor, and own it at once.
pub fn syscall_fd(call: &mut Call<'_>) -> Result<OwnedFd, SysError> {
    let ret = syscall(call)?;
    #[cfg(test)]
    {
        // The fake hands out real descriptors (of /dev/null) so callers can
        // own, borrow and close them exactly as they do kernel objects.
        let _ = ret;
        std::fs::File::open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| SysError {
                call: call.name(),
                errno: e.raw_os_error().unwrap_or(libc::EIO),
            })
    }
    #[cfg(not(test))]
    {
        use std::os::fd::FromRawFd;
        match i32::try_from(ret) {
            // SAFETY: the kernel just returned this descriptor to us and nothing
            // else owns it.
            Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(_) => Err(SysError {
                call: call.name(),
                errno: libc::EBADF,
            }),
        }
    }
}

// Compiled in tests too (so its types are checked), but only called outside them.
#[cfg_attr(test, allow(dead_code))]
fn bpf<T>(cmd: u32, attr: &mut T) -> i64 {
    // SAFETY: `attr` is a `#[repr(C)]` prefix of `union bpf_attr` whose pointer
    // fields point into buffers borrowed for the duration of this call, and
    // the size passed is its own size.
    unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut T,
            size_of::<T>() as u32,
        ) as i64
    }
}

#[cfg_attr(test, allow(dead_code))]
fn real_syscall(call: &mut Call<'_>) -> i64 {
    match call {
        Call::MapCreate(attr) => bpf(BPF_MAP_CREATE, attr),
        Call::MapLookupElem { map, key, value } => {
            let mut a = MapElemAttr {
                map_fd: fd_u32(*map),
                key: ptr_of(key),
                value: ptr_of_mut(value),
                ..Default::default()
            };
            bpf(BPF_MAP_LOOKUP_ELEM, &mut a)
        }
        Call::MapUpdateElem {
            map,
            key,
            value,
            flags,
        } => {
            let mut a = MapElemAttr {
                map_fd: fd_u32(*map),
                key: ptr_of(key),
                value: ptr_of(value),
                flags: *flags,
                ..Default::default()
            };
            bpf(BPF_MAP_UPDATE_ELEM, &mut a)
        }
        Call::MapDeleteElem { map, key } => {
            let mut a = MapElemAttr {
                map_fd: fd_u32(*map),
                key: ptr_of(key),
                ..Default::default()
            };
            bpf(BPF_MAP_DELETE_ELEM, &mut a)
        }
        Call::MapGetNextKey { map, key, next_key } => {
            let mut a = MapElemAttr {
                map_fd: fd_u32(*map),
                key: key.map_or(0, ptr_of),
                value: ptr_of_mut(next_key),
                ..Default::default()
            };
            bpf(BPF_MAP_GET_NEXT_KEY, &mut a)
        }
        Call::ProgLoad(p) => {
            let mut a = ProgLoadAttr {
                prog_type: p.prog_type,
                insn_cnt: (p.insns.len() / 8) as u32,
                insns: ptr_of(p.insns),
                license: p.license.as_ptr() as u64,
                log_level: p.log_level,
                log_size: p.log.len() as u32,
                log_buf: ptr_of_mut(p.log),
                kern_version: p.kern_version,
                prog_flags: p.prog_flags,
                prog_name: p.name,
                expected_attach_type: p.expected_attach_type,
                prog_btf_fd: p.btf.map_or(0, fd_u32),
                func_info_rec_size: if p.func_info.is_empty() { 0 } else { 8 },
                func_info: ptr_of(p.func_info),
                func_info_cnt: (p.func_info.len() / 8) as u32,
                line_info_rec_size: if p.line_info.is_empty() { 0 } else { 16 },
                line_info: ptr_of(p.line_info),
                line_info_cnt: (p.line_info.len() / 16) as u32,
                ..Default::default()
            };
            let ret = bpf(BPF_PROG_LOAD, &mut a);
            p.log_true_size = a.log_true_size;
            ret
        }
        Call::BtfLoad {
            btf,
            log_level,
            log,
        } => {
            let mut a = BtfLoadAttr {
                btf: ptr_of(btf),
                btf_size: btf.len() as u32,
                btf_log_buf: ptr_of_mut(log),
                btf_log_size: log.len() as u32,
                btf_log_level: *log_level,
                ..Default::default()
            };
            bpf(BPF_BTF_LOAD, &mut a)
        }
        Call::ProgTestRun(t) => {
            let mut a = TestRunAttr {
                prog_fd: fd_u32(t.prog),
                data_size_in: t.data_in.len() as u32,
                data_size_out: t.data_out.len() as u32,
                data_in: ptr_of(t.data_in),
                data_out: ptr_of_mut(t.data_out),
                repeat: t.repeat,
                ctx_size_in: t.ctx_in.len() as u32,
                ctx_in: ptr_of_mut(t.ctx_in),
                ..Default::default()
            };
            let ret = bpf(BPF_PROG_TEST_RUN, &mut a);
            t.retval = a.retval;
            t.duration = a.duration;
            ret
        }
        Call::ObjGetInfoByFd { fd, info } => {
            let mut a = InfoAttr {
                bpf_fd: fd_u32(*fd),
                info_len: info.len() as u32,
                info: ptr_of_mut(info),
            };
            bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a)
        }
        Call::ProgGetNextId { start_id, next_id } => {
            let mut a = GetIdAttr {
                id: *start_id,
                ..Default::default()
            };
            let ret = bpf(BPF_PROG_GET_NEXT_ID, &mut a);
            *next_id = a.next_id;
            ret
        }
        Call::ProgGetFdById { id } => {
            let mut a = GetIdAttr {
                id: *id,
                ..Default::default()
            };
            bpf(BPF_PROG_GET_FD_BY_ID, &mut a)
        }
        Call::RawTracepointOpen { name, prog } => {
            let mut a = RawTracepointAttr {
                name: name.as_ptr() as u64,
                prog_fd: fd_u32(*prog),
                ..Default::default()
            };
            bpf(BPF_RAW_TRACEPOINT_OPEN, &mut a)
        }
        Call::PerfEventOpen {
            attr,
            name,
            pid,
            cpu,
        } => {
            let mut a = *attr;
            if let Some(name) = name {
                a.config1 = name.as_ptr() as u64;
            }
            // SAFETY: `a` is a complete perf_event_attr whose `size` says so;
            // `config1` points at a NUL-terminated string borrowed for the call.
            unsafe {
                libc::syscall(
                    libc::SYS_perf_event_open,
                    &mut a as *mut PerfEventAttr,
                    *pid as libc::c_long,
                    *cpu as libc::c_long,
                    -1 as libc::c_long,
                    PERF_FLAG_FD_CLOEXEC as libc::c_long,
                ) as i64
            }
        }
        Call::PerfEventIoctl { fd, op } => {
            let (request, arg) = match op {
                PerfIoctl::Enable => (PERF_EVENT_IOC_ENABLE, 0),
                PerfIoctl::Disable => (PERF_EVENT_IOC_DISABLE, 0),
                PerfIoctl::SetBpf(prog) => (PERF_EVENT_IOC_SET_BPF, prog.as_raw_fd() as u64),
            };
            // SAFETY: perf event ioctls that take an integer argument, on a
            // descriptor we borrow for the call.
            unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg as libc::c_ulong) as i64 }
        }
        Call::Mmap {
            fd,
            len,
            offset,
            writable,
        } => {
            let prot = if *writable {
                libc::PROT_READ | libc::PROT_WRITE
            } else {
                libc::PROT_READ
            };
            // SAFETY: a fresh shared mapping chosen by the kernel; it aliases
            // nothing in this process. `Mapping` owns and unmaps it.
            let addr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    *len,
                    prot,
                    libc::MAP_SHARED,
                    fd.as_raw_fd(),
                    *offset as libc::off_t,
                )
            };
            if addr == libc::MAP_FAILED {
                -1
            } else {
                addr as i64
            }
        }
        Call::Munmap { addr, len } => {
            // SAFETY: only `Mapping::drop` issues this, for the mapping it owns.
            unsafe { libc::munmap(*addr as *mut libc::c_void, *len) as i64 }
        }
        Call::MountTracefs { target } => {
            // SAFETY: NUL-terminated strings that outlive the call.
            unsafe {
                libc::mount(
                    c"nodev".as_ptr(),
                    target.as_ptr(),
                    c"tracefs".as_ptr(),
                    0,
                    std::ptr::null(),
                ) as i64
            }
        }
        Call::Umount { target } => {
            // SAFETY: a NUL-terminated string that outlives the call.
            unsafe { libc::umount2(target.as_ptr(), 0) as i64 }
        }
        Call::Poll { fds, timeout_ms } => {
            let mut pfds: Vec<libc::pollfd> = fds
                .iter()
                .map(|fd| libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            // SAFETY: `pfds` is a live array of `pfds.len()` pollfd structs.
            unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, *timeout_ms) as i64 }
        }
    }
}

/// The system's page size.
pub fn page_size() -> usize {
    #[cfg(not(test))]
    {
        // SAFETY: sysconf has no memory-safety preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if n > 0 {
            return n as usize;
        }
    }
    4096
}

/// A shared memory mapping of a kernel object (a ring buffer), unmapped on
/// drop. All access is bounds-checked; the 8-byte positions are read with
/// acquire and written with release ordering, as the kernel's producers and
/// consumers expect.
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
    /// Stores into a read-only mapping would fault; they are ignored.
    writable: bool,
    /// The fake keeps its memory here (`u64` for alignment); the kernel's
    /// mappings have none.
    #[cfg(test)]
    _backing: Box<[AtomicU64]>,
}

// SAFETY: the mapping is plain shared memory; every access goes through
// atomics or bounds-checked copies, none through references handed out.
unsafe impl Send for Mapping {}

/// Map `len` bytes of `fd` at `offset`.
pub fn mmap(
    fd: BorrowedFd<'_>,
    len: usize,
    offset: i64,
    writable: bool,
) -> Result<Mapping, SysError> {
    let addr = syscall(&mut Call::Mmap {
        fd,
        len,
        offset,
        writable,
    })?;
    #[cfg(test)]
    {
        let _ = addr;
        let backing: Box<[AtomicU64]> = (0..len.div_ceil(8)).map(|_| AtomicU64::new(0)).collect();
        let ptr = backing.as_ptr() as *mut u8;
        // The fake plays the kernel's producer too, so its memory is writable.
        let _ = writable;
        Ok(Mapping {
            ptr,
            len,
            writable: true,
            _backing: backing,
        })
    }
    #[cfg(not(test))]
    {
        Ok(Mapping {
            ptr: addr as usize as *mut u8,
            len,
            writable,
        })
    }
}

impl Mapping {
    fn check(&self, off: usize, size: usize, align: usize) -> bool {
        off & (align - 1) == 0 && off.checked_add(size).is_some_and(|end| end <= self.len)
    }

    /// The u64 at `off` (8-aligned), with acquire ordering; 0 when out of range.
    pub fn load_u64(&self, off: usize) -> u64 {
        if !self.check(off, 8, 8) {
            return 0;
        }
        // SAFETY: in bounds and aligned (the mapping is page aligned); the
        // memory is only ever accessed atomically at this position.
        unsafe { AtomicU64::from_ptr(self.ptr.add(off) as *mut u64) }.load(Ordering::Acquire)
    }

    /// The u32 at `off` (4-aligned), with acquire ordering; 0 when out of range.
    pub fn load_u32(&self, off: usize) -> u32 {
        if !self.check(off, 4, 4) {
            return 0;
        }
        // SAFETY: as in `load_u64`.
        unsafe { AtomicU32::from_ptr(self.ptr.add(off) as *mut u32) }.load(Ordering::Acquire)
    }

    /// Store `v` at `off` (8-aligned) with release ordering; ignored when out of range.
    pub fn store_u64(&self, off: usize, v: u64) {
        if self.writable && self.check(off, 8, 8) {
            // SAFETY: as in `load_u64`; only writable mappings are written.
            unsafe { AtomicU64::from_ptr(self.ptr.add(off) as *mut u64) }
                .store(v, Ordering::Release)
        }
    }

    /// Copy `out.len()` bytes from `off`; false (and nothing copied) when out of range.
    pub fn read(&self, off: usize, out: &mut [u8]) -> bool {
        if !self.check(off, out.len(), 1) {
            return false;
        }
        // SAFETY: in bounds; the producer finished writing these bytes before
        // publishing them (ordered by the acquire load of the position).
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(off), out.as_mut_ptr(), out.len()) };
        true
    }

    /// Test-only: write bytes as a kernel producer would.
    #[cfg(test)]
    pub fn write(&self, off: usize, data: &[u8]) {
        assert!(self.check(off, data.len(), 1));
        // SAFETY: in bounds of the fake's own heap memory.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(off), data.len()) };
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        let _ = syscall(&mut Call::Munmap {
            addr: self.ptr as usize,
            len: self.len,
        });
    }
}

// ---------------------------------------------------------------------------
// The runtime's process plumbing: catching SIGINT/SIGTERM, the `-c` child,
// and the identity and clock userspace probes see. These are real calls in
// unit tests too (they touch no kernel BPF object).

/// How many `StopSignals` may be live at once (one per concurrent runtime).
const SIGNAL_SLOTS: usize = 16;

/// Write ends of the live `StopSignals` pipes (-1 = free); the handler
/// writes the signal number to each.
static SIGNAL_PIPES: [AtomicI32; SIGNAL_SLOTS] = [const { AtomicI32::new(-1) }; SIGNAL_SLOTS];

/// Live `StopSignals` and the dispositions they replaced (restored when the
/// last one is dropped).
struct SignalState {
    users: usize,
    old: Vec<(libc::c_int, libc::sigaction)>,
}

static SIGNAL_STATE: std::sync::Mutex<SignalState> = std::sync::Mutex::new(SignalState {
    users: 0,
    old: Vec::new(),
});

/// The signals that stop a session, as Ctrl-C does.
pub const STOP_SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

extern "C" fn on_stop_signal(sig: libc::c_int) {
    // Only async-signal-safe work: atomics and write(2); errno is preserved.
    // SAFETY: __errno_location returns this thread's errno slot.
    let saved = unsafe { *libc::__errno_location() };
    let byte = sig as u8;
    for slot in &SIGNAL_PIPES {
        let fd = slot.load(Ordering::Acquire);
        if fd >= 0 {
            // SAFETY: writes one byte from a live local to a pipe we own; a
            // full pipe (O_NONBLOCK) just fails.
            unsafe { libc::write(fd, &byte as *const u8 as *const libc::c_void, 1) };
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn pipe_cloexec(call: &'static str, nonblock: bool) -> Result<(OwnedFd, OwnedFd), SysError> {
    use std::os::fd::FromRawFd;
    let mut fds = [-1 as libc::c_int; 2];
    let flags = libc::O_CLOEXEC | if nonblock { libc::O_NONBLOCK } else { 0 };
    // SAFETY: `fds` is a live array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), flags) } != 0 {
        return Err(SysError {
            call,
            errno: last_errno(),
        });
    }
    // SAFETY: pipe2 just returned these two descriptors; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// SIGINT and SIGTERM caught while this is alive: each one writes its
/// number to a pipe that [`StopSignals::fd`] makes pollable, so a poll
/// loop wakes up at once. Dropping it restores the previous dispositions
/// (when no other `StopSignals` is alive).
pub struct StopSignals {
    slot: usize,
    read: OwnedFd,
    _write: OwnedFd,
}

/// Start catching SIGINT and SIGTERM.
pub fn catch_stop_signals() -> Result<StopSignals, SysError> {
    let (read, write) = pipe_cloexec("pipe2", true)?;
    let mut state = SIGNAL_STATE.lock().unwrap_or_else(|e| e.into_inner());
    let slot = SIGNAL_PIPES
        .iter()
        .position(|s| s.load(Ordering::Acquire) < 0)
        .ok_or(SysError {
            call: "sigaction",
            errno: libc::EBUSY,
        })?;
    if state.users == 0 {
        let mut old = Vec::new();
        for sig in STOP_SIGNALS {
            // SAFETY: zeroed sigaction structs are valid; the handler is an
            // `extern "C" fn(c_int)` that only does async-signal-safe work.
            let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
            act.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
            act.sa_flags = libc::SA_RESTART;
            // SAFETY: sa_mask is a live sigset_t.
            unsafe { libc::sigemptyset(&mut act.sa_mask) };
            // SAFETY: as above.
            let mut prev: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: both structs are live and fully initialised.
            if unsafe { libc::sigaction(sig, &act, &mut prev) } != 0 {
                let errno = last_errno();
                for (s, o) in &old {
                    // SAFETY: restoring a disposition the kernel gave us.
                    unsafe { libc::sigaction(*s, o, std::ptr::null_mut()) };
                }
                return Err(SysError {
                    call: "sigaction",
                    errno,
                });
            }
            old.push((sig, prev));
        }
        state.old = old;
    }
    state.users += 1;
    SIGNAL_PIPES[slot].store(write.as_raw_fd(), Ordering::Release);
    Ok(StopSignals {
        slot,
        read,
        _write: write,
    })
}

impl StopSignals {
    /// Readable once a signal was caught.
    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.read.as_fd()
    }

    /// The last stop signal caught since the previous call, if any.
    pub fn caught(&self) -> Option<i32> {
        let mut last = None;
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: reads into a live local buffer of its length from a
            // non-blocking pipe we own.
            let n = unsafe {
                libc::read(
                    self.read.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                )
            };
            if n <= 0 {
                break;
            }
            last = buf.get(n as usize - 1).map(|&b| i32::from(b));
        }
        last
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        let mut state = SIGNAL_STATE.lock().unwrap_or_else(|e| e.into_inner());
        // Unpublish the pipe before it is closed.
        SIGNAL_PIPES[self.slot].store(-1, Ordering::Release);
        state.users = state.users.saturating_sub(1);
        if state.users == 0 {
            for (sig, old) in std::mem::take(&mut state.old) {
                // SAFETY: restoring a disposition the kernel gave us.
                unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
            }
        }
    }
}

/// A child process forked for `-c CMD` that waits, before `execv`, until
/// [`GatedChild::release`] (so its pid is known to the probes, and they are
/// attached, before the command runs). Dropping it reaps it: an unreleased
/// child exits without running the command, a running one is killed.
pub struct GatedChild {
    pid: libc::pid_t,
    gate: Option<OwnedFd>,
    exec_error: Option<OwnedFd>,
    pidfd: Option<OwnedFd>,
    status: Option<i32>,
}

/// Fork a child that will `execv(path, argv)` once released.
pub fn spawn_gated(path: &CStr, argv: &[std::ffi::CString]) -> Result<GatedChild, SysError> {
    use std::os::fd::FromRawFd;
    // Everything the child touches is prepared before fork: after it, the
    // child may only make async-signal-safe calls.
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let (gate_r, gate_w) = pipe_cloexec("pipe2", false)?;
    let (err_r, err_w) = pipe_cloexec("pipe2", false)?;
    let (gr, gw, ew) = (gate_r.as_raw_fd(), gate_w.as_raw_fd(), err_w.as_raw_fd());
    // SAFETY: fork has no memory preconditions; the child branch below only
    // calls async-signal-safe functions on data prepared above and never
    // returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(SysError {
            call: "fork",
            errno: last_errno(),
        });
    }
    if pid == 0 {
        // SAFETY: the child: signal(2), close(2), read(2), execv(2),
        // write(2) and _exit(2) are async-signal-safe; every pointer is to
        // memory allocated before fork.
        unsafe {
            for sig in STOP_SIGNALS {
                libc::signal(sig, libc::SIG_DFL);
            }
            libc::close(gw);
            let mut b = 0u8;
            let n = loop {
                let n = libc::read(gr, &mut b as *mut u8 as *mut libc::c_void, 1);
                if n < 0 && *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                break n;
            };
            if n == 1 {
                libc::execv(path.as_ptr(), ptrs.as_ptr());
                let e: i32 = *libc::__errno_location();
                libc::write(ew, &e as *const i32 as *const libc::c_void, 4);
            }
            libc::_exit(127);
        }
    }
    drop(gate_r);
    drop(err_w);
    // SAFETY: pidfd_open takes a pid and flags; a negative return is an error.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let pidfd = if pidfd >= 0 {
        // SAFETY: the kernel just returned this descriptor; nothing else owns it.
        Some(unsafe { OwnedFd::from_raw_fd(pidfd as i32) })
    } else {
        None
    };
    Ok(GatedChild {
        pid,
        gate: Some(gate_w),
        exec_error: Some(err_r),
        pidfd,
        status: None,
    })
}

impl GatedChild {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// A descriptor that becomes readable when the child exits (kernels
    /// since 5.3; `None` before).
    pub fn exit_fd(&self) -> Option<BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.pidfd.as_ref().map(|f| f.as_fd())
    }

    /// Let the child exec its command; waits until the exec happened.
    /// `Err` with `call: "execv"` when the command could not be executed.
    pub fn release(&mut self) -> Result<(), SysError> {
        use std::io::{Read, Write};
        if let Some(gate) = self.gate.take() {
            let mut f = std::fs::File::from(gate);
            f.write_all(&[1]).map_err(|e| SysError {
                call: "write",
                errno: e.raw_os_error().unwrap_or(libc::EIO),
            })?;
        }
        let Some(err) = self.exec_error.take() else {
            return Ok(());
        };
        let mut f = std::fs::File::from(err);
        let mut buf = Vec::new();
        // EOF without data: the exec succeeded (the pipe closed on exec).
        let _ = f.read_to_end(&mut buf);
        match <[u8; 4]>::try_from(buf.as_slice()) {
            Ok(b) => Err(SysError {
                call: "execv",
                errno: i32::from_ne_bytes(b),
            }),
            Err(_) => Ok(()),
        }
    }

    fn wait_flags(&mut self, flags: libc::c_int) -> Result<Option<i32>, SysError> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        let mut status: libc::c_int = 0;
        loop {
            // SAFETY: waits for our own child; `status` is a live int.
            let r = unsafe { libc::waitpid(self.pid, &mut status, flags) };
            if r < 0 {
                let errno = last_errno();
                if errno == libc::EINTR {
                    continue;
                }
                return Err(SysError {
                    call: "waitpid",
                    errno,
                });
            }
            if r == 0 {
                return Ok(None);
            }
            self.status = Some(status);
            return Ok(Some(status));
        }
    }

    /// The child's wait status once it has exited (reaping it), else `None`.
    pub fn try_wait(&mut self) -> Result<Option<i32>, SysError> {
        self.wait_flags(libc::WNOHANG)
    }

    /// Wait for the child to exit; its wait status.
    pub fn wait(&mut self) -> Result<i32, SysError> {
        Ok(self.wait_flags(0)?.unwrap_or(0))
    }

    /// Send `sig` to the child (nothing once it has been reaped).
    pub fn kill(&self, sig: libc::c_int) -> Result<(), SysError> {
        if self.status.is_some() {
            return Ok(());
        }
        // SAFETY: kill has no memory preconditions; the pid is our unreaped
        // child, so it cannot have been reused.
        if unsafe { libc::kill(self.pid, sig) } != 0 {
            return Err(SysError {
                call: "kill",
                errno: last_errno(),
            });
        }
        Ok(())
    }
}

impl Drop for GatedChild {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        if self.gate.take().is_none() {
            // Released: the command is running.
            let _ = self.kill(libc::SIGKILL);
        }
        // An unreleased child sees the gate close and exits at once.
        let _ = self.wait();
    }
}

/// The calling task's (pid, tid, uid, gid).
pub fn current_ids() -> (u32, u32, u32, u32) {
    // SAFETY: these calls have no preconditions and cannot fail.
    unsafe {
        (
            libc::getpid() as u32,
            libc::gettid() as u32,
            libc::getuid(),
            libc::getgid(),
        )
    }
}

/// CLOCK_MONOTONIC in nanoseconds (what the kernel's `ktime_get_ns` reads).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live timespec for the call to fill in.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// The thread-local fake of the syscall layer used by unit tests: a test
/// installs a handler that sees every call (and can fill in its outputs).
#[cfg(test)]
pub mod fake {
    use super::{Call, SysError};
    use std::cell::RefCell;

    type Handler = Box<dyn FnMut(&mut Call<'_>) -> Result<i64, i32>>;

    thread_local! {
        static HANDLER: RefCell<Option<Handler>> = const { RefCell::new(None) };
    }

    /// Route this thread's system calls to `f` (returning `Err(errno)` to fail).
    pub fn set(f: impl FnMut(&mut Call<'_>) -> Result<i64, i32> + 'static) {
        HANDLER.with(|h| *h.borrow_mut() = Some(Box::new(f)));
    }

    pub fn clear() {
        HANDLER.with(|h| *h.borrow_mut() = None);
    }

    pub(super) fn dispatch(call: &mut Call<'_>) -> Result<i64, SysError> {
        let name = call.name();
        // Unmapping is bookkeeping; without a handler every call fails with ENOSYS.
        if matches!(call, Call::Munmap { .. }) {
            return Ok(0);
        }
        HANDLER.with(|h| match h.borrow_mut().as_mut() {
            Some(f) => f(call).map_err(|errno| SysError { call: name, errno }),
            None => Err(SysError {
                call: name,
                errno: libc::ENOSYS,
            }),
        })
    }
}
