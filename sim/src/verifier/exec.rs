//! The path simulation (`do_check`): one abstract state per path, every
//! instruction checked and applied, branches pushed on a work list, states
//! stored at prune points and compared so equivalent paths stop early.

use super::cfg::{self, Cfg, CfgError};
use super::ctx;
use super::helpers::{self, Arg, Refusal, Ret};
use super::reg::{branch_taken, refine, scalar_alu, Cmp, Reg, RegType, MAX_VAR_OFF};
use super::state::{covers, format_reg, format_state, slot_of, Names, RefState, SlotByte, State};
use super::tnum::Tnum;
use super::{
    entry_state, reject, Reject, VerifierError, VerifierErrorKind as K, VerifyOptions, VerifyStats,
};
use bpf::disasm::{check_insn, decode_text, Invalid};
use bpf::insn::*;
use bpf::{helpers as h, KernelVersion, MapDef, MapKind, ProgramType};

/// The kernel's limit on pending branches (BPF_COMPLEXITY_LIMIT_JMP_SEQ).
const JMP_SEQ_LIMIT: usize = 8192;
/// Stored states per instruction; beyond this new states are not stored
/// (the kernel evicts instead; either way the count stays bounded).
const MAX_STATES_PER_INSN: usize = 64;
const STACK_SIZE: i64 = 512;
/// From here on we use the wording observed on kernel 6.18 where it differs
/// from the 5.12-era wording; the exact release of each change is not
/// tracked, so kernels between 5.12 and this get the older text.
const NEWEST_WORDING: KernelVersion = KernelVersion::new(6, 8);

struct Checkpoint {
    state: State,
    /// Paths still being explored below this state; 0 = fully verified.
    branches: u32,
    parent: Option<usize>,
}

struct Pending {
    state: State,
    pc: usize,
    parent: Option<usize>,
}

enum Step {
    Next(usize),
    /// Continue at `fall` with the current state; `other` starts at `target`.
    Fork {
        other: Box<State>,
        target: usize,
        fall: usize,
    },
    Exit,
}

pub(super) struct Verifier<'a> {
    insns: &'a [Insn],
    maps: &'a [MapDef],
    opts: &'a VerifyOptions,
    names: Names,
    kernel: KernelVersion,
    explored: Vec<Checkpoint>,
    at: Vec<Vec<u32>>,
    pending: Vec<Pending>,
    processed: u64,
    peak: u64,
    next_id: u32,
}

fn v(major: u32, minor: u32) -> KernelVersion {
    KernelVersion::new(major, minor)
}

/// `bpf_alu_string` of the kernel, for pointer-arithmetic messages.
fn alu_str(op: u8) -> &'static str {
    match op {
        BPF_ADD => "+=",
        BPF_SUB => "-=",
        BPF_MUL => "*=",
        BPF_DIV => "/=",
        BPF_OR => "|=",
        BPF_AND => "&=",
        BPF_LSH => "<<=",
        BPF_RSH => ">>=",
        BPF_NEG => "neg",
        BPF_MOD => "%=",
        BPF_XOR => "^=",
        BPF_MOV => "=",
        BPF_ARSH => "s>>=",
        _ => "endian",
    }
}

fn size_bytes(code: u8) -> i64 {
    match code & 0x18 {
        BPF_B => 1,
        BPF_H => 2,
        BPF_W => 4,
        _ => 8,
    }
}

impl<'a> Verifier<'a> {
    pub fn new(insns: &'a [Insn], maps: &'a [MapDef], opts: &'a VerifyOptions) -> Self {
        Verifier {
            insns,
            maps,
            opts,
            names: Names::new(opts.target.kernel),
            kernel: opts.target.kernel,
            explored: Vec::new(),
            at: vec![Vec::new(); insns.len()],
            pending: Vec::new(),
            processed: 0,
            peak: 0,
            next_id: 0,
        }
    }

    /// Unprivileged-loader rules (pointer leaks, no loops) apply to socket
    /// filters loaded without privileges; other program types cannot be
    /// loaded at all without CAP_BPF/CAP_PERFMON. `privileged = false`
    /// otherwise means "portable": rules of kernels that allowed less.
    fn unpriv(&self) -> bool {
        !self.opts.target.privileged && self.opts.prog_type == ProgramType::SocketFilter
    }

    fn strict(&self) -> bool {
        !self.opts.target.privileged
    }

    fn allow_uninit_direct(&self) -> bool {
        self.opts.target.privileged && self.kernel >= v(6, 3)
    }

    fn allow_uninit_indirect(&self) -> bool {
        self.opts.target.privileged && self.kernel >= v(5, 8)
    }

