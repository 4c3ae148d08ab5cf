//! The object's ELF form (`.bo`): one section per program named as libbpf
//! expects, the maps, `license`, and stapc's own metadata; writer and reader,
//! with `read(&write(o)?)? == o`.
//!
//! Layout (ELF64, little endian, `e_machine` = EM_BPF 247, relocatable):
//!
//! - one executable section per program, named `Program::section_name()`
//!   (several programs may share a name, e.g. `perf_event`; they still get
//!   one section each), holding the instructions, and a global FUNC symbol
//!   named after the program at offset 0 with size = bytes of code;
//! - `license`: the license string and a NUL;
//! - `maps`: one legacy `struct bpf_map_def { u32 type, key_size,
//!   value_size, max_entries, map_flags }` (20 bytes) per map, in `Object::maps`
//!   order, each with a global OBJECT symbol named after the map;
//! - `.rel<section>`: an `R_BPF_64_64` relocation against the map's symbol
//!   on every `lddw` that references a map, so `llvm-objdump -dr` names them.
//!   As clang emits them, a map-fd reference has `src = 0, imm = 0` in the
//!   section bytes; a map-value reference keeps `src = 2` (and the value
//!   offset in the second slot's imm) with `imm = 0`. The reader puts back
//!   `src = BPF_PSEUDO_MAP_FD` / `BPF_PSEUDO_MAP_VALUE` and `imm = map index`;
//! - `.stapc`: everything else the `Object` holds, encoded as below.
//!
//! `.stapc` encoding, version 3. Integers are little endian; `str` and `bytes`
//! are a u32 length then that many bytes (`str` is UTF-8); `vec<T>` is a u32
//! count then the items; `bool` is one byte 0/1.
//!
//! ```text
//! magic "STAPCOBJ" | version u32 = 3
//! source_name str | max_string_len u32 | control_map u32 | output_map u32
//! programs vec<{ name str | kind | point str | lines vec<{insn u32, line u32, col u32}>
//!                | fields vec<{ name str | offset u32 | size u8 }> }>
//! map_inits vec<vec<{ key bytes | value bytes }>>   (one per map, in order)
//! formats vec<{ text str | args vec<u8: 0 = Long, 1 = Str> }>
//! errors vec<{ message str | location str }>
//! arrays vec<{ name str | map u32 | keys vec<argkind u8> | value u8 (0 Long, 1 Str, 2 none) | stat u32 (u32::MAX = none) }>
//! stats vec<{ name str | map u32 | keys vec<argkind u8> | log bool | linear bool [start i64 | stop i64 | interval i64] }>
//! hists vec<{ stat u32 | linear bool }>
//! kind = u8 tag then fields:
//!   0 Begin{priority i64} 1 End{priority i64} 2 Error{priority i64}
//!   3 Timer{period_ns u64, profile bool} 4 Tracepoint{group str, name str}
//!   5 Kprobe{function str, ret bool} 6 Uprobe{path str, symbol str, ret bool}
//!   7 Perf{type u32, config u64, sample_period u64} 8 UserTimer{period_ns u64}
//! ```
//!
//! A program's instructions are found through its FUNC symbol (the `name`
//! in `.stapc`), which is why program names must be unique.
//!
//! The reader checks everything it relies on and returns an `ElfError` for
//! anything else; it never panics on arbitrary bytes.

use crate::insn::{BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE};
use crate::object::{
    ArgKind, ArrayDesc, CtxField, ErrorMsg, Format, HistDesc, LineEntry, MapDef, MapKind, Object,
    ProbeKind, Program, StatDesc,
};
use object::read::{Object as _, ObjectSection as _, ObjectSymbol as _};
use object::{elf, write, BinaryFormat, Endianness, RelocationFlags, RelocationTarget};
use std::fmt;

/// EM_BPF.
pub const EM_BPF: u16 = 247;
/// Size of one legacy `struct bpf_map_def`.
pub const MAP_DEF_SIZE: usize = 20;
/// Name of stapc's metadata section.
pub const STAPC_SECTION: &str = ".stapc";
const MAGIC: &[u8; 8] = b"STAPCOBJ";
/// Version of the `.stapc` encoding this module writes and reads.
pub const STAPC_VERSION: u32 = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The bytes are not an ELF file the `object` crate can parse.
    Parse(String),
    /// Not ELF64 little endian.
    NotElf64Le,
    /// `e_machine` is not EM_BPF.
    WrongMachine(u16),
    /// A section stapc needs is absent.
    MissingSection(&'static str),
    /// A section's contents are shorter than their structure says.
    Truncated { section: String },
    /// `.stapc` does not start with the magic bytes.
    BadMagic,
    /// `.stapc` has an encoding version this reader does not know.
    UnknownVersion(u32),
    /// Bytes left over after the `.stapc` structure.
    TrailingBytes { section: String },
    /// A string in `.stapc` is not UTF-8.
    BadUtf8 { section: String },
    /// A tag byte (probe kind, arg kind, bool) has no meaning.
    BadTag { what: &'static str, value: u8 },
    /// A map index (in an instruction, `control_map`, `output_map`, a
    /// relocation) is out of range.
    MapIndex {
        what: String,
        index: u64,
        maps: usize,
    },
    /// The `maps` section and its symbols or `.stapc` disagree.
    BadMaps(String),
    /// A `bpf_map_def` type stapc does not know.
    UnknownMapType { map: String, kernel_type: u32 },
    /// No (or more than one) FUNC symbol for a program.
    ProgramSymbol { name: String, problem: &'static str },
    /// A program's code is malformed (size not a multiple of 8, out of its section).
    BadProgram { name: String, problem: String },
    /// A relocation that is not an `R_BPF_64_64` on a map-referencing `lddw`.
    BadRelocation {
        section: String,
        offset: u64,
        problem: String,
    },
    /// A line table entry past the end of its program, or out of order.
    BadLineTable { program: String, insn: u32 },
    /// The `object` crate could not write the file.
    Write(String),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::Parse(e) => write!(f, "not a valid ELF file: {e}"),
            ElfError::NotElf64Le => write!(f, "not a 64-bit little-endian ELF file"),
            ElfError::WrongMachine(m) => {
                write!(f, "ELF machine is {m}, expected EM_BPF ({EM_BPF})")
            }
            ElfError::MissingSection(s) => write!(f, "missing section `{s}`"),
            ElfError::Truncated { section } => write!(f, "section `{section}` is truncated"),
            ElfError::BadMagic => write!(f, "section `{STAPC_SECTION}` has a bad magic number"),
            ElfError::UnknownVersion(v) => write!(
                f,
                "section `{STAPC_SECTION}` has version {v}, this stapc reads version {STAPC_VERSION}"
            ),
            ElfError::TrailingBytes { section } => {
                write!(f, "section `{section}` has trailing bytes")
            }
            ElfError::BadUtf8 { section } => {
                write!(f, "section `{section}` holds a string that is not UTF-8")
            }
            ElfError::BadTag { what, value } => write!(f, "bad {what} tag {value}"),
            ElfError::MapIndex { what, index, maps } => {
                write!(f, "{what}: map index {index} out of range ({maps} maps)")
            }
            ElfError::BadMaps(m) => write!(f, "bad maps: {m}"),
            ElfError::UnknownMapType { map, kernel_type } => {
                write!(f, "map `{map}` has unknown type {kernel_type}")
            }
            ElfError::ProgramSymbol { name, problem } => {
                write!(f, "program `{name}`: {problem}")
            }
            ElfError::BadProgram { name, problem } => write!(f, "program `{name}`: {problem}"),
            ElfError::BadRelocation { section, offset, problem } => {
                write!(f, "relocation at {section}+{offset:#x}: {problem}")
            }
            ElfError::BadLineTable { program, insn } => write!(
                f,
                "program `{program}`: line table entry for instruction {insn} is out of range or order"
            ),
            ElfError::Write(e) => write!(f, "cannot write ELF: {e}"),
        }
    }
}

