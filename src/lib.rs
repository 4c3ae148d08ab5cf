//! The stapc driver: the pipeline from script text to AST, resolved script,
//! IR, object, simulation or kernel run — with the pass timings of `-v` and
//! the printed form of every stage (`-p1` … `-p4`, `-d`).
#![forbid(unsafe_code)]

pub mod timing;
pub mod toolkit;

use stapc_bpf::{Object, Target};
use stapc_frontend::{render::DiagFormat, Diagnostic, FileId, SourceMap};
use std::fmt::Write as _;
use timing::PassTimer;

/// How far `-pN` goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Parse = 1,
    Resolve = 2,
    Translate = 3,
    Compile = 4,
}

/// Everything the pipeline needs besides the script text.
#[derive(Clone, Debug)]
pub struct Options {
    pub target: Target,
    pub opt_level: u8,
    pub max_string_len: u32,
    /// `-D MAXMAPENTRIES=N`: entries of an array declared without a size.
    pub max_map_entries: u32,
    pub script_args: Vec<String>,
    pub arch: String,
    pub message_format: DiagFormat,
    /// `-v`: print pass timings to stderr.
    pub verbose: u8,
    /// `-D MAXNESTING=N`: deepest recursion of script functions.
    pub max_nesting: u32,
    /// `-I DIR`: extra tapset directories whose `.stpm` macros the script may use.
    pub tapset_dirs: Vec<std::path::PathBuf>,
    /// Run the mini-verifier on every compiled program (off for
    /// `--explain-verifier`, which reports its verdicts itself).
    pub precheck: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            target: Target::default(),
            opt_level: 2,
            max_string_len: 64,
            max_map_entries: stapc_midend::lower::MAXMAPENTRIES,
            script_args: Vec::new(),
            arch: std::env::consts::ARCH.to_string(),
            message_format: DiagFormat::Plain,
            verbose: 0,
            max_nesting: stapc_midend::DEFAULT_MAX_NESTING,
            tapset_dirs: Vec::new(),
            precheck: true,
        }
    }
}

/// What a pipeline run produced, stage by stage (each `Some` up to where it stopped).
pub struct Output {
    /// The text `-p1`/`-p2`/`-p3` print.
    pub printed: Option<String>,
    pub object: Option<Object>,
}

/// The pipeline failed: the diagnostics to show (already including warnings).
pub struct Failed;

/// One compilation: its files and the diagnostics reported so far.
pub struct Session {
    pub sm: SourceMap,
    pub file: FileId,
    pub opts: Options,
    pub diagnostics: Vec<Diagnostic>,
    pub timer: PassTimer,
}

impl Session {
    pub fn new(name: &str, text: String, opts: Options) -> Session {
        let mut sm = SourceMap::new();
        let file = sm.add(name, text);
        Session {
            sm,
            file,
            opts,
            diagnostics: Vec::new(),
            timer: PassTimer::new(),
        }
    }

    fn frontend_options(&self) -> stapc_frontend::Options {
        let k = self.opts.target.kernel;
        stapc_frontend::Options {
            kernel_version: (k.major, k.minor),
            arch: self.opts.arch.clone(),
            script_args: self.opts.script_args.clone(),
            tapset_dirs: self.opts.tapset_dirs.clone(),
        }
    }

    fn midend_options(&self) -> stapc_midend::Options {
        stapc_midend::Options {
            target: self.opts.target,
            max_string_len: self.opts.max_string_len,
            opt_level: self.opts.opt_level,
            max_map_entries: self.opts.max_map_entries,
            max_nesting: self.opts.max_nesting,
        }
    }

    fn take(&mut self, diags: Vec<Diagnostic>) -> Result<(), Failed> {
        let failed = diags.iter().any(Diagnostic::is_error);
        self.diagnostics.extend(diags);
        if failed {
            Err(Failed)
        } else {
            Ok(())
        }
    }

    /// Run the pipeline up to `stop` (inclusive).
    pub fn run(&mut self, stop: Stage) -> Result<Output, Failed> {
        let fe_opts = self.frontend_options();
        self.timer.start();
        // The tapset macro files join the source map so diagnostics inside
        // a macro body name its `.stpm` file.
        let library = match stapc_frontend::load_tapset_macros(&mut self.sm, &fe_opts.tapset_dirs) {
            Ok(ids) => ids,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error(
                    stapc_frontend::codes::BAD_TAPSET,
                    e.to_string(),
                ));
                return Err(Failed);
            }
        };
        let (ast, diags) =
            stapc_frontend::parse_with_library(&self.sm, self.file, &library, &fe_opts);
        self.take(diags)?;
        self.timer.finish(1, "parsed user script");
        if stop == Stage::Parse {
            return Ok(Output {
                printed: Some(stapc_frontend::print_ast(&ast)),
                object: None,
            });
        }

        self.timer.start();
        let (script, diags) = stapc_frontend::resolve(&ast, &fe_opts);
        self.take(diags)?;
        let Some(script) = script else {
            return Err(Failed);
        };
        self.timer.finish(2, "analyzed script");
        if stop == Stage::Resolve {
            return Ok(Output {
                printed: Some(stapc_frontend::print_script(&script)),
                object: None,
            });
        }

        self.timer.start();
        let me_opts = self.midend_options();
        let mut module = match stapc_midend::lower(&script, &self.sm, &me_opts) {
            Ok(m) => m,
            Err(d) => return self.take(d).and(Err(Failed)),
        };
        if let Err(d) = stapc_midend::optimize(&mut module, &me_opts) {
            return self.take(d).and(Err(Failed));
        }
        self.timer.finish(3, "translated to IR");
        if stop == Stage::Translate {
            return Ok(Output {
                printed: Some(stapc_midend::print_module_with(&module, Some(&self.sm))),
                object: None,
            });
        }

        self.timer.start();
        let object = match stapc_backend::compile(&module, &self.opts.target, &self.sm) {
            Ok(o) => o,
            Err(d) => return self.take(d).and(Err(Failed)),
        };
        if self.opts.precheck {
            let diags = explain::precheck(&object, &self.opts.target, &self.sm, self.file);
            self.take(diags)?;
        }
        self.timer.finish(4, "compiled BPF");
        Ok(Output {
            printed: None,
            object: Some(object),
        })
    }

    /// The diagnostics rendered for stderr.
    pub fn render_diagnostics(&self) -> String {
        stapc_frontend::render(&self.diagnostics, &self.sm, self.opts.message_format)
    }
}

/// `-d`: every program of the object, bpftool-style, with its probe point.
pub fn disassemble(obj: &Object) -> String {
    let mut out = String::new();
    for p in &obj.programs {
        let _ = writeln!(out, "{} ({}, probe {}):", p.name, p.section_name(), p.point);
        let name = |i: u32| obj.maps.get(i as usize).map(|m| m.name.as_str());
        out.push_str(&stapc_bpf::disasm::disasm_program_with_maps(&p.insns, name));
        out.push('\n');
    }
    out
}
pub mod explain;