    fn ty(&self, t: RegType) -> &'static str {
        self.names.ty(t)
    }

    fn fail(&self, pc: usize, st: Option<&State>, r: Reject) -> VerifierError {
        VerifierError {
            insn: pc,
            kind: r.kind,
            message: r.message,
            state: match st {
                Some(s) => format_state(s, self.maps, self.names),
                None => entry_state(self.maps, self.names),
            },
            explanation: r.explanation,
        }
    }

    pub fn run(mut self) -> Result<VerifyStats, VerifierError> {
        let n = self.insns.len();
        if n == 0 {
            return Err(self.fail(
                0,
                None,
                reject(
                    K::ProgramSize,
                    "program has no instructions",
                    "The kernel refuses an empty program (E2BIG) before running the verifier.",
                ),
            ));
        }
        // The raw size limit is the kernel's; stapc's userspace programs
        // run on the simulator and only need to be verifiable.
        let limit = self.opts.target.insn_limit() as usize;
        if n > limit && !self.opts.userspace {
            return Err(self.fail(
                0,
                None,
                reject(
                    K::ProgramSize,
                    format!("program of {n} instructions exceeds the limit of {limit}"),
                    format!(
                        "The kernel refuses programs longer than {limit} instructions for this target \
                         (E2BIG, with no verifier log); split the work across probes or shrink loops."
                    ),
                ),
            ));
        }
        cfg::check_subprogs(self.insns).map_err(|e| self.cfg_error(e))?;
        self.check_ld_imm64()?;
        // stapc's userspace programs run on the simulator, which has no
        // loop restriction; the kernel's rule applies to kernel programs.
        let loops = (self.opts.target.bounded_loops() || self.opts.userspace) && !self.unpriv();
        let cfg = cfg::check(self.insns, loops).map_err(|e| self.cfg_error(e))?;
        let entry = State::new(RegType::Ctx);
        self.pending.push(Pending {
            state: entry,
            pc: 0,
            parent: None,
        });
        while let Some(p) = self.pending.pop() {
            self.run_path(&cfg, p)?;
        }
        Ok(VerifyStats {
            processed_insns: self.processed,
            states: self.explored.len() as u64,
            peak_states: self.peak,
        })
    }

    fn cfg_error(&self, e: CfgError) -> VerifierError {
        match e {
            CfgError::JumpOutOfRange { from, to } => self.fail(
                from,
                None,
                reject(
                    K::JumpOutOfRange,
                    format!("jump out of range from insn {from} to {to}"),
                    format!(
                        "Instruction {from} jumps (or falls through) to {to}, outside the program's {} instructions.",
                        self.insns.len()
                    ),
                ),
            ),
            CfgError::LastNotExit => self.fail(
                self.insns.len() - 1,
                None,
                reject(
                    K::LastInsnNotExit,
                    "last insn is not an exit or jmp",
                    "Execution could run past the end of the program: the last instruction must be `exit` or an unconditional jump.",
                ),
            ),
            CfgError::BackEdge { from, to } => self.fail(
                from,
                None,
                reject(
                    K::BackEdge,
                    format!("back-edge from insn {from} to {to}"),
                    if self.opts.target.bounded_loops() {
                        format!("Instruction {from} jumps back to {to}, a loop; unprivileged programs may not loop.")
                    } else {
                        format!(
                            "Instruction {from} jumps back to {to}, a loop; kernel {} has no bounded loops (they came in 5.3), so loops must be unrolled.",
                            self.kernel
                        )
                    },
                ),
            ),
            CfgError::Unreachable { insn } => self.fail(
                insn,
                None,
                reject(
                    K::UnreachableInsn,
                    format!("unreachable insn {insn}"),
                    format!("No path from the entry reaches instruction {insn}; the kernel rejects dead code."),
                ),
            ),
        }
    }

    /// `resolve_pseudo_ldimm64`: every `lddw` is whole and names a real map.
    fn check_ld_imm64(&self) -> Result<(), VerifierError> {
        let n = self.insns.len();
        let mut pc = 0;
        while pc < n {
            let i = self.insns[pc];
            if i.class() == BPF_LDX
                && ((i.code & 0xe0 != BPF_MEM && i.code & 0xe0 != BPF_MEMSX) || i.imm != 0)
            {
                return Err(self.fail(
                    pc,
                    None,
                    reject(
                        K::InvalidInstruction,
                        "BPF_LDX uses reserved fields",
                        "A load instruction has a mode or immediate the kernel does not accept.",
                    ),
                ));
            }
            if let Err(Invalid::Opcode { code }) = decode_text(self.insns, pc) {
                // The kernel's "basic sanity check" before any other work.
                return Err(self.fail(
                    pc,
                    None,
                    reject(
                        K::InvalidInstruction,
                        format!("unknown opcode {code:02x}"),
                        format!("Opcode {code:#04x} is not a BPF instruction."),
                    ),
                ));
            }
            if !i.is_lddw() {
                pc += 1;
                continue;
            }
            let bad = |msg: &str, why: &str| {
                Err(self.fail(pc, None, reject(K::InvalidLdImm64, msg, why)))
            };
            let Some(next) = self.insns.get(pc + 1) else {
                return bad(
                    "invalid bpf_ld_imm64 insn",
                    "The 16-byte `lddw` is cut off by the end of the program.",
                );
            };
            if next.code != 0 || next.dst != 0 || next.src != 0 || next.off != 0 {
                return bad(
                    "invalid bpf_ld_imm64 insn",
                    "The second half of an `lddw` must have only its immediate set.",
                );
            }
            match i.src {
                0 => {}
                BPF_PSEUDO_MAP_FD | BPF_PSEUDO_MAP_VALUE => {
                    let idx = i.imm as u32;
                    let Some(m) = self.maps.get(idx as usize) else {
                        return bad(
                            &format!("fd {} is not pointing to valid bpf_map", i.imm),
                            &format!(
                                "The `lddw` names map {idx}, but the object has {} maps.",
                                self.maps.len()
                            ),
                        );
                    };
                    if i.src == BPF_PSEUDO_MAP_VALUE {
                        let off = next.imm as u32;
                        if off >= m.value_size {
                            return bad(
                                &format!("invalid access to map value pointer, value_size={} off={off}", m.value_size),
                                &format!("The address loaded is {off} bytes into a {}-byte value of map {}.", m.value_size, m.name),
                            );
                        }
                    }
                }
                4 => {
                    return Err(self.fail(pc, None, reject(K::Unsupported, "callback function pointers (lddw src=4) are not modelled", "The mini-verifier does not model BPF-to-BPF functions or callbacks; stapc does not emit them.")));
                }
                _ => {
                    return bad(
                        "unrecognized bpf_ld_imm64 insn",
                        "The `lddw` has a pseudo source the kernel does not know.",
                    );
                }
            }
            pc += 2;
        }
        Ok(())
    }

    fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn run_path(&mut self, cfg: &Cfg, p: Pending) -> Result<(), VerifierError> {
        let Pending {
            mut state,
            mut pc,
            mut parent,
        } = p;
        loop {
            if cfg.prune_point[pc] {
                match self.visit(cfg, pc, &state, parent) {
                    Err(e) => return Err(e),
                    Ok(None) => {
                        self.finish(parent);
                        return Ok(());
                    }
                    Ok(Some(np)) => parent = np,
                }
            }
            self.processed += 1;
            let limit = self.opts.target.complexity_limit() as u64;
            if self.processed > limit {
                return Err(self.fail(
                    pc,
                    Some(&state),
                    reject(
                        K::TooComplex,
                        format!("BPF program is too large. Processed {} insn", self.processed),
                        format!(
                            "The verifier gave up after simulating {limit} instructions over all paths: too many paths or loop iterations. Bound loops more tightly or make branches rejoin with equal state."
                        ),
                    ),
                ));
            }
            let step = match self.step(&mut state, pc) {
                Ok(s) => s,
                Err(r) => return Err(self.fail(pc, Some(&state), r)),
            };
            match step {
                Step::Next(n) => pc = n,
                Step::Exit => {
                    self.finish(parent);
                    return Ok(());
                }
                Step::Fork {
                    other,
                    target,
                    fall,
                } => {
                    if let Some(i) = parent {
                        self.explored[i].branches += 1;
                    }
                    self.pending.push(Pending {
                        state: *other,
                        pc: target,
                        parent,
                    });
                    if self.pending.len() > JMP_SEQ_LIMIT {
                        return Err(self.fail(
                            pc,
                            Some(&state),
                            reject(
                                K::TooManyBranches,
                                format!("The sequence of {} jumps is too complex.", self.pending.len()),
                                "More than 8192 branches are waiting to be explored at once; the program has too many consecutive conditional jumps whose paths do not rejoin.",
                            ),
                        ));
                    }
                    let live = self.explored.len() as u64 + self.pending.len() as u64;
                    self.peak = self.peak.max(live);
                    pc = fall;
                }
            }
        }
    }

    /// At a prune point: `Ok(None)` when a verified state covers this one,
    /// else the checkpoint the path continues under.
    fn visit(
        &mut self,
        cfg: &Cfg,
        pc: usize,
        st: &State,
        parent: Option<usize>,
    ) -> Result<Option<Option<usize>>, VerifierError> {
        let live = cfg.live_in[pc];
        for &idx in &self.at[pc] {
            let c = &self.explored[idx as usize];
            if c.branches == 0 {
                if covers(&c.state, st, live) {
                    return Ok(None);
                }
            } else if cfg.loop_head[pc] && covers(&c.state, st, live) && covers(st, &c.state, live)
            {
                return Err(self.fail(
                    pc,
                    Some(st),
                    reject(
                        K::InfiniteLoop,
                        format!("infinite loop detected at insn {pc}"),
                        format!("The loop reaches instruction {pc} again in exactly the state it had before, so it can never finish."),
                    ),
                ));
            }
        }
        if self.at[pc].len() >= MAX_STATES_PER_INSN {
            return Ok(Some(parent));
        }
        let idx = self.explored.len();
        self.explored.push(Checkpoint {
            state: st.clone(),
            branches: 1,
            parent,
        });
        self.at[pc].push(idx as u32);
        let live = self.explored.len() as u64 + self.pending.len() as u64;
        self.peak = self.peak.max(live);
        Ok(Some(Some(idx)))
    }

    /// A path ended (exit or pruned): its checkpoints lose one live branch.
    fn finish(&mut self, mut cur: Option<usize>) {
        while let Some(i) = cur {
            let c = &mut self.explored[i];
            c.branches = c.branches.saturating_sub(1);
            if c.branches > 0 {
                break;
            }
            cur = c.parent;
        }
    }

    // ---------------------------------------------------------------- insns

    fn step(&mut self, st: &mut State, pc: usize) -> Result<Step, Reject> {
        let insn = self.insns[pc];
        self.decode(pc)?;
        match insn.class() {
            BPF_ALU | BPF_ALU64 => {
                self.alu(st, insn)?;
                Ok(Step::Next(pc + 1))
            }
            BPF_LDX => {
                self.ldx(st, insn)?;
                Ok(Step::Next(pc + 1))
            }
            BPF_ST | BPF_STX => {
                if insn.code & 0xe0 == BPF_ATOMIC {
                    self.atomic(st, insn)?;
                } else {
                    self.store(st, insn)?;
                }
                Ok(Step::Next(pc + 1))
            }
            BPF_LD => {
                if insn.is_lddw() {
                    self.write_reg(insn.dst)?;
                    let next = self.insns[pc + 1];
                    st.regs[insn.dst as usize] = match insn.src {
                        BPF_PSEUDO_MAP_FD => Reg {
                            map: insn.imm as u32,
                            ..Reg::pointer(RegType::ConstMap)
                        },
                        BPF_PSEUDO_MAP_VALUE => Reg {
                            map: insn.imm as u32,
                            off: next.imm,
                            ..Reg::pointer(RegType::MapValue)
                        },
                        _ => {
                            Reg::known((insn.imm as u32 as u64) | ((next.imm as u32 as u64) << 32))
                        }
                    };
                    Ok(Step::Next(pc + 2))
                } else {
                    self.ld_abs(st, insn)?;
                    Ok(Step::Next(pc + 1))
                }
            }
            _ => match insn.code & 0xf0 {
                BPF_JA => Ok(Step::Next(cfg::jump_target(self.insns, pc) as usize)),
                BPF_CALL => {
                    self.call(st, insn, pc)?;
                    Ok(Step::Next(pc + 1))
                }
                BPF_EXIT => {
                    self.exit(st)?;
                    Ok(Step::Exit)
                }
                _ => self.cond_jmp(st, insn, pc),
            },
        }
    }

    /// Strict decoding of one instruction, with the kernel's messages and
    /// the instruction-set features of the target kernel.
    fn decode(&self, pc: usize) -> Result<(), Reject> {
        let i = self.insns[pc];
        let op = i.code & 0xf0;
        let class = i.class();
        let reserved = |what: &str| {
            reject(
                K::InvalidInstruction,
                format!("{what} uses reserved fields"),
                "The instruction sets a field the kernel requires to be zero (or a variant this kernel does not have).",
            )
        };
        let class_name = || match class {
            BPF_ALU | BPF_ALU64 => match op {
                BPF_MOV => "BPF_MOV",
                BPF_NEG => "BPF_NEG",
                BPF_END => "BPF_END",
                _ => "BPF_ALU",
            },
            BPF_JMP | BPF_JMP32 => match op {
                BPF_JA => "BPF_JA",
                BPF_CALL => "BPF_CALL",
                BPF_EXIT => "BPF_EXIT",
                _ => "BPF_JMP/JMP32",
            },
            BPF_LDX => "BPF_LDX",
            BPF_ST => "BPF_ST",
            BPF_STX => "BPF_STX",
            _ => "BPF_LD_[ABS|IND]",
        };
        if let Err(e) = check_insn(self.insns, pc) {
            return Err(match e {
                Invalid::Field { field: "register", value, .. } => reject(
                    K::InvalidInstruction,
                    format!("R{value} is invalid"),
                    "BPF has registers r0 to r10 only.",
                ),
                Invalid::Reserved { .. } | Invalid::Field { .. } => reserved(class_name()),
                Invalid::Opcode { code } => match class {
                    BPF_ALU | BPF_ALU64 => reject(K::InvalidInstruction, format!("invalid BPF_ALU opcode {:x}", op), format!("Opcode {code:#04x} is not an ALU operation.")),
                    BPF_JMP | BPF_JMP32 => reject(K::InvalidInstruction, format!("invalid BPF_JMP/JMP32 opcode {:x}", op), format!("Opcode {code:#04x} is not a jump.")),
                    BPF_LD if i.code == 0 => reject(K::InvalidInstruction, "invalid BPF_LD_IMM insn", "This slot is the second half of an `lddw`, or a load-immediate that is not 64-bit; a jump must not land inside an `lddw`."),
                    _ => reject(K::InvalidInstruction, format!("unknown opcode {code:02x}"), format!("Opcode {code:#04x} is not a BPF instruction.")),
                },
                _ => reject(K::InvalidInstruction, "invalid bpf_ld_imm64 insn", "The `lddw` is malformed."),
            });
        }
        // Features newer than the target kernel.
        let v4 = self.opts.target.has_isa_v4();
        if !v4 {
            let alu = matches!(class, BPF_ALU | BPF_ALU64);
            if alu && matches!(op, BPF_DIV | BPF_MOD) && i.off != 0 {
                return Err(reserved("BPF_ALU"));
            }
            if alu && op == BPF_MOV && i.off != 0 {
                return Err(reserved("BPF_MOV"));
            }
            if class == BPF_ALU64 && op == BPF_END {
                return Err(reject(
                    K::InvalidInstruction,
                    format!("invalid BPF_ALU opcode {:x}", op),
                    format!(
                        "Byte swap (bswap) needs ISA v4, kernel 6.6; the target is {}.",
                        self.kernel
                    ),
                ));
            }
            if class == BPF_LDX && i.code & 0xe0 == BPF_MEMSX {
                return Err(reserved("BPF_LDX"));
            }
            if class == BPF_JMP32 && op == BPF_JA {
                return Err(reject(
                    K::InvalidInstruction,
                    format!("invalid BPF_JMP/JMP32 opcode {:x}", op),
                    format!(
                        "`gotol` needs ISA v4, kernel 6.6; the target is {}.",
                        self.kernel
                    ),
                ));
            }
        }
        if class == BPF_JMP32 && self.kernel < v(5, 1) {
            return Err(reject(
                K::InvalidInstruction,
                format!("unknown opcode {:02x}", i.code),
                format!(
                    "32-bit jumps need kernel 5.1; the target is {}.",
                    self.kernel
                ),
            ));
        }
        if class == BPF_JMP && op == BPF_CALL && i.code & BPF_X != 0 {
            return Err(reserved("BPF_CALL"));
        }
        Ok(())
    }

    fn read_reg(&self, st: &State, r: u8) -> Result<Reg, Reject> {
        let reg = st.regs[r as usize];
        if reg.ty == RegType::NotInit {
            return Err(reject(
                K::UninitializedRegister,
                format!("R{r} !read_ok"),
                format!("r{r} is read here but no instruction on this path has written it (helper calls clobber r1-r5)."),
            ));
        }
        Ok(reg)
    }

    fn write_reg(&self, r: u8) -> Result<(), Reject> {
        if r == 10 {
            return Err(reject(
                K::FramePointerReadOnly,
                "frame pointer is read only",
                "r10 is the frame pointer; programs may copy it but never write it.",
            ));
        }
        Ok(())
    }

    // ------------------------------------------------------------------ ALU

    fn alu(&mut self, st: &mut State, i: Insn) -> Result<(), Reject> {
        let op = i.code & 0xf0;
        let x = i.code & BPF_X != 0;
        let alu64 = i.class() == BPF_ALU64;
        let d = i.dst as usize;
        if op == BPF_NEG || op == BPF_END {
            let dst = self.read_reg(st, i.dst)?;
            if dst.ty.is_pointer() && self.unpriv() {
                return Err(reject(
                    K::PointerArithmetic,
                    format!("R{} pointer arithmetic prohibited", i.dst),
                    "Unprivileged programs may not negate or byte-swap a pointer.",
                ));
            }
            self.write_reg(i.dst)?;
            // The kernel keeps no bounds through negation or byte swaps.
            st.regs[d] = Reg::unknown();
            return Ok(());
        }
        if op == BPF_MOV {
            let src = if x {
                self.read_reg(st, i.src)?
            } else {
                Reg::known(i.imm as i64 as u64)
            };
            self.write_reg(i.dst)?;
            let res = if !x {
                if alu64 {
                    src
                } else {
                    src.trunc32()
                }
            } else if i.off != 0 {
                if src.ty.is_pointer() {
                    return Err(reject(
                        K::PointerArithmetic,
                        format!("R{} sign-extension part of pointer", i.src),
                        "Sign-extending part of a pointer would make an arbitrary value.",
                    ));
                }
                let bits = i.off as u32;
                if !matches!(bits, 8 | 16 | 32) {
                    return Err(reject(
                        K::InvalidInstruction,
                        "BPF_MOV uses reserved fields",
                        "A sign-extending move extends from 8, 16 or 32 bits.",
                    ));
                }
                let r = if src.is_const() {
                    let sh = 64 - bits;
                    Reg::known((((src.var.value << sh) as i64) >> sh) as u64)
                } else {
                    let m = 1i64 << (bits - 1);
                    Reg::unknown_signed(-m, m - 1)
                };
                if alu64 {
                    r
                } else {
                    r.trunc32()
                }
            } else if alu64 {
                // A copied unknown scalar stays linked to its source, so a
                // bound learnt on one applies to both (`find_equal_scalars`).
                if src.is_scalar() && !src.is_const() && src.id == 0 {
                    let id = self.new_id();
                    st.regs[i.src as usize].id = id;
                    Reg { id, ..src }
                } else {
                    src
                }
            } else if src.ty.is_pointer() {
                if self.unpriv() {
                    return Err(reject(
                        K::PointerLeak,
                        format!("R{} partial copy of pointer", i.src),
                        "Copying the low 32 bits of a pointer leaks the address.",
                    ));
                }
                Reg::unknown()
            } else {
                src.trunc32()
            };
            st.regs[d] = res;
            return Ok(());
        }
        let src = if x {
            self.read_reg(st, i.src)?
        } else {
            Reg::known(i.imm as i64 as u64)
        };
        let dst = self.read_reg(st, i.dst)?;
        self.write_reg(i.dst)?;
        if !x {
            if matches!(op, BPF_DIV | BPF_MOD) && i.imm == 0 {
                return Err(reject(
                    K::DivisionByZero,
                    "div by zero",
                    "Division or modulo by the constant 0.",
                ));
            }
            let bits = if alu64 { 64 } else { 32 };
            if matches!(op, BPF_LSH | BPF_RSH | BPF_ARSH) && (i.imm < 0 || i.imm >= bits) {
                return Err(reject(
                    K::InvalidShift,
                    format!("invalid shift {}", i.imm),
                    format!(
                        "A shift by {} is undefined for a {bits}-bit operation.",
                        i.imm
                    ),
                ));
            }
        }
        if dst.ty.is_pointer() || src.ty.is_pointer() {
            st.regs[d] = self.ptr_alu(i, dst, src, alu64)?;
            return Ok(());
        }
        st.regs[d] = scalar_alu(op, &dst, &src, !alu64);
        Ok(())
    }

    fn sane_offset(&self, reg: &Reg, ptr_ty: RegType) -> Result<(), Reject> {
        let t = self.ty(ptr_ty);
        let known = reg.is_const() && reg.ty == RegType::Scalar;
        let val = reg.var.value as i64;
        let why = |m: String| {
            reject(K::PointerArithmetic, m, format!("The verifier cannot keep a {t} pointer in bounds when it moves by an unbounded or huge amount; check the value's range (e.g. `if (x < N)` or `x &= MASK`) before adding it."))
        };
        if known && (val >= MAX_VAR_OFF || val <= -MAX_VAR_OFF) {
            return Err(why(if self.kernel >= NEWEST_WORDING {
                format!("math between {t} pointer and {val} is not allowed")
            } else {
                format!("math between {t} pointer and large imm {val} is not allowed")
            }));
        }
        if reg.off as i64 >= MAX_VAR_OFF || reg.off as i64 <= -MAX_VAR_OFF {
            return Err(why(format!(
                "{t} pointer offset {} is not allowed",
                reg.off
            )));
        }
        if reg.smin == i64::MIN {
            return Err(why(format!(
                "math between {t} pointer and register with unbounded min value is not allowed"
            )));
        }
        if reg.smin >= MAX_VAR_OFF || reg.smin <= -MAX_VAR_OFF {
            return Err(why(format!(
                "value {} makes {t} pointer be out of bounds",
                reg.smin
            )));
        }
        Ok(())
    }

    fn ptr_alu(&self, i: Insn, dst: Reg, src: Reg, alu64: bool) -> Result<Reg, Reject> {
        let op = i.code & 0xf0;
        let d = i.dst;
        if dst.ty.is_pointer() && src.ty.is_pointer() {
            if op == BPF_SUB && !self.unpriv() {
                return Ok(Reg::unknown());
            }
            return Err(reject(K::PointerArithmetic, format!("R{d} pointer {} pointer prohibited", alu_str(op)), "Combining two pointers gives no meaningful pointer; only subtracting them is allowed (privileged)."));
        }
        let (ptr, off, ptr_is_dst) = if dst.ty.is_pointer() {
            (dst, src, true)
        } else {
            (src, dst, false)
        };
        if !alu64 {
            if op == BPF_SUB && !self.unpriv() {
                // The kernel marks the result unknown in all 64 bits.
                return Ok(Reg::unknown());
            }
            return Err(reject(
                K::PointerArithmetic,
                format!("R{d} 32-bit pointer arithmetic prohibited"),
                "Pointer arithmetic must use 64-bit instructions.",
            ));
        }
        let t = self.ty(ptr.ty);
        if ptr.ty.maybe_null() {
            return Err(reject(K::PointerArithmetic, format!("R{d} pointer arithmetic on {t} prohibited, null-check it first"), "The pointer may still be NULL: compare it with 0 and only use it on the non-NULL path."));
        }
        if ptr.ty == RegType::ConstMap {
            if off.is_const() && off.var.value == 0 && op == BPF_ADD {
                return Ok(ptr);
            }
            return Err(reject(
                K::PointerArithmetic,
                format!("R{d} pointer arithmetic on {t} prohibited"),
                "A map pointer can only be passed to helpers, not moved.",
            ));
        }
        self.sane_offset(&off, ptr.ty)?;
        self.sane_offset(&ptr, ptr.ty)?;
        let mut r = ptr;
        match op {
            BPF_ADD => {
                if off.is_const() {
                    r.off = ptr.off.wrapping_add(off.var.value as i64 as i32);
                } else {
                    let s = scalar_alu(BPF_ADD, &ptr, &off, false);
                    r.var = s.var;
                    r.smin = s.smin;
                    r.smax = s.smax;
                    r.umin = s.umin;
                    r.umax = s.umax;
                    r.s32min = s.s32min;
                    r.s32max = s.s32max;
                    r.u32min = s.u32min;
                    r.u32max = s.u32max;
                }
            }
            BPF_SUB => {
                if !ptr_is_dst {
                    return Err(reject(
                        K::PointerArithmetic,
                        format!("R{d} tried to subtract pointer from scalar"),
                        "`scalar - pointer` has no meaning as a pointer.",
                    ));
                }
                if ptr.ty == RegType::Stack {
                    return Err(reject(
                        K::PointerArithmetic,
                        format!("R{d} subtraction from stack pointer prohibited"),
                        "The kernel does not let programs subtract from a stack pointer; add a negative number instead.",
                    ));
                }
                if off.is_const() {
                    r.off = ptr.off.wrapping_sub(off.var.value as i64 as i32);
                } else {
                    let s = scalar_alu(BPF_SUB, &ptr, &off, false);
                    r.var = s.var;
                    r.smin = s.smin;
                    r.smax = s.smax;
                    r.umin = s.umin;
                    r.umax = s.umax;
                    r.s32min = s.s32min;
                    r.s32max = s.s32max;
                    r.u32min = s.u32min;
                    r.u32max = s.u32max;
                }
            }
            BPF_AND | BPF_OR | BPF_XOR => {
                return Err(reject(K::PointerArithmetic, format!("R{d} bitwise operator {} on pointer prohibited", alu_str(op)), "Bit operations on pointers are not allowed; only adding or subtracting a bounded scalar."));
            }
            _ => {
                return Err(reject(
                    K::PointerArithmetic,
                    format!(
                        "R{d} pointer arithmetic with {} operator prohibited",
                        alu_str(op)
                    ),
                    "Only + and - may change a pointer.",
                ));
            }
        }
        self.sane_offset(&r, ptr.ty)?;
        Ok(r)
    }

    // --------------------------------------------------------------- memory

    fn ldx(&mut self, st: &mut State, i: Insn) -> Result<(), Reject> {
        self.read_reg(st, i.src)?;
        self.write_reg(i.dst)?;
        let size = size_bytes(i.code);
        let loaded = self.mem_access(st, i.src, i.off, size, None)?;
        let signed = i.code & 0xe0 == BPF_MEMSX;
        let mask = if size == 8 {
            u64::MAX
        } else {
            (1u64 << (size * 8)) - 1
        };
        st.regs[i.dst as usize] = match loaded {
            Some(r) if size == 8 => r,
            Some(r) if r.is_scalar() && !signed && r.umax <= mask => r,
            _ if signed && size < 8 => {
                let m = 1i64 << (size * 8 - 1);
                Reg::unknown_signed(-m, m - 1)
            }
            _ => Reg::unknown_upto(mask),
        };
        Ok(())
    }

    fn store(&mut self, st: &mut State, i: Insn) -> Result<(), Reject> {
        let value = if i.class() == BPF_STX {
            Some(self.read_reg(st, i.src)?)
        } else {
            None
        };
        self.read_reg(st, i.dst)?;
        let size = size_bytes(i.code);
        let v = value.unwrap_or_else(|| Reg::known(i.imm as i64 as u64));
        if value.is_some() && v.ty.is_pointer() && self.unpriv() {
            let base = st.regs[i.dst as usize].ty;
            if base != RegType::Stack {
                return Err(reject(
                    K::PointerLeak,
                    format!(
                        "R{} leaks addr into {}",
                        i.src,
                        if base == RegType::MapValue {
                            "map"
                        } else {
                            "mem"
                        }
                    ),
                    "Unprivileged programs may not store a pointer where userspace can read it.",
                ));
            }
        }
        self.mem_access(st, i.dst, i.off, size, Some((v, value.is_none())))?;
        Ok(())
    }

    fn atomic(&mut self, st: &mut State, i: Insn) -> Result<(), Reject> {
        let size = size_bytes(i.code);
        let kind = if self.kernel >= v(5, 12) {
            "BPF_ATOMIC"
        } else {
            "BPF_XADD"
        };
        if size != 4 && size != 8 {
            return Err(reject(
                K::InvalidInstruction,
                "invalid atomic operand size",
                "Atomic operations work on 4 or 8 bytes.",
            ));
        }
        if i.imm != BPF_ADD as i32 && !self.opts.target.has_fetch_atomics() {
            return Err(reject(
                K::InvalidInstruction,
                "BPF_XADD uses reserved fields",
                format!(
                    "Atomic operations other than add need kernel 5.12; the target is {}.",
                    self.kernel
                ),
            ));
        }
        let src = self.read_reg(st, i.src)?;
        let base = self.read_reg(st, i.dst)?;
        if i.imm == BPF_CMPXCHG {
            self.read_reg(st, 0)?;
        }
        if src.ty.is_pointer() && self.unpriv() {
            return Err(reject(
                K::PointerLeak,
                format!("R{} leaks addr into mem", i.src),
                "Unprivileged programs may not store pointers.",
            ));
        }
        if base.ty == RegType::Ctx {
            return Err(reject(
                K::AtomicNotAllowed,
                format!(
                    "{kind} stores into R{} {} is not allowed",
                    i.dst,
                    self.ty(base.ty)
                ),
                "Atomic operations work on the stack and map values only.",
            ));
        }
        let loaded = self.mem_access(st, i.dst, i.off, size, None)?;
        self.mem_access(st, i.dst, i.off, size, Some((Reg::unknown(), false)))?;
        let old = match loaded {
            Some(r) if r.is_scalar() && size == 8 => r,
            _ if size == 8 => Reg::unknown(),
            _ => Reg::unknown_upto(u32::MAX as u64),
        };
        if i.imm == BPF_CMPXCHG {
            st.regs[0] = old;
        } else if i.imm & BPF_FETCH != 0 {
            self.write_reg(i.src)?;
            st.regs[i.src as usize] = old;
        }
        Ok(())
    }

    /// `check_mem_access`: a load (`write` None, returns the value) or a store
    /// of `write.0` (`write.1` = it is an immediate) through register `r`.
    fn mem_access(
        &mut self,
        st: &mut State,
        r: u8,
        off: i16,
        size: i64,
        write: Option<(Reg, bool)>,
    ) -> Result<Option<Reg>, Reject> {
        let base = st.regs[r as usize];
        let off = off as i64;
        match base.ty {
            RegType::Stack => self.stack_access(st, r, base, off, size, write),
            RegType::MapValue => {
                let m = self.maps.get(base.map as usize).map(|m| m.value_size).unwrap_or(0);
                self.region(r, &base, off, size, m as i64, true)?;
                Ok(Some(Reg::unknown()))
            }
            RegType::RingbufMem => {
                self.region(r, &base, off, size, base.mem_size as i64, false)?;
                Ok(Some(Reg::unknown()))
            }
            RegType::Ctx => {
                self.ctx_ptr_check(r, &base)?;
                match ctx::access(self.opts.prog_type, self.opts.userspace, off, size, write.is_some()) {
                    Some(v) => Ok(Some(v)),
                    None => Err(reject(
                        K::ContextAccess,
                        format!("invalid bpf_context access off={off} size={size}"),
                        self.ctx_explanation(off, size, write.is_some()),
                    )),
                }
            }
            _ => Err(reject(
                K::InvalidMemAccess,
                format!("R{r} invalid mem access '{}'", self.ty(base.ty)),
                match base.ty {
                    RegType::MapValueOrNull | RegType::RingbufMemOrNull => format!("r{r} may be NULL here: the lookup/reservation result must be compared with 0 and only dereferenced on the non-NULL path."),
                    RegType::ConstMap => format!("r{r} is a map, not a pointer into it: look an element up with bpf_map_lookup_elem first."),
                    _ => format!("r{r} holds a number, not a pointer the verifier can check; memory outside the stack, maps and context must be read with a probe-read helper."),
                },
            )),
        }
    }

    /// `__check_ptr_off_reg` for the context: it must be used unmoved.
    fn ctx_ptr_check(&self, r: u8, base: &Reg) -> Result<(), Reject> {
        let why = "Use the context pointer exactly as the program received it in r1 (the instruction's own offset selects the field), not a moved copy.";
        if base.off < 0 {
            return Err(reject(
                K::ContextAccess,
                format!("negative offset ctx ptr R{r} off={} disallowed", base.off),
                why,
            ));
        }
        if base.off != 0 {
            return Err(reject(
                K::ContextAccess,
                format!(
                    "dereference of modified ctx ptr R{r} off={} disallowed",
                    base.off
                ),
                why,
            ));
        }
        if !base.is_const() || base.var.value != 0 {
            return Err(reject(
                K::ContextAccess,
                format!("variable ctx access var_off={} disallowed", base.var),
                "The context must be accessed at constant offsets.",
            ));
        }
        Ok(())
    }

    fn ctx_explanation(&self, off: i64, size: i64, write: bool) -> String {
        let what = match self.opts.prog_type {
            ProgramType::Kprobe => format!("a kprobe context is a read-only struct pt_regs of {} bytes, read at offsets aligned to the size", ctx::PT_REGS_SIZE),
            ProgramType::Tracepoint => "a tracepoint context is read-only, from offset 8 (the common fields are hidden) to 2048, aligned to the size".into(),
            ProgramType::RawTracepoint => "a raw tracepoint context is 12 read-only u64 arguments".into(),
            ProgramType::PerfEvent => "a perf_event context (struct bpf_perf_event_data) is read-only; its registers must be read 8 bytes at a time".into(),
            ProgramType::SocketFilter => "a socket filter may read the u32 fields of struct __sk_buff (not data/data_end) and write only cb[0..4]".into(),
            ProgramType::Syscall if self.opts.userspace => "stapc's userspace probes (begin/end/error) have no context".into(),
            ProgramType::Syscall => "a syscall program's context is read or written at aligned offsets below 65535".into(),
        };
        format!(
            "{} of {size} bytes at context offset {off} is not allowed: {what}.",
            if write { "A write" } else { "A read" }
        )
    }

    /// `check_mem_region_access` for map values (`map`) and ring-buffer memory.
    fn region(
        &self,
        r: u8,
        base: &Reg,
        off: i64,
        size: i64,
        mem: i64,
        map: bool,
    ) -> Result<(), Reject> {
        let off = off + base.off as i64;
        let out = |o: i64| {
            if map {
                format!("invalid access to map value, value_size={mem} off={o} size={size}")
            } else {
                format!("invalid access to memory, mem_size={mem} off={o} size={size}")
            }
        };
        let what = if map {
            "the map value"
        } else {
            "the reserved ring-buffer record"
        };
        if base.smin < 0
            && (base.smin == i64::MIN
                || off
                    .checked_add(base.smin)
                    .map(|x| x as i32 as i64 != x)
                    .unwrap_or(true)
                || base.smin + off < 0)
        {
            return Err(reject(K::UnboundedAccess, format!("R{r} min value is negative, either use unsigned index or do a if (index >=0) check."), format!("The offset into {what} may be negative; bound it from below (unsigned comparison or `if (i >= 0)`).")));
        }
        let lo = base.smin + off;
        if lo < 0 || lo + size > mem {
            return Err(reject(
                K::MemoryOutOfBounds,
                format!("{}\nR{r} min value is outside of the allowed memory range", out(lo)),
                format!("An access of {size} bytes at offset {lo} does not fit in {what} of {mem} bytes."),
            ));
        }
        if base.umax >= MAX_VAR_OFF as u64 {
            return Err(reject(K::UnboundedAccess, format!("R{r} unbounded memory access, make sure to bounds check any such access"), format!("The offset into {what} has no upper bound the verifier can see; compare it with a constant before the access.")));
        }
        let hi = base.umax as i64 + off;
        if hi + size > mem {
            return Err(reject(
                K::MemoryOutOfBounds,
                format!("{}\nR{r} max value is outside of the allowed memory range", out(hi)),
                format!("The offset may reach {hi}, and {size} bytes there do not fit in {what} of {mem} bytes; tighten the bound check."),
            ));
        }
        Ok(())
    }

    fn stack_access(
        &mut self,
        st: &mut State,
        r: u8,
        base: Reg,
        off: i64,
        size: i64,
        write: Option<(Reg, bool)>,
    ) -> Result<Option<Reg>, Reject> {
        let total = base.var.add(Tnum::known((base.off as i64 + off) as u64));
        if !total.is_aligned(size as u64) {
            let var_text = if self.kernel >= NEWEST_WORDING && base.is_const() {
                format!("{}", base.var.value as i64)
            } else {
                base.var.to_string()
            };
            return Err(reject(
                K::MisalignedAccess,
                format!(
                    "misaligned stack access off {}+{}+{} size {size}",
                    var_text, base.off, off
                ),
                format!("Stack accesses of {size} bytes must be {size}-byte aligned."),
            ));
        }
        let dir = if write.is_some() {
            "write to"
        } else {
            "read from"
        };
        if !base.is_const() {
            return self.stack_var_access(st, r, base, off, size, write, dir);
        }
        let o = base.off as i64 + base.var.value as i64 + off;
        if o < -STACK_SIZE || o + size > 0 {
            let msg = if self.kernel >= v(5, 12) {
                format!("invalid {dir} stack R{r} off={o} size={size}")
            } else {
                format!("invalid stack off={o} size={size}")
            };
            return Err(reject(K::StackOutOfBounds, msg, format!("The stack is the {STACK_SIZE} bytes below r10 (offsets -512..-1); {size} bytes at offset {o} fall outside it.")));
        }
        match write {
            Some((val, imm)) => {
                // What the kernel remembers about a stored value grew over
                // time: pointers always; scalars spilled by register since
                // 5.10; immediates (BPF_ST) since 6.3. Otherwise the bytes
                // are just "written" (or "zero" for a known-zero register).
                let st_imm_tracked = self.kernel >= v(6, 3);
                let spill = size == 8
                    && (val.ty.is_pointer()
                        || (!imm && self.kernel >= v(5, 10))
                        || (imm && st_imm_tracked));
                if spill {
                    st.spill(o, val);
                } else {
                    if val.ty.is_pointer() {
                        return Err(reject(
                            K::SpillSize,
                            "invalid size of register spill",
                            "A pointer saved on the stack must be stored with all 8 bytes.",
                        ));
                    }
                    let zero = val.is_known_zero() && (!imm || st_imm_tracked);
                    st.write_bytes(o, size, if zero { SlotByte::Zero } else { SlotByte::Misc });
                }
                Ok(None)
            }
            None => {
                let (spi, _) = slot_of(o);
                let slot = st.stack.get(spi).copied();
                if let Some(s) = slot.filter(|s| s.is_spill()) {
                    if size == 8 {
                        return Ok(Some(s.spill));
                    }
                    if s.spill.ty != RegType::Scalar {
                        return Err(reject(
                            K::SpillSize,
                            "invalid size of register fill",
                            "A pointer saved on the stack must be read back with all 8 bytes.",
                        ));
                    }
                    let mask = (1u64 << (size * 8)) - 1;
                    // Newer kernels keep a narrow read of the spill's low
                    // bytes precise (little-endian: the lowest address).
                    let (_, byte) = slot_of(o);
                    if self.kernel >= NEWEST_WORDING && s.spill.is_known_zero() {
                        // Any part of a spilled zero is zero.
                        return Ok(Some(Reg::known(0)));
                    }
                    if self.kernel >= NEWEST_WORDING && byte == 0 {
                        let v = if s.spill.umax <= mask {
                            s.spill
                        } else if size == 4 {
                            s.spill.zext32()
                        } else if s.spill.is_const() {
                            Reg::known(s.spill.var.value & mask)
                        } else {
                            Reg::unknown_upto(mask)
                        };
                        return Ok(Some(v));
                    }
                    return Ok(Some(Reg::unknown_upto(mask)));
                }
                let mut zeros = 0;
                for k in 0..size {
                    match st.byte(o + k) {
                        SlotByte::Zero => zeros += 1,
                        SlotByte::Misc | SlotByte::Spill => {}
                        SlotByte::Invalid => {
                            if !self.allow_uninit_direct() {
                                return Err(reject(
                                    K::UninitializedStack,
                                    format!("invalid read from stack off {o}+{k} size {size}"),
                                    format!("Stack byte at fp{} is read before anything was stored there on this path.", o + k),
                                ));
                            }
                        }
                    }
                }
                if zeros == size {
                    Ok(Some(Reg::known(0)))
                } else {
                    Ok(Some(Reg::unknown()))
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn stack_var_access(
        &mut self,
        st: &mut State,
        r: u8,
        base: Reg,
        off: i64,
        size: i64,
        write: Option<(Reg, bool)>,
        dir: &str,
    ) -> Result<Option<Reg>, Reject> {
        if self.strict() {
            return Err(reject(
                K::UnboundedAccess,
                format!("R{r} variable stack access prohibited for !root, var_off={} off={off}", base.var),
                "The stack is accessed at a computed offset; portable programs use constant stack offsets.",
            ));
        }
        if base.smin <= -MAX_VAR_OFF || base.smax >= MAX_VAR_OFF {
            return Err(reject(
                K::UnboundedAccess,
                format!("invalid unbounded variable-offset {dir} stack R{r}"),
                "The computed stack offset has no bounds.",
            ));
        }
        let lo = base.off as i64 + base.smin + off;
        let hi = base.off as i64 + base.smax + off;
        if lo < -STACK_SIZE || hi + size > 0 {
            return Err(reject(
                K::StackOutOfBounds,
                format!(
                    "invalid variable-offset {dir} stack R{r} var_off={} off={off} size={size}",
                    base.var
                ),
                format!(
                    "The computed offset ranges over {lo}..{hi}, which leaves the 512-byte stack."
                ),
            ));
        }
        match write {
            Some(_) => {
                st.write_bytes(lo, hi + size - lo, SlotByte::Misc);
                Ok(None)
            }
            None => {
                for o in lo..hi + size {
                    if st.byte(o) == SlotByte::Invalid && !self.allow_uninit_direct() {
                        return Err(reject(
                            K::UninitializedStack,
                            format!("invalid variable-offset read from stack R{r} var_off={} off={off} size={size}", base.var),
                            format!("Stack byte fp{o} may be read before it is written."),
                        ));
                    }
                }
                Ok(Some(Reg::unknown()))
            }
        }
    }

    fn ld_abs(&mut self, st: &mut State, i: Insn) -> Result<(), Reject> {
        if self.opts.prog_type != ProgramType::SocketFilter {
            return Err(reject(
                K::LdAbsNotAllowed,
                "BPF_LD_[ABS|IND] instructions not allowed for this program type",
                "Legacy packet loads exist only in socket filters and tc programs.",
            ));
        }
        if i.code & 0xe0 == BPF_IND {
            self.read_reg(st, i.src)?;
        }
        let r6 = self.read_reg(st, 6)?;
        if r6.ty != RegType::Ctx {
            return Err(reject(
                K::LdAbsNotAllowed,
                "at the time of BPF_LD_ABS|IND R6 != pointer to skb",
                "Legacy packet loads read the packet of the skb in r6; r6 must hold the context.",
            ));
        }
        for r in 1..=5 {
            st.regs[r] = Reg::NOT_INIT;
        }
        let size = size_bytes(i.code);
        st.regs[0] = Reg::unknown_upto((1u64 << (size * 8)) - 1);
        Ok(())
    }

    // ---------------------------------------------------------------- calls

    fn call(&mut self, st: &mut State, i: Insn, pc: usize) -> Result<(), Reject> {
        if i.src == BPF_PSEUDO_CALL {
            return Err(reject(K::Unsupported, "BPF-to-BPF calls are not modelled by the mini-verifier", "stapc emits one function per program; the mini-verifier does not follow calls into subprograms."));
        }
        if i.src != 0 {
            return Err(reject(K::Unsupported, "kfunc calls are not modelled by the mini-verifier", "Calls to kernel functions (kfuncs) need BTF, which the mini-verifier does not model."));
        }
        let id = i.imm;
        let name = helpers::func_name(id, self.kernel);
        let p = match helpers::allowed(id, self.opts.prog_type, self.kernel, self.opts.userspace) {
            Ok(p) => p,
            Err(Refusal::UnknownId) => {
                let why = match helpers::proto(id) {
                    Some(p) if p.stapc => format!("{} is one of stapc's own helpers, which only userspace probes (begin, end, error) may call.", p.name),
                    Some(p) => format!("{} appeared in kernel {}; the target is {}.", p.name, p.since, self.kernel),
                    None => format!("No helper has id {id}."),
                };
                return Err(reject(
                    K::UnknownHelper,
                    format!("invalid func {name}#{id}"),
                    why,
                ));
            }
            Err(Refusal::NotForProgType) => {
                let msg = if self.kernel >= v(6, 0) {
                    format!("program of this type cannot use helper {name}#{id}")
                } else {
                    format!("unknown func {name}#{id}")
                };
                return Err(reject(
                    K::HelperNotAllowed,
                    msg,
                    format!(
                        "{name} is not available to {:?} programs.",
                        self.opts.prog_type
                    ),
                ));
            }
        };
        let mut map: Option<u32> = None;
        let mut mems: Vec<(u8, Reg, bool)> = Vec::new();
        let mut alloc_size: Option<u64> = None;
        let mut release: Option<u32> = None;
        let mut const_key: Option<u64> = None;
        let mem_types = if self.kernel >= v(6, 1) {
            "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"
        } else if self.names.modern {
            "fp, pkt, pkt_meta, map_key, map_value, mem, alloc_mem, buf"
        } else {
            "fp, pkt, pkt_meta, map_key, map_value, mem, rdonly_buf, rdwr_buf"
        };
        for (k, arg) in p.args.iter().enumerate() {
            let regno = (k + 1) as u8;
            let reg = self.read_reg(st, regno)?;
            let tname = self.ty(reg.ty);
            let mismatch = |expected: &str| {
                reject(
                    K::HelperArgType,
                    format!("R{regno} type={tname} expected={expected}"),
                    format!(
                        "Argument {} of {} (r{regno}) must be {}, but r{regno} is {}.",
                        k + 1,
                        p.name,
                        describe_expected(expected),
                        describe_type(reg.ty)
                    ),
                )
            };
            let is_mem = matches!(
                reg.ty,
                RegType::Stack | RegType::MapValue | RegType::RingbufMem
            );
            match arg {
                Arg::ConstMapPtr => {
                    if reg.ty != RegType::ConstMap {
                        return Err(mismatch("map_ptr"));
                    }
                    map = Some(reg.map);
                }
                Arg::MapKey | Arg::MapValue => {
                    if !is_mem {
                        return Err(mismatch(mem_types));
                    }
                    let Some(m) = map.and_then(|m| self.maps.get(m as usize)) else {
                        return Err(reject(
                            K::HelperArgType,
                            "invalid map_ptr to access map->key",
                            "The map argument is missing.",
                        ));
                    };
                    let size = if *arg == Arg::MapKey {
                        m.key_size
                    } else {
                        m.value_size
                    };
                    self.helper_mem(st, regno, &reg, size as i64, false)?;
                    if *arg == Arg::MapKey {
                        const_key = constant_key(st, &reg, size);
                    }
                }
                Arg::Mem | Arg::UninitMem => {
                    if !is_mem {
                        return Err(mismatch(mem_types));
                    }
                    mems.push((regno, reg, *arg == Arg::UninitMem));
                }
                Arg::ConstSize | Arg::ConstSizeOrZero => {
                    if reg.ty != RegType::Scalar {
                        return Err(mismatch(self.ty(RegType::Scalar)));
                    }
                    let zero_ok = *arg == Arg::ConstSizeOrZero;
                    if reg.smin < 0 {
                        return Err(reject(K::HelperArgSize, format!("R{regno} min value is negative, either use unsigned or 'var &= const'"), format!("The size passed to {} may be negative.", p.name)));
                    }
                    if reg.umin == 0 && !zero_ok {
                        let msg = if self.kernel >= v(5, 10) {
                            format!(
                                "R{regno} invalid zero-sized read: u64=[{},{}]",
                                reg.umin, reg.umax
                            )
                        } else {
                            format!("R{regno} invalid zero-sized read")
                        };
                        return Err(reject(
                            K::HelperArgSize,
                            msg,
                            format!(
                                "The size passed to {} may be 0, which it does not accept.",
                                p.name
                            ),
                        ));
                    }
                    if reg.umax >= MAX_VAR_OFF as u64 {
                        return Err(reject(K::HelperArgSize, format!("R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'"), format!("The size passed to {} has no upper bound the verifier can see.", p.name)));
                    }
                    let size = reg.umax as i64;
                    let targets: Vec<(u8, Reg, bool)> = if p.stapc {
                        std::mem::take(&mut mems)
                    } else {
                        mems.pop().into_iter().collect()
                    };
                    for (mr, mreg, uninit) in targets {
                        self.helper_mem(st, mr, &mreg, size, uninit)?;
                    }
                }
                Arg::ConstAllocSizeOrZero => {
                    if reg.ty != RegType::Scalar {
                        return Err(mismatch(self.ty(RegType::Scalar)));
                    }
                    if !reg.is_const() {
                        return Err(reject(
                            K::HelperArgSize,
                            format!("R{regno} is not a known constant'"),
                            format!("The size passed to {} must be a constant.", p.name),
                        ));
                    }
                    alloc_size = Some(reg.var.value);
                }
                Arg::Anything => {
                    if reg.ty.is_pointer() && self.unpriv() {
                        return Err(reject(
                            K::PointerLeak,
                            format!("R{regno} leaks addr into helper function"),
                            "Unprivileged programs may not pass a pointer as a plain value.",
                        ));
                    }
                }
                Arg::Ctx => {
                    if reg.ty != RegType::Ctx {
                        return Err(mismatch("ctx"));
                    }
                    self.ctx_ptr_check(regno, &reg)?;
                }
                Arg::RingbufMemRelease => {
                    if reg.ty != RegType::RingbufMem {
                        return Err(mismatch(self.ty(RegType::RingbufMem)));
                    }
                    if reg.off != 0 || !reg.is_const() || reg.var.value != 0 {
                        return Err(reject(K::HelperArgType, format!("R{regno} must have zero offset when passed to release func"), "Submit or discard the pointer ringbuf_reserve returned, not a moved copy."));
                    }
                    release = Some(reg.ref_obj);
                }
                Arg::Func => {
                    // A callback is an `lddw rX, func` (src 4), which we
                    // refuse up front, so what is here is not a function.
                    if reg.ty != RegType::NotInit {
                        return Err(mismatch("func"));
                    }
                    return Err(reject(
                        K::Unsupported,
                        format!(
                            "callbacks ({}) are not modelled by the mini-verifier",
                            p.name
                        ),
                        "The mini-verifier does not verify callback functions.",
                    ));
                }
                Arg::StackOrNull => {
                    if !(reg.ty == RegType::Stack || reg.is_known_zero()) {
                        return Err(mismatch("fp"));
                    }
                }
            }
        }
        if let Some(m) = map.and_then(|m| self.maps.get(m as usize)) {
            let ok = match m.kind {
                MapKind::PerfEventArray => id == h::PERF_EVENT_OUTPUT,
                MapKind::RingBuf => matches!(id, h::RINGBUF_OUTPUT | h::RINGBUF_RESERVE),
                _ => !matches!(
                    id,
                    h::PERF_EVENT_OUTPUT | h::RINGBUF_OUTPUT | h::RINGBUF_RESERVE
                ),
            };
            if !ok {
                return Err(reject(
                    K::MapHelperMismatch,
                    format!(
                        "cannot pass map_type {} into func {name}#{id}",
                        m.kind.kernel_type()
                    ),
                    format!(
                        "Map {} is a {} map, which {} cannot use.",
                        m.name,
                        m.kind.name(),
                        p.name
                    ),
                ));
            }
        }
        if let Some(id) = release {
            st.refs.retain(|r| r.id != id);
            let unpriv = self.unpriv();
            st.for_each_reg(|r| {
                if r.ref_obj == id {
                    *r = if unpriv {
                        Reg::NOT_INIT
                    } else {
                        Reg::unknown()
                    };
                }
            });
        }
        for r in 1..=5 {
            st.regs[r] = Reg::NOT_INIT;
        }
        st.regs[0] = match p.ret {
            Ret::Integer => Reg::unknown(),
            Ret::Void => Reg::NOT_INIT,
            Ret::MapValueOrNull => {
                // Since 6.14 a lookup in an array with a constant key that is
                // in range cannot fail, and the kernel drops the NULL case.
                let m = map.and_then(|m| self.maps.get(m as usize));
                let never_null = self.kernel >= v(6, 14)
                    && self.opts.target.privileged
                    && m.is_some_and(|m| {
                        matches!(m.kind, MapKind::Array | MapKind::PerCpuArray)
                            && const_key.is_some_and(|k| k < m.max_entries as u64)
                    });
                if never_null {
                    Reg {
                        map: map.unwrap_or(0),
                        ..Reg::pointer(RegType::MapValue)
                    }
                } else {
                    Reg {
                        map: map.unwrap_or(0),
                        id: self.new_id(),
                        ..Reg::pointer(RegType::MapValueOrNull)
                    }
                }
            }
            Ret::RingbufMemOrNull => {
                // The kernel numbers the maybe-NULL pointer first, then the
                // reference, and gives the pointer the reference's id.
                self.new_id();
                let id = self.new_id();
                st.refs.push(RefState { id, insn: pc });
                Reg {
                    id,
                    ref_obj: id,
                    mem_size: alloc_size.unwrap_or(0).min(u32::MAX as u64) as u32,
                    ..Reg::pointer(RegType::RingbufMemOrNull)
                }
            }
        };
        Ok(())
    }

    /// `check_helper_mem_access`: `size` bytes at `reg` readable (or, for
    /// `uninit`, writable and then written).
    fn helper_mem(
        &mut self,
        st: &mut State,
        regno: u8,
        reg: &Reg,
        size: i64,
        uninit: bool,
    ) -> Result<(), Reject> {
        match reg.ty {
            RegType::MapValue => {
                let m = self
                    .maps
                    .get(reg.map as usize)
                    .map(|m| m.value_size)
                    .unwrap_or(0);
                self.region(regno, reg, 0, size, m as i64, true)
            }
            RegType::RingbufMem => self.region(regno, reg, 0, size, reg.mem_size as i64, false),
            _ => {
                if !reg.is_const() {
                    if self.strict() {
                        return Err(reject(K::UnboundedAccess, format!("R{regno} variable stack access prohibited for !root, var_off={} off={}", reg.var, reg.off), "Pass stack buffers to helpers at constant offsets."));
                    }
                    let lo = (reg.off as i64).saturating_add(reg.smin);
                    let hi = (reg.off as i64).saturating_add(reg.smax);
                    if reg.smin <= -MAX_VAR_OFF
                        || reg.smax >= MAX_VAR_OFF
                        || lo < -STACK_SIZE
                        || hi + size > 0
                    {
                        return Err(reject(K::StackOutOfBounds, format!("invalid indirect access to stack R{regno} var_off={} off={} size={size}", reg.var, reg.off), "The buffer passed to the helper may leave the stack."));
                    }
                    if uninit {
                        st.write_bytes(lo, hi + size - lo, SlotByte::Misc);
                        return Ok(());
                    }
                    for o in lo..hi + size {
                        if st.byte(o) == SlotByte::Invalid && !self.allow_uninit_indirect() {
                            return Err(reject(K::UninitializedStack, format!("invalid indirect read from stack R{regno} var_off {}+{} size {size}", reg.var, o - lo), "The helper may read stack bytes that were never written."));
                        }
                    }
                    return Ok(());
                }
                let o = reg.off as i64 + reg.var.value as i64;
                if !(-STACK_SIZE..0).contains(&o) || o + size > 0 || size < 0 {
                    let msg = if self.kernel >= NEWEST_WORDING {
                        let dir = if uninit { "write to" } else { "read from" };
                        format!("invalid {dir} stack R{regno} off={o} size={size}")
                    } else if self.kernel >= v(5, 12) {
                        format!("invalid indirect access to stack R{regno} off={o} size={size}")
                    } else {
                        format!("invalid stack type R{regno} off={o} access_size={size}")
                    };
                    return Err(reject(K::StackOutOfBounds, msg, format!("The helper would access {size} bytes at fp{o}, beyond the 512-byte stack.")));
                }
                if uninit {
                    st.write_bytes(o, size, SlotByte::Misc);
                    return Ok(());
                }
                for k in 0..size {
                    let b = st.byte(o + k);
                    let ok = match b {
                        SlotByte::Misc | SlotByte::Zero => true,
                        SlotByte::Spill => {
                            let (spi, _) = slot_of(o + k);
                            st.stack[spi].spill.ty == RegType::Scalar || !self.unpriv()
                        }
                        SlotByte::Invalid => self.allow_uninit_indirect(),
                    };
                    if !ok {
                        let msg = if self.kernel >= v(5, 12) {
                            format!(
                                "invalid indirect read from stack R{regno} off {o}+{k} size {size}"
                            )
                        } else {
                            format!("invalid indirect read from stack off {o}+{k} size {size}")
                        };
                        return Err(reject(K::UninitializedStack, msg, format!("The helper reads {size} bytes at fp{o}, but fp{} was never written on this path; initialise the whole buffer (keys, values, strings) before the call.", o + k)));
                    }
                }
                Ok(())
            }
        }
    }

    fn exit(&mut self, st: &State) -> Result<(), Reject> {
        if let Some(r) = st.refs.first() {
            return Err(reject(
                K::UnreleasedReference,
                if self.kernel >= NEWEST_WORDING {
                    format!("Unreleased reference id={} alloc_insn={}\nBPF_EXIT instruction in main prog would lead to reference leak", r.id, r.insn)
                } else {
                    format!("Unreleased reference id={} alloc_insn={}", r.id, r.insn)
                },
                format!("The ring-buffer record reserved at instruction {} is neither submitted nor discarded on this path.", r.insn),
            ));
        }
        let r0 = st.regs[0];
        if r0.ty == RegType::NotInit {
            return Err(reject(K::UninitializedRegister, "R0 !read_ok", "The program exits without setting r0, its return value (helper calls returning void leave r0 unset)."));
        }
        if r0.ty.is_pointer() && self.strict() {
            return Err(reject(
                K::PointerLeak,
                "R0 leaks addr as return value",
                format!(
                    "The program returns a pointer ({}) instead of a number.",
                    format_reg(&r0, self.maps, self.names)
                ),
            ));
        }
        Ok(())
    }

    // -------------------------------------------------------------- branches

    fn cond_jmp(&mut self, st: &mut State, i: Insn, pc: usize) -> Result<Step, Reject> {
        let op = i.code & 0xf0;
        let x = i.code & BPF_X != 0;
        let jmp32 = i.class() == BPF_JMP32;
        let a = self.read_reg(st, i.dst)?;
        let b = if x {
            self.read_reg(st, i.src)?
        } else if jmp32 {
            Reg::known(i.imm as u32 as u64)
        } else {
            Reg::known(i.imm as i64 as u64)
        };
        let target = cfg::jump_target(self.insns, pc) as usize;
        let fall = pc + 1;
        let Some(cmp) = Cmp::from_op(op) else {
            return Err(reject(
                K::InvalidInstruction,
                format!("invalid BPF_JMP/JMP32 opcode {op:x}"),
                "Not a conditional jump.",
            ));
        };
        if a.ty.is_pointer() || b.ty.is_pointer() {
            let null_check = !jmp32 && !x && i.imm == 0 && matches!(cmp, Cmp::Eq | Cmp::Ne);
            if null_check && a.ty.maybe_null() {
                let mut is_null = st.clone();
                let mut not_null = std::mem::replace(st, State::new(RegType::Ctx));
                mark_null(&mut is_null, a.id, true);
                mark_null(&mut not_null, a.id, false);
                let (taken, other) = if cmp == Cmp::Eq {
                    (is_null, not_null)
                } else {
                    (not_null, is_null)
                };
                *st = other;
                return Ok(Step::Fork {
                    other: Box::new(taken),
                    target,
                    fall,
                });
            }
            if self.unpriv() && !(null_check && a.ty.maybe_null()) {
                return Err(reject(
                    K::PointerComparison,
                    format!("R{} pointer comparison prohibited", i.dst),
                    "Unprivileged programs may compare pointers only with 0 after a lookup.",
                ));
            }
            if null_check && matches!(a.ty, RegType::MapValue | RegType::RingbufMem) {
                let taken = cmp == Cmp::Ne;
                return Ok(Step::Next(if taken { target } else { fall }));
            }
            let other = st.clone();
            return Ok(Step::Fork {
                other: Box::new(other),
                target,
                fall,
            });
        }
        let signed = cmp.is_signed();
        let view = |r: &Reg| -> Reg {
            if !jmp32 {
                *r
            } else if signed {
                r.sext32()
            } else {
                r.zext32()
            }
        };
        let va = view(&a);
        let vb = view(&b);
        match branch_taken(cmp, &va, &vb, self.kernel >= NEWEST_WORDING) {
            Some(true) => return Ok(Step::Next(target)),
            Some(false) => return Ok(Step::Next(fall)),
            None => {}
        }
        // The kernel decides a branch only from the ranges (above); when
        // narrowing a register contradicts what else is known, it does not
        // drop the path but carries on with sanitised bounds. We carry on
        // with the unrefined registers, which assume no more than it does.
        let apply = |s: &mut State, c: Cmp| {
            let (saved_a, saved_b) = (s.regs[i.dst as usize], s.regs[i.src as usize]);
            let (mut ra, mut rb) = (va, vb);
            let bit_test = matches!(c, Cmp::Set | Cmp::NotSet);
            // A 64-bit compare refines the register itself; a 32-bit one
            // its low half (and through it what the whole value can be).
            let put = |r: &mut Reg, view: &Reg| -> bool {
                if jmp32 && bit_test {
                    // As for 64-bit bit tests, the kernel keeps only what
                    // the bits say, for the whole register.
                    let low = view.var.cast(4);
                    let var = Tnum {
                        value: (r.var.value & !0xffff_ffff) | low.value,
                        mask: (r.var.mask & !0xffff_ffff) | low.mask,
                    };
                    *r = Reg {
                        var,
                        ..Reg::unknown()
                    };
                    r.sync();
                } else if jmp32 {
                    r.narrow_low32(view);
                } else {
                    *r = *view;
                }
                r.is_consistent()
            };
            let mut ok = refine(c, &mut ra, &mut rb);
            if ok {
                ok = put(&mut s.regs[i.dst as usize], &ra);
                if x && i.src != i.dst {
                    ok &= put(&mut s.regs[i.src as usize], &rb);
                }
            }
            if !ok {
                s.regs[i.dst as usize] = saved_a;
                s.regs[i.src as usize] = saved_b;
                return;
            }
            let refined: Vec<Reg> = if x {
                vec![s.regs[i.dst as usize], s.regs[i.src as usize]]
            } else {
                vec![s.regs[i.dst as usize]]
            };
            for r in refined {
                if r.is_scalar() && r.id != 0 {
                    s.for_each_reg(|o| {
                        if o.is_scalar() && o.id == r.id {
                            *o = r;
                        }
                    });
                }
            }
        };
        let mut taken = st.clone();
        apply(&mut taken, cmp);
        apply(st, cmp.negate());
        Ok(Step::Fork {
            other: Box::new(taken),
            target,
            fall,
        })
    }
}

/// The key a lookup uses when it is a constant on the stack: all-zero bytes,
/// or a spilled constant of exactly the key's size (the kernel's
/// `get_constant_map_key`).
fn constant_key(st: &State, key: &Reg, size: u32) -> Option<u64> {
    if key.ty != RegType::Stack || !key.is_const() {
        return None;
    }
    let o = key.off as i64 + key.var.value as i64;
    if o >= 0 || o + size as i64 > 0 {
        return None;
    }
    if (0..size as i64).all(|k| st.byte(o + k) == SlotByte::Zero) {
        return Some(0);
    }
    let (spi, byte) = slot_of(o);
    let slot = st.stack.get(spi)?;
    if byte == 0 && size == 8 && slot.is_spill() && slot.spill.is_scalar() && slot.spill.is_const()
    {
        return Some(slot.spill.var.value);
    }
    None
}

/// After a null check of the pointer with `id`: every copy becomes NULL
/// (a scalar 0) or the non-NULL pointer; a NULL reservation is released.
fn mark_null(st: &mut State, id: u32, null: bool) {
    let mut released = None;
    st.for_each_reg(|r| {
        if r.id == id && r.ty.maybe_null() {
            if null {
                if r.ref_obj != 0 {
                    released = Some(r.ref_obj);
                }
                *r = Reg::known(0);
            } else {
                r.ty = match r.ty {
                    RegType::MapValueOrNull => RegType::MapValue,
                    _ => RegType::RingbufMem,
                };
                r.id = 0;
            }
        }
    });
    if let Some(rid) = released {
        st.refs.retain(|x| x.id != rid);
    }
}

fn describe_expected(e: &str) -> &'static str {
    if e == "map_ptr" {
        "a map (`lddw rX, map`)"
    } else if e == "ctx" {
        "the context pointer received in r1"
    } else if e == "scalar" || e == "inv" {
        "a number"
    } else if e == "func" {
        "a callback function (`lddw rX, func`, which the mini-verifier does not model)"
    } else if e == "fp" {
        "a stack pointer or 0"
    } else if e.contains("ringbuf_mem") && !e.contains(',') || e == "mem" {
        "the record returned by bpf_ringbuf_reserve (after its NULL check)"
    } else {
        "a pointer to readable memory (stack, map value or ring-buffer record)"
    }
}

fn describe_type(t: RegType) -> &'static str {
    match t {
        RegType::NotInit => "uninitialised",
        RegType::Scalar => "a number",
        RegType::Ctx => "the context",
        RegType::Stack => "a stack pointer",
        RegType::MapValue => "a map value pointer",
        RegType::MapValueOrNull => "a map value pointer that may be NULL (not yet checked)",
        RegType::ConstMap => "a map",
        RegType::RingbufMem => "a ring-buffer record",
        RegType::RingbufMemOrNull => "a ring-buffer record that may be NULL (not yet checked)",
    }
}