impl std::error::Error for ElfError {}

fn map_kind_from_kernel(t: u32) -> Option<MapKind> {
    [
        MapKind::Array,
        MapKind::Hash,
        MapKind::PerCpuArray,
        MapKind::PerCpuHash,
        MapKind::LruHash,
        MapKind::PerfEventArray,
        MapKind::RingBuf,
    ]
    .into_iter()
    .find(|k| k.kernel_type() == t)
}

/// Checks shared by writer and reader, so that whatever `write` accepts
/// `read` accepts too.
fn check_object(obj: &Object) -> Result<(), ElfError> {
    let maps = obj.maps.len();
    for (what, idx) in [
        ("control_map", obj.control_map),
        ("output_map", obj.output_map),
    ] {
        if idx as usize >= maps {
            return Err(ElfError::MapIndex {
                what: what.into(),
                index: idx as u64,
                maps,
            });
        }
    }
    for (i, p) in obj.programs.iter().enumerate() {
        if obj.programs[..i].iter().any(|q| q.name == p.name) {
            return Err(ElfError::ProgramSymbol {
                name: p.name.clone(),
                problem: "more than one program has this name",
            });
        }
        let mut prev = None;
        for e in &p.lines {
            if e.insn as usize >= p.insns.len().max(1) || prev.is_some_and(|q| e.insn < q) {
                return Err(ElfError::BadLineTable {
                    program: p.name.clone(),
                    insn: e.insn,
                });
            }
            prev = Some(e.insn);
        }
    }
    for (i, m) in obj.maps.iter().enumerate() {
        if obj.maps[..i].iter().any(|q| q.name == m.name) {
            return Err(ElfError::BadMaps(format!(
                "two maps are named `{}`",
                m.name
            )));
        }
        if obj.programs.iter().any(|p| p.name == m.name) {
            return Err(ElfError::BadMaps(format!(
                "map `{}` has a program's name",
                m.name
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- writer

struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) -> Result<(), ElfError> {
        let n = u32::try_from(n).map_err(|_| ElfError::Write("item too large".into()))?;
        self.u32(n);
        Ok(())
    }
    fn bytes(&mut self, b: &[u8]) -> Result<(), ElfError> {
        self.len(b.len())?;
        self.0.extend_from_slice(b);
        Ok(())
    }
    fn str(&mut self, s: &str) -> Result<(), ElfError> {
        self.bytes(s.as_bytes())
    }
    fn kind(&mut self, k: &ProbeKind) -> Result<(), ElfError> {
        match k {
            ProbeKind::Begin { priority } => {
                self.u8(0);
                self.u64(*priority as u64);
            }
            ProbeKind::End { priority } => {
                self.u8(1);
                self.u64(*priority as u64);
            }
            ProbeKind::Error { priority } => {
                self.u8(2);
                self.u64(*priority as u64);
            }
            ProbeKind::Timer { period_ns, profile } => {
                self.u8(3);
                self.u64(*period_ns);
                self.u8(*profile as u8);
            }
            ProbeKind::Tracepoint { group, name } => {
                self.u8(4);
                self.str(group)?;
                self.str(name)?;
            }
            ProbeKind::Kprobe { function, ret } => {
                self.u8(5);
                self.str(function)?;
                self.u8(*ret as u8);
            }
            ProbeKind::Uprobe { path, symbol, ret } => {
                self.u8(6);
                self.str(path)?;
                self.str(symbol)?;
                self.u8(*ret as u8);
            }
            ProbeKind::Perf {
                type_,
                config,
                sample_period,
            } => {
                self.u8(7);
                self.u32(*type_);
                self.u64(*config);
                self.u64(*sample_period);
            }
            ProbeKind::UserTimer { period_ns } => {
                self.u8(8);
                self.u64(*period_ns);
            }
        }
        Ok(())
    }
}

fn encode_stapc(obj: &Object) -> Result<Vec<u8>, ElfError> {
    let mut e = Enc(MAGIC.to_vec());
    e.u32(STAPC_VERSION);
    e.str(&obj.source_name)?;
    e.u32(obj.max_string_len);
    e.u32(obj.control_map);
    e.u32(obj.output_map);
    e.len(obj.programs.len())?;
    for p in &obj.programs {
        e.str(&p.name)?;
        e.kind(&p.kind)?;
        e.str(&p.point)?;
        e.len(p.lines.len())?;
        for l in &p.lines {
            e.u32(l.insn);
            e.u32(l.line);
            e.u32(l.col);
        }
        e.len(p.fields.len())?;
        for f in &p.fields {
            e.str(&f.name)?;
            e.u32(f.offset);
            e.u8(f.size);
        }
    }
    e.len(obj.maps.len())?;
    for m in &obj.maps {
        e.len(m.init.len())?;
        for (k, v) in &m.init {
            e.bytes(k)?;
            e.bytes(v)?;
        }
    }
    e.len(obj.formats.len())?;
    for f in &obj.formats {
        e.str(&f.text)?;
        e.len(f.args.len())?;
        for a in &f.args {
            e.u8(match a {
                ArgKind::Long => 0,
                ArgKind::Str => 1,
            });
        }
    }
    e.len(obj.errors.len())?;
    for m in &obj.errors {
        e.str(&m.message)?;
        e.str(&m.location)?;
    }
    let arg = |a: &ArgKind| match a {
        ArgKind::Long => 0u8,
        ArgKind::Str => 1,
    };
    e.len(obj.arrays.len())?;
    for a in &obj.arrays {
        e.str(&a.name)?;
        e.u32(a.map);
        e.len(a.keys.len())?;
        a.keys.iter().for_each(|k| e.u8(arg(k)));
        e.u8(a.value.as_ref().map_or(2, arg));
        e.u32(a.stat.unwrap_or(u32::MAX));
    }
    e.len(obj.stats.len())?;
    for st in &obj.stats {
        e.str(&st.name)?;
        e.u32(st.map);
        e.len(st.keys.len())?;
        st.keys.iter().for_each(|k| e.u8(arg(k)));
        e.u8(st.log as u8);
        e.u8(st.linear.is_some() as u8);
        if let Some((start, stop, interval)) = st.linear {
            e.u64(start as u64);
            e.u64(stop as u64);
            e.u64(interval as u64);
        }
    }
    e.len(obj.hists.len())?;
    for h in &obj.hists {
        e.u32(h.stat);
        e.u8(h.linear as u8);
    }
    Ok(e.0)
}

/// The object as an ELF relocatable file (see the module doc for the layout).
pub fn write(obj: &Object) -> Result<Vec<u8>, ElfError> {
    check_object(obj)?;
    let werr = |e: object::write::Error| ElfError::Write(e.to_string());
    let mut w = write::Object::new(
        BinaryFormat::Elf,
        object::Architecture::Bpf,
        Endianness::Little,
    );

    let license = w.add_section(Vec::new(), b"license".to_vec(), object::SectionKind::Data);
    let mut lic = obj.license.as_bytes().to_vec();
    lic.push(0);
    w.set_section_data(license, lic, 1);

    let maps_sec = w.add_section(Vec::new(), b"maps".to_vec(), object::SectionKind::Data);
    let mut defs = Vec::with_capacity(obj.maps.len() * MAP_DEF_SIZE);
    let mut map_syms = Vec::with_capacity(obj.maps.len());
    for (i, m) in obj.maps.iter().enumerate() {
        for v in [
            m.kind.kernel_type(),
            m.key_size,
            m.value_size,
            m.max_entries,
            0,
        ] {
            defs.extend_from_slice(&v.to_le_bytes());
        }
        map_syms.push(w.add_symbol(write::Symbol {
            name: m.name.as_bytes().to_vec(),
            value: (i * MAP_DEF_SIZE) as u64,
            size: MAP_DEF_SIZE as u64,
            kind: object::SymbolKind::Data,
            scope: object::SymbolScope::Dynamic,
            weak: false,
            section: write::SymbolSection::Section(maps_sec),
            flags: object::SymbolFlags::None,
        }));
    }
    w.set_section_data(maps_sec, defs, 4);

    for p in &obj.programs {
        let sec = w.add_section(
            Vec::new(),
            p.section_name().into_bytes(),
            object::SectionKind::Text,
        );
        let mut insns = p.insns.clone();
        let mut relocs = Vec::new();
        let mut i = 0;
        while i < insns.len() {
            let insn = insns[i];
            if insn.is_lddw() && (insn.src == BPF_PSEUDO_MAP_FD || insn.src == BPF_PSEUDO_MAP_VALUE)
            {
                let idx = insn.imm as u32 as usize;
                let sym = *map_syms.get(idx).ok_or_else(|| ElfError::MapIndex {
                    what: format!("program `{}` instruction {i}", p.name),
                    index: idx as u64,
                    maps: obj.maps.len(),
                })?;
                if i + 1 >= insns.len() {
                    return Err(ElfError::BadProgram {
                        name: p.name.clone(),
                        problem: "truncated lddw at the end".into(),
                    });
                }
                if insn.src == BPF_PSEUDO_MAP_FD {
                    insns[i].src = 0;
                }
                insns[i].imm = 0;
                relocs.push(((i * 8) as u64, sym));
            }
            i += if insn.is_lddw() { 2 } else { 1 };
        }
        let code = crate::insn::encode_all(&insns);
        let size = code.len() as u64;
        w.set_section_data(sec, code, 8);
        w.add_symbol(write::Symbol {
            name: p.name.as_bytes().to_vec(),
            value: 0,
            size,
            kind: object::SymbolKind::Text,
            scope: object::SymbolScope::Dynamic,
            weak: false,
            section: write::SymbolSection::Section(sec),
            flags: object::SymbolFlags::None,
        });
        for (offset, symbol) in relocs {
            w.add_relocation(
                sec,
                write::Relocation {
                    offset,
                    symbol,
                    addend: 0,
                    flags: RelocationFlags::Elf {
                        r_type: elf::R_BPF_64_64,
                    },
                },
            )
            .map_err(werr)?;
        }
    }

    let meta = w.add_section(
        Vec::new(),
        STAPC_SECTION.as_bytes().to_vec(),
        object::SectionKind::Other,
    );
    w.set_section_data(meta, encode_stapc(obj)?, 1);
    w.write().map_err(werr)
}

// ---------------------------------------------------------------- reader

struct Dec<'a> {
    b: &'a [u8],
    pos: usize,
}

fn meta_err() -> ElfError {
    ElfError::Truncated {
        section: STAPC_SECTION.into(),
    }
}

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ElfError> {
        let end = self.pos.checked_add(n).ok_or_else(meta_err)?;
        let s = self.b.get(self.pos..end).ok_or_else(meta_err)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, ElfError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, ElfError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, ElfError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    /// A count of items each at least `min` bytes long; checked against the
    /// bytes left so a corrupt count cannot make us allocate gigabytes.
    fn count(&mut self, min: usize) -> Result<usize, ElfError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min.max(1)) > self.b.len() - self.pos {
            return Err(meta_err());
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<Vec<u8>, ElfError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn str(&mut self) -> Result<String, ElfError> {
        String::from_utf8(self.bytes()?).map_err(|_| ElfError::BadUtf8 {
            section: STAPC_SECTION.into(),
        })
    }
    fn bool(&mut self) -> Result<bool, ElfError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(ElfError::BadTag {
                what: "bool",
                value: v,
            }),
        }
    }
    fn kind(&mut self) -> Result<ProbeKind, ElfError> {
        Ok(match self.u8()? {
            0 => ProbeKind::Begin {
                priority: self.u64()? as i64,
            },
            1 => ProbeKind::End {
                priority: self.u64()? as i64,
            },
            2 => ProbeKind::Error {
                priority: self.u64()? as i64,
            },
            3 => ProbeKind::Timer {
                period_ns: self.u64()?,
                profile: self.bool()?,
            },
            4 => ProbeKind::Tracepoint {
                group: self.str()?,
                name: self.str()?,
            },
            5 => ProbeKind::Kprobe {
                function: self.str()?,
                ret: self.bool()?,
            },
            6 => ProbeKind::Uprobe {
                path: self.str()?,
                symbol: self.str()?,
                ret: self.bool()?,
            },
            7 => ProbeKind::Perf {
                type_: self.u32()?,
                config: self.u64()?,
                sample_period: self.u64()?,
            },
            8 => ProbeKind::UserTimer {
                period_ns: self.u64()?,
            },
            v => {
                return Err(ElfError::BadTag {
                    what: "probe kind",
                    value: v,
                })
            }
        })
    }
}

/// What `.stapc` holds for one program.
struct ProgMeta {
    name: String,
    kind: ProbeKind,
    point: String,
    lines: Vec<LineEntry>,
    fields: Vec<CtxField>,
}

struct Meta {
    source_name: String,
    max_string_len: u32,
    control_map: u32,
    output_map: u32,
    programs: Vec<ProgMeta>,
    map_inits: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
    formats: Vec<Format>,
    errors: Vec<ErrorMsg>,
    arrays: Vec<ArrayDesc>,
    stats: Vec<StatDesc>,
    hists: Vec<HistDesc>,
}

fn decode_arg(d: &mut Dec<'_>) -> Result<ArgKind, ElfError> {
    match d.u8()? {
        0 => Ok(ArgKind::Long),
        1 => Ok(ArgKind::Str),
        v => Err(ElfError::BadTag {
            what: "argument kind",
            value: v,
        }),
    }
}

fn decode_keys(d: &mut Dec<'_>) -> Result<Vec<ArgKind>, ElfError> {
    let n = d.count(1)?;
    (0..n).map(|_| decode_arg(d)).collect()
}

fn decode_stapc(b: &[u8]) -> Result<Meta, ElfError> {
    let mut d = Dec { b, pos: 0 };
    if d.take(MAGIC.len()).map_err(|_| ElfError::BadMagic)? != MAGIC {
        return Err(ElfError::BadMagic);
    }
    let version = d.u32()?;
    if version != STAPC_VERSION {
        return Err(ElfError::UnknownVersion(version));
    }
    let source_name = d.str()?;
    let max_string_len = d.u32()?;
    let control_map = d.u32()?;
    let output_map = d.u32()?;
    let n = d.count(4 + 1 + 4 + 4 + 4)?;
    let mut programs = Vec::with_capacity(n);
    for _ in 0..n {
        let name = d.str()?;
        let kind = d.kind()?;
        let point = d.str()?;
        let nl = d.count(12)?;
        let mut lines = Vec::with_capacity(nl);
        for _ in 0..nl {
            lines.push(LineEntry {
                insn: d.u32()?,
                line: d.u32()?,
                col: d.u32()?,
            });
        }
        let nf = d.count(4 + 4 + 1)?;
        let mut fields = Vec::with_capacity(nf);
        for _ in 0..nf {
            let name = d.str()?;
            let offset = d.u32()?;
            let size = d.u8()?;
            if !matches!(size, 1 | 2 | 4 | 8) {
                return Err(ElfError::BadTag {
                    what: "context field size",
                    value: size,
                });
            }
            fields.push(CtxField { name, offset, size });
        }
        programs.push(ProgMeta {
            name,
            kind,
            point,
            lines,
            fields,
        });
    }
    let n = d.count(4)?;
    let mut map_inits = Vec::with_capacity(n);
    for _ in 0..n {
        let ni = d.count(8)?;
        let mut init = Vec::with_capacity(ni);
        for _ in 0..ni {
            init.push((d.bytes()?, d.bytes()?));
        }
        map_inits.push(init);
    }
    let n = d.count(8)?;
    let mut formats = Vec::with_capacity(n);
    for _ in 0..n {
        let text = d.str()?;
        let na = d.count(1)?;
        let mut args = Vec::with_capacity(na);
        for _ in 0..na {
            args.push(match d.u8()? {
                0 => ArgKind::Long,
                1 => ArgKind::Str,
                v => {
                    return Err(ElfError::BadTag {
                        what: "argument kind",
                        value: v,
                    })
                }
            });
        }
        formats.push(Format { text, args });
    }
    let n = d.count(8)?;
    let mut errors = Vec::with_capacity(n);
    for _ in 0..n {
        errors.push(ErrorMsg {
            message: d.str()?,
            location: d.str()?,
        });
    }
    let n = d.count(4 + 4 + 4 + 1 + 4)?;
    let mut arrays = Vec::with_capacity(n);
    for _ in 0..n {
        let name = d.str()?;
        let map = d.u32()?;
        let keys = decode_keys(&mut d)?;
        let value = match d.u8()? {
            2 => None,
            0 => Some(ArgKind::Long),
            1 => Some(ArgKind::Str),
            v => {
                return Err(ElfError::BadTag {
                    what: "array value kind",
                    value: v,
                })
            }
        };
        let stat = Some(d.u32()?).filter(|&s| s != u32::MAX);
        arrays.push(ArrayDesc {
            name,
            map,
            keys,
            value,
            stat,
        });
    }
    let n = d.count(4 + 4 + 4 + 1 + 1)?;
    let mut stats = Vec::with_capacity(n);
    for _ in 0..n {
        let name = d.str()?;
        let map = d.u32()?;
        let keys = decode_keys(&mut d)?;
        let log = d.bool()?;
        let linear = if d.bool()? {
            Some((d.u64()? as i64, d.u64()? as i64, d.u64()? as i64))
        } else {
            None
        };
        stats.push(StatDesc {
            name,
            map,
            keys,
            log,
            linear,
        });
    }
    let n = d.count(5)?;
    let mut hists = Vec::with_capacity(n);
    for _ in 0..n {
        let stat = d.u32()?;
        let linear = d.bool()?;
        hists.push(HistDesc { stat, linear });
    }
    if d.pos != b.len() {
        return Err(ElfError::TrailingBytes {
            section: STAPC_SECTION.into(),
        });
    }
    Ok(Meta {
        source_name,
        max_string_len,
        control_map,
        output_map,
        programs,
        map_inits,
        formats,
        errors,
        arrays,
        stats,
        hists,
    })
}

fn parse_err(e: object::read::Error) -> ElfError {
    ElfError::Parse(e.to_string())
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parse a `.bo` file written by `write`, checking it thoroughly.
pub fn read(bytes: &[u8]) -> Result<Object, ElfError> {
    // Check the identification bytes ourselves: the errors are clearer.
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return Err(ElfError::Parse("bad ELF magic".into()));
    }
    // EI_CLASS = ELFCLASS64, EI_DATA = ELFDATA2LSB.
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err(ElfError::NotElf64Le);
    }
    let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    if machine != EM_BPF {
        return Err(ElfError::WrongMachine(machine));
    }
    let file = object::read::elf::ElfFile64::<Endianness>::parse(bytes).map_err(parse_err)?;

    // The `object` crate skips relocation sections it cannot read; a
    // damaged one would silently turn map references into constants.
    {
        use object::read::elf::SectionHeader as _;
        let endian = file.endian();
        for sh in file.elf_section_table().iter() {
            let entsize = match sh.sh_type(endian) {
                elf::SHT_REL => 16,
                elf::SHT_RELA => 24,
                _ => continue,
            };
            let name = file
                .elf_section_table()
                .section_name(endian, sh)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_else(|_| "<relocations>".into());
            match sh.data(endian, bytes) {
                Ok(d) if d.len() % entsize == 0 => {}
                _ => return Err(ElfError::Truncated { section: name }),
            }
        }
    }

    let section_by_name = |name: &'static str| -> Result<_, ElfError> {
        file.section_by_name(name)
            .ok_or(ElfError::MissingSection(name))
    };

    let meta_sec = section_by_name(STAPC_SECTION)?;
    let meta = decode_stapc(meta_sec.data().map_err(|_| meta_err())?)?;

    let lic_sec = section_by_name("license")?;
    let lic = lic_sec.data().map_err(|_| ElfError::Truncated {
        section: "license".into(),
    })?;
    let lic = lic.strip_suffix(&[0]).unwrap_or(lic);
    let license = String::from_utf8(lic.to_vec()).map_err(|_| ElfError::BadUtf8 {
        section: "license".into(),
    })?;

    // Maps: the definitions in order, named by their symbols.
    let maps_sec = section_by_name("maps")?;
    let maps_index = maps_sec.index();
    let defs = maps_sec.data().map_err(|_| ElfError::Truncated {
        section: "maps".into(),
    })?;
    if defs.len() % MAP_DEF_SIZE != 0 {
        return Err(ElfError::Truncated {
            section: "maps".into(),
        });
    }
    let nmaps = defs.len() / MAP_DEF_SIZE;
    if nmaps != meta.map_inits.len() {
        return Err(ElfError::BadMaps(format!(
            "`maps` holds {nmaps} definitions, `{STAPC_SECTION}` {}",
            meta.map_inits.len()
        )));
    }
    let mut map_names: Vec<Option<String>> = vec![None; nmaps];
    // Symbol table index → map index, for relocations.
    let mut map_of_symbol = std::collections::BTreeMap::new();
    for sym in file.symbols() {
        if sym.section_index() != Some(maps_index) || sym.kind() != object::SymbolKind::Data {
            continue;
        }
        let v = sym.address();
        if v % MAP_DEF_SIZE as u64 != 0 || v / MAP_DEF_SIZE as u64 >= nmaps as u64 {
            return Err(ElfError::BadMaps(format!("map symbol at offset {v}")));
        }
        let i = (v / MAP_DEF_SIZE as u64) as usize;
        let name = sym.name().map_err(parse_err)?.to_string();
        if map_names[i].is_some() {
            return Err(ElfError::BadMaps(format!("two symbols for map {i}")));
        }
        map_names[i] = Some(name);
        map_of_symbol.insert(sym.index().0, i);
    }
    let mut maps = Vec::with_capacity(nmaps);
    for (i, (name, init)) in map_names.into_iter().zip(meta.map_inits).enumerate() {
        let name = name.ok_or_else(|| ElfError::BadMaps(format!("map {i} has no symbol")))?;
        let at = i * MAP_DEF_SIZE;
        let t = le_u32(defs, at);
        let kind = map_kind_from_kernel(t).ok_or(ElfError::UnknownMapType {
            map: name.clone(),
            kernel_type: t,
        })?;
        maps.push(MapDef {
            name,
            kind,
            key_size: le_u32(defs, at + 4),
            value_size: le_u32(defs, at + 8),
            max_entries: le_u32(defs, at + 12),
            init,
        });
    }

    let mut programs = Vec::with_capacity(meta.programs.len());
    for pm in meta.programs {
        let mut found = None;
        for sym in file.symbols() {
            if sym.kind() == object::SymbolKind::Text && sym.name() == Ok(pm.name.as_str()) {
                if found.is_some() {
                    return Err(ElfError::ProgramSymbol {
                        name: pm.name,
                        problem: "more than one symbol has this name",
                    });
                }
                found = Some(sym);
            }
        }
        let sym = found.ok_or(ElfError::ProgramSymbol {
            name: pm.name.clone(),
            problem: "no FUNC symbol",
        })?;
        let bad = |problem: String| ElfError::BadProgram {
            name: pm.name.clone(),
            problem,
        };
        let sec_index = sym
            .section_index()
            .ok_or_else(|| bad("symbol is not in a section".into()))?;
        let sec = file.section_by_index(sec_index).map_err(parse_err)?;
        let sec_name = sec.name().map_err(parse_err)?.to_string();
        if sec_name != pm.kind.section_name() {
            return Err(bad(format!(
                "in section `{sec_name}`, expected `{}`",
                pm.kind.section_name()
            )));
        }
        let data = sec.data().map_err(|_| ElfError::Truncated {
            section: sec_name.clone(),
        })?;
        let start = sym.address();
        let end = start.checked_add(sym.size());
        let code = end
            .and_then(|end| data.get(usize::try_from(start).ok()?..usize::try_from(end).ok()?))
            .ok_or_else(|| bad("code lies outside its section".into()))?;
        let mut insns = crate::insn::decode_all(code).map_err(|e| bad(e.to_string()))?;

        // Which slots start an lddw (a relocation on a second slot is an error).
        let mut lddw_start = vec![false; insns.len()];
        let mut i = 0;
        while i < insns.len() {
            if insns[i].is_lddw() {
                lddw_start[i] = true;
                i += 2;
            } else {
                i += 1;
            }
        }
        let mut resolved = vec![false; insns.len()];
        for (offset, rel) in sec.relocations() {
            let rel_err = |problem: &str| ElfError::BadRelocation {
                section: sec_name.clone(),
                offset,
                problem: problem.into(),
            };
            let Some(rel_off) = offset.checked_sub(start).filter(|o| *o < sym.size()) else {
                // Belongs to another program of the same section.
                continue;
            };
            if rel.flags()
                != (RelocationFlags::Elf {
                    r_type: elf::R_BPF_64_64,
                })
            {
                return Err(rel_err("not an R_BPF_64_64 relocation"));
            }
            let slot = (rel_off / 8) as usize;
            if rel_off % 8 != 0 || !lddw_start.get(slot).copied().unwrap_or(false) {
                return Err(rel_err("not on an lddw instruction"));
            }
            let RelocationTarget::Symbol(sym_idx) = rel.target() else {
                return Err(rel_err("target is not a symbol"));
            };
            let map = *map_of_symbol
                .get(&sym_idx.0)
                .ok_or_else(|| rel_err("target is not a map"))?;
            if slot + 1 >= insns.len() {
                return Err(rel_err("lddw is truncated"));
            }
            let insn = &mut insns[slot];
            insn.src = match insn.src {
                0 => BPF_PSEUDO_MAP_FD,
                BPF_PSEUDO_MAP_VALUE => BPF_PSEUDO_MAP_VALUE,
                _ => return Err(rel_err("lddw has an unexpected pseudo source")),
            };
            if insn.imm != 0 || resolved[slot] {
                return Err(rel_err("lddw already holds a value"));
            }
            insn.imm = map as i32;
            resolved[slot] = true;
        }
        for (i, insn) in insns.iter().enumerate() {
            if lddw_start[i]
                && !resolved[i]
                && (insn.src == BPF_PSEUDO_MAP_FD || insn.src == BPF_PSEUDO_MAP_VALUE)
            {
                return Err(bad(format!(
                    "lddw at {i} references a map without a relocation"
                )));
            }
        }
        programs.push(Program {
            name: pm.name,
            kind: pm.kind,
            point: pm.point,
            insns,
            lines: pm.lines,
            fields: pm.fields,
        });
    }

    let obj = Object {
        source_name: meta.source_name,
        programs,
        maps,
        formats: meta.formats,
        errors: meta.errors,
        max_string_len: meta.max_string_len,
        control_map: meta.control_map,
        output_map: meta.output_map,
        license,
        arrays: meta.arrays,
        stats: meta.stats,
        hists: meta.hists,
    };
    check_object(&obj)?;
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::*;

    pub(crate) fn sample() -> Object {
        let mut begin = vec![Insn::mov64_reg(6, 1)];
        begin.extend(Insn::ld_map(1, 1));
        begin.extend([Insn::mov64_reg(2, 10), Insn::alu64_imm(BPF_ADD, 2, -4)]);
        begin.push(Insn::call(crate::helpers::MAP_LOOKUP_ELEM));
        begin.extend(Insn::lddw(3, 0x1122_3344_5566_7788));
        let mut v = Insn::ld_map(4, 0);
        v[0].src = BPF_PSEUDO_MAP_VALUE;
        v[1].imm = 16;
        begin.extend(v);
        begin.extend([Insn::mov64_imm(0, 0), Insn::exit()]);
        let mut timer = Insn::ld_map(1, 3).to_vec();
        timer.extend([Insn::mov64_imm(0, 0), Insn::exit()]);
        Object {
            source_name: "x.stp".into(),
            programs: vec![
                Program {
                    fields: Vec::new(),
                    name: "begin_0".into(),
                    kind: ProbeKind::Begin { priority: -3 },
                    point: "begin".into(),
                    insns: begin,
                    lines: vec![
                        LineEntry {
                            insn: 0,
                            line: 1,
                            col: 1,
                        },
                        LineEntry {
                            insn: 5,
                            line: 2,
                            col: 7,
                        },
                    ],
                },
                Program {
                    fields: Vec::new(),
                    name: "timer_0".into(),
                    kind: ProbeKind::Timer {
                        period_ns: 1_000_000,
                        profile: false,
                    },
                    point: "timer.ms(1)".into(),
                    insns: timer.clone(),
                    lines: vec![],
                },
                Program {
                    fields: Vec::new(),
                    name: "perf_1".into(),
                    kind: ProbeKind::Perf {
                        type_: 1,
                        config: 0,
                        sample_period: 1000,
                    },
                    point: "perf.sw.cpu_clock".into(),
                    insns: timer,
                    lines: vec![],
                },
                Program {
                    fields: Vec::new(),
                    name: "kp".into(),
                    kind: ProbeKind::Kprobe {
                        function: "vfs_read".into(),
                        ret: true,
                    },
                    point: "kernel.function(\"vfs_read\").return".into(),
                    insns: vec![Insn::mov64_imm(0, 0), Insn::exit()],
                    lines: vec![],
                },
                Program {
                    fields: Vec::new(),
                    name: "up".into(),
                    kind: ProbeKind::Uprobe {
                        path: "/bin/sh".into(),
                        symbol: "main".into(),
                        ret: false,
                    },
                    point: "process(\"/bin/sh\").function(\"main\")".into(),
                    insns: vec![Insn::mov64_imm(0, 0), Insn::exit()],
                    lines: vec![],
                },
                Program {
                    fields: vec![
                        CtxField {
                            name: "prev_pid".into(),
                            offset: 24,
                            size: 4,
                        },
                        CtxField {
                            name: "prev_state".into(),
                            offset: 32,
                            size: 8,
                        },
                    ],
                    name: "tp".into(),
                    kind: ProbeKind::Tracepoint {
                        group: "sched".into(),
                        name: "s".into(),
                    },
                    point: "kernel.trace(\"sched:s\")".into(),
                    insns: vec![Insn::mov64_imm(0, 0), Insn::exit()],
                    lines: vec![],
                },
                Program {
                    fields: Vec::new(),
                    name: "end_0".into(),
                    kind: ProbeKind::End { priority: 0 },
                    point: "end".into(),
                    insns: vec![Insn::mov64_imm(0, 0), Insn::exit()],
                    lines: vec![],
                },
                Program {
                    fields: Vec::new(),
                    name: "error_0".into(),
                    kind: ProbeKind::Error { priority: i64::MIN },
                    point: "error".into(),
                    insns: vec![Insn::mov64_imm(0, 0), Insn::exit()],
                    lines: vec![],
                },
            ],
            maps: vec![
                MapDef {
                    name: "stapc_globals".into(),
                    kind: MapKind::Array,
                    key_size: 4,
                    value_size: 24,
                    max_entries: 1,
                    init: vec![(vec![0; 4], (0..24).collect())],
                },
                MapDef {
                    name: "stapc_control".into(),
                    kind: MapKind::Array,
                    key_size: 4,
                    value_size: 16,
                    max_entries: 1,
                    init: vec![],
                },
                MapDef {
                    name: "stapc_scratch".into(),
                    kind: MapKind::PerCpuArray,
                    key_size: 4,
                    value_size: 1024,
                    max_entries: 1,
                    init: vec![],
                },
                MapDef {
                    name: "stapc_output".into(),
                    kind: MapKind::RingBuf,
                    key_size: 0,
                    value_size: 0,
                    max_entries: 262144,
                    init: vec![],
                },
                MapDef {
                    name: "a".into(),
                    kind: MapKind::Hash,
                    key_size: 8,
                    value_size: 8,
                    max_entries: 100,
                    init: vec![],
                },
                MapDef {
                    name: "b".into(),
                    kind: MapKind::PerCpuHash,
                    key_size: 8,
                    value_size: 8,
                    max_entries: 100,
                    init: vec![],
                },
                MapDef {
                    name: "c".into(),
                    kind: MapKind::LruHash,
                    key_size: 8,
                    value_size: 8,
                    max_entries: 100,
                    init: vec![],
                },
                MapDef {
                    name: "d".into(),
                    kind: MapKind::PerfEventArray,
                    key_size: 4,
                    value_size: 4,
                    max_entries: 0,
                    init: vec![],
                },
            ],
            formats: vec![
                Format {
                    text: "%d %s\n".into(),
                    args: vec![ArgKind::Long, ArgKind::Str],
                },
                Format {
                    text: "héllo\n".into(),
                    args: vec![],
                },
            ],
            errors: vec![ErrorMsg {
                message: "division by 0".into(),
                location: "near operator '/' at x.stp:3:50".into(),
            }],
            max_string_len: 128,
            control_map: 1,
            output_map: 3,
            license: "GPL".into(),
            ..Default::default()
        }
    }

    #[test]
    fn array_and_statistic_descriptors_round_trip() {
        let mut o = sample();
        o.arrays.push(ArrayDesc {
            name: "names".into(),
            map: 0,
            keys: vec![ArgKind::Long, ArgKind::Str],
            value: Some(ArgKind::Str),
            stat: None,
        });
        o.arrays.push(ArrayDesc {
            name: "lat".into(),
            map: 1,
            keys: vec![ArgKind::Long],
            value: None,
            stat: Some(1),
        });
        o.stats.push(StatDesc {
            name: "s".into(),
            map: 0,
            keys: vec![],
            log: true,
            linear: None,
        });
        o.stats.push(StatDesc {
            name: "lat".into(),
            map: 1,
            keys: vec![ArgKind::Long],
            log: false,
            linear: Some((-10, 50, 10)),
        });
        o.hists.push(HistDesc {
            stat: 1,
            linear: true,
        });
        let back = read(&write(&o).unwrap()).unwrap();
        assert_eq!(back, o);
        assert_eq!(o.stats[1].linear_buckets(), 9);
        assert_eq!(o.stats[1].value_size(), 32 + 9 * 8);
        assert_eq!(o.stats[0].value_size(), 32 + 129 * 8);
    }

    #[test]
    fn round_trip() {
        let o = sample();
        let bytes = write(&o).unwrap();
        assert_eq!(read(&bytes).unwrap(), o);
        // Deterministic.
        assert_eq!(write(&o).unwrap(), bytes);
    }

    #[test]
    fn map_references_are_relocations_with_zero_imm() {
        let o = sample();
        let bytes = write(&o).unwrap();
        let f = object::read::elf::ElfFile64::<Endianness>::parse(&*bytes).unwrap();
        assert_eq!(u16::from_le_bytes([bytes[18], bytes[19]]), EM_BPF);
        let sec = f.section_by_name("stapc/begin").unwrap();
        let code = sec.data().unwrap();
        // Slot 1 is `lddw r1, map 1`: src 0, imm 0 in the file, as clang emits.
        assert_eq!(&code[8..16], &[0x18, 0x01, 0, 0, 0, 0, 0, 0]);
        let rels: Vec<_> = sec.relocations().map(|(o, _)| o).collect();
        assert_eq!(rels, vec![8, 64]);
        // Two `perf_event` sections.
        assert_eq!(
            f.sections()
                .filter(|s| s.name() == Ok("perf_event"))
                .count(),
            2
        );
        assert_eq!(
            f.section_by_name("license").unwrap().data().unwrap(),
            b"GPL\0"
        );
    }

    #[test]
    fn writer_rejects_bad_objects() {
        let mut o = sample();
        o.programs[0].insns[1].imm = 99;
        assert!(matches!(
            write(&o),
            Err(ElfError::MapIndex { index: 99, .. })
        ));
        let mut o = sample();
        o.output_map = 8;
        assert!(matches!(write(&o), Err(ElfError::MapIndex { .. })));
        let mut o = sample();
        o.programs[1].name = "begin_0".into();
        assert!(matches!(write(&o), Err(ElfError::ProgramSymbol { .. })));
        let mut o = sample();
        o.programs[0].lines[1].insn = 1000;
        assert!(matches!(write(&o), Err(ElfError::BadLineTable { .. })));
    }

    fn find(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).position(|w| w == needle).unwrap()
    }

    #[test]
    fn reader_rejects_corruption() {
        let good = write(&sample()).unwrap();
        let mut b = good.clone();
        b[0] = 0;
        assert!(matches!(read(&b), Err(ElfError::Parse(_))));
        let mut b = good.clone();
        b[18] = 62;
        assert_eq!(read(&b), Err(ElfError::WrongMachine(62)));
        let mut b = good.clone();
        b[4] = 1;
        assert_eq!(read(&b), Err(ElfError::NotElf64Le));
        assert!(read(&good[..good.len() / 2]).is_err());
        let m = find(&good, MAGIC);
        let mut b = good.clone();
        b[m] = b'X';
        assert_eq!(read(&b), Err(ElfError::BadMagic));
        let mut b = good.clone();
        b[m + 8] = 99;
        assert_eq!(read(&b), Err(ElfError::UnknownVersion(99)));
        // control_map out of range: after magic, version, source name.
        let mut b = good.clone();
        let at = m + 12 + 4 + "x.stp".len() + 4;
        b[at] = 200;
        assert!(matches!(
            read(&b),
            Err(ElfError::MapIndex { index: 200, .. })
        ));
    }

    #[test]
    fn reader_rejects_relocation_off_lddw() {
        // Move the first relocation of `stapc/begin` from slot 1 to slot 0.
        let good = write(&sample()).unwrap();
        let f = object::read::elf::ElfFile64::<Endianness>::parse(&*good).unwrap();
        let rel = f.section_by_name(".relstapc/begin").unwrap();
        let (off, _) = rel.file_range().unwrap();
        let mut b = good.clone();
        b[off as usize] = 0; // r_offset 8 → 0
        assert!(matches!(
            read(&b),
            Err(ElfError::BadRelocation { offset: 0, .. })
        ));
    }

    fn arb_kind() -> impl proptest::strategy::Strategy<Value = ProbeKind> {
        use proptest::prelude::*;
        prop_oneof![
            any::<i64>().prop_map(|priority| ProbeKind::Begin { priority }),
            any::<i64>().prop_map(|priority| ProbeKind::End { priority }),
            any::<i64>().prop_map(|priority| ProbeKind::Error { priority }),
            (any::<u64>(), any::<bool>())
                .prop_map(|(period_ns, profile)| ProbeKind::Timer { period_ns, profile }),
            any::<u64>().prop_map(|period_ns| ProbeKind::UserTimer { period_ns }),
            ("[a-z_]{1,8}", "[a-z_]{1,8}")
                .prop_map(|(group, name)| ProbeKind::Tracepoint { group, name }),
            ("[a-z_]{1,12}", any::<bool>())
                .prop_map(|(function, ret)| ProbeKind::Kprobe { function, ret }),
            ("/[a-z/]{1,12}", "[a-z_]{1,8}", any::<bool>())
                .prop_map(|(path, symbol, ret)| ProbeKind::Uprobe { path, symbol, ret }),
            (any::<u32>(), any::<u64>(), any::<u64>()).prop_map(
                |(type_, config, sample_period)| {
                    ProbeKind::Perf {
                        type_,
                        config,
                        sample_period,
                    }
                }
            ),
        ]
    }

    fn arb_object() -> impl proptest::strategy::Strategy<Value = Object> {
        use proptest::prelude::*;
        let kinds = [
            MapKind::Array,
            MapKind::Hash,
            MapKind::PerCpuArray,
            MapKind::PerCpuHash,
            MapKind::LruHash,
            MapKind::PerfEventArray,
            MapKind::RingBuf,
        ];
        let map = (
            0..kinds.len(),
            any::<(u32, u32, u32)>(),
            proptest::collection::vec(
                (
                    proptest::collection::vec(any::<u8>(), 0..8),
                    proptest::collection::vec(any::<u8>(), 0..16),
                ),
                0..3,
            ),
        )
            .prop_map(
                move |(k, (key_size, value_size, max_entries), init)| MapDef {
                    name: String::new(),
                    kind: kinds[k],
                    key_size,
                    value_size,
                    max_entries,
                    init,
                },
            );
        let prog = (
            arb_kind(),
            ".{0,12}",
            proptest::collection::vec(any::<u64>(), 1..40),
            proptest::collection::vec((any::<u32>(), any::<u32>(), any::<u32>()), 0..5),
        );
        (
            proptest::collection::vec(map, 1..6),
            proptest::collection::vec(prog, 0..5),
            proptest::collection::vec(
                (".{0,10}", proptest::collection::vec(any::<bool>(), 0..4)),
                0..4,
            ),
            proptest::collection::vec((".{0,10}", ".{0,10}"), 0..3),
            (
                ".{0,10}",
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                "[A-Za-z ]{0,8}",
            ),
        )
            .prop_map(
                |(mut maps, progs, formats, errors, (source_name, msl, c, o, license))| {
                    let n = maps.len();
                    for (i, m) in maps.iter_mut().enumerate() {
                        m.name = format!("map_{i}");
                    }
                    let programs = progs
                        .into_iter()
                        .enumerate()
                        .map(|(pi, (kind, point, words, lines))| {
                            let mut insns: Vec<Insn> = words
                                .iter()
                                .map(|w| Insn::decode(w.to_le_bytes()))
                                .collect();
                            // Map references must name a map; the rest is any bytes.
                            let len = insns.len();
                            let mut i = 0;
                            while i < len {
                                let insn = &mut insns[i];
                                if insn.is_lddw() && (insn.src == 1 || insn.src == 2) {
                                    if i + 1 == len {
                                        insn.src = 0;
                                    } else {
                                        insn.imm = (insn.imm as u32 % n as u32) as i32;
                                    }
                                }
                                i += if insns[i].is_lddw() { 2 } else { 1 };
                            }
                            let mut lines: Vec<LineEntry> = lines
                                .into_iter()
                                .map(|(a, line, col)| LineEntry {
                                    insn: a % len as u32,
                                    line,
                                    col,
                                })
                                .collect();
                            lines.sort_by_key(|l| l.insn);
                            Program {
                                fields: Vec::new(),
                                name: format!("p{pi}"),
                                kind,
                                point,
                                insns,
                                lines,
                            }
                        })
                        .collect();
                    Object {
                        source_name,
                        programs,
                        maps,
                        formats: formats
                            .into_iter()
                            .map(|(text, a)| Format {
                                text,
                                args: a
                                    .into_iter()
                                    .map(|s| if s { ArgKind::Str } else { ArgKind::Long })
                                    .collect(),
                            })
                            .collect(),
                        errors: errors
                            .into_iter()
                            .map(|(message, location)| ErrorMsg { message, location })
                            .collect(),
                        max_string_len: msl,
                        control_map: c % n as u32,
                        output_map: o % n as u32,
                        license,
                        ..Default::default()
                    }
                },
            )
    }

    #[test]
    fn context_fields_round_trip_and_bad_sizes_are_refused() {
        let obj = sample();
        let back = read(&write(&obj).unwrap()).unwrap();
        let tp = back.programs.iter().find(|p| p.name == "tp").unwrap();
        assert_eq!(tp.fields.len(), 2);
        assert_eq!(
            (
                tp.fields[1].name.as_str(),
                tp.fields[1].offset,
                tp.fields[1].size
            ),
            ("prev_state", 32, 8)
        );
        // Damage the size of `prev_state` (name, offset 32, size 8).
        let mut b = write(&obj).unwrap();
        let mut pat = b"prev_state".to_vec();
        pat.extend(32u32.to_le_bytes());
        pat.push(8);
        let at = b
            .windows(pat.len())
            .position(|w| w == pat)
            .expect("field encoded");
        b[at + pat.len() - 1] = 3;
        assert_eq!(
            read(&b),
            Err(ElfError::BadTag {
                what: "context field size",
                value: 3
            })
        );
    }

    #[test]
    fn reader_rejects_damaged_relocation_section() {
        let good = write(&sample()).unwrap();
        let f = object::read::elf::ElfFile64::<Endianness>::parse(&*good).unwrap();
        let rel = f.section_by_name(".relstapc/begin").unwrap();
        let idx = rel.index().0;
        let shoff = u64::from_le_bytes(good[0x28..0x30].try_into().unwrap()) as usize;
        // sh_size of that section header: 64-byte headers, size at +32.
        let at = shoff + idx * 64 + 32;
        let mut b = good.clone();
        b[at] -= 1;
        assert!(
            matches!(read(&b), Err(ElfError::Truncated { .. })),
            "{:?}",
            read(&b)
        );

        // `.stapc` one byte short.
        let idx = f.section_by_name(STAPC_SECTION).unwrap().index().0;
        let mut b = good.clone();
        b[shoff + idx * 64 + 32] -= 1;
        assert_eq!(
            read(&b),
            Err(ElfError::Truncated {
                section: STAPC_SECTION.into()
            })
        );

        // A map type stapc does not know (the first bpf_map_def's type).
        let (maps_off, _) = f.section_by_name("maps").unwrap().file_range().unwrap();
        let mut b = good.clone();
        b[maps_off as usize] = 99;
        assert!(matches!(
            read(&b),
            Err(ElfError::UnknownMapType {
                kernel_type: 99,
                ..
            })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        #[test]
        fn any_object_round_trips(o in arb_object()) {
            let bytes = write(&o).unwrap();
            proptest::prop_assert_eq!(read(&bytes).unwrap(), o);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn mutated_bytes_never_panic(
            edits in proptest::collection::vec((0usize..1 << 16, 0u8..=255), 1..8),
            cut in proptest::option::of(0usize..1 << 16),
        ) {
            let mut b = write(&sample()).unwrap();
            for (at, v) in edits {
                let n = b.len();
                b[at % n] = v;
            }
            if let Some(c) = cut {
                let n = b.len();
                b.truncate(c % n);
            }
            let _ = read(&b);
        }
    }
}
