//! What the benchmarks share: compiling a script file the way `stapc` does.

/// Compile `script` (a file) with `args` as its arguments: the object, or
/// the rendered diagnostics.
pub fn compile(script: &str, args: &[String]) -> Result<stapc_bpf::Object, String> {
    let text = std::fs::read_to_string(script).map_err(|e| format!("cannot read {script}: {e}"))?;
    let opts = stapc::Options {
        script_args: args.to_vec(),
        ..stapc::Options::default()
    };
    let mut session = stapc::Session::new(script, text, opts);
    let result = session.run(stapc::Stage::Compile);
    match result.ok().and_then(|o| o.object) {
        Some(obj) => Ok(obj),
        None => Err(session.render_diagnostics()),
    }
}
