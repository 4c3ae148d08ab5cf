//! A tiny driver for trying the frontend by hand:
//! `cargo run -p stapc-frontend --example stapfe -- [-p1|-p2|--json] FILE [ARGS…]`.

use stapc_frontend::{
    parse, print_ast, print_script, render, resolve, DiagFormat, Options, SourceMap,
};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut mode = "-p2".to_string();
    let mut format = DiagFormat::Plain;
    while args.first().is_some_and(|a| a.starts_with('-')) {
        let a = args.remove(0);
        if a == "--json" {
            format = DiagFormat::Json;
        } else {
            mode = a;
        }
    }
    if args.is_empty() {
        eprintln!("usage: stapfe [-p1|-p2|--json] FILE [ARGS…]");
        std::process::exit(2);
    }
    let path = args.remove(0);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mut sm = SourceMap::new();
    let f = sm.add(path, text);
    let opts = Options {
        script_args: args,
        ..Options::default()
    };
    if std::env::var_os("STAPFE_TIME").is_some() {
        let t = std::time::Instant::now();
        let n = lex_only(&sm.file(f).text);
        eprintln!("lex {n} tokens {:?}", t.elapsed());
    }
    let t0 = std::time::Instant::now();
    let (ast, mut diags) = parse(&sm, f, &opts);
    let t1 = t0.elapsed();
    if mode == "-p1" {
        print!("{}", print_ast(&ast));
    }
    let mut status = i32::from(diags.iter().any(|d| d.is_error()));
    if mode != "-p1" && status == 0 {
        let (script, d2) = resolve(&ast, &opts);
        diags.extend(d2);
        if let Some(s) = script {
            if mode == "-p2" {
                print!("{}", print_script(&s));
            }
        } else {
            status = 1;
        }
    }
    eprint!("{}", render(&diags, &sm, format));
    if std::env::var_os("STAPFE_TIME").is_some() {
        eprintln!("parse {t1:?}, total {:?}", t0.elapsed());
    }
    std::process::exit(status);
}

#[allow(dead_code)]
fn lex_only(text: &str) -> usize {
    stapc_frontend::lexer::lex(text, stapc_frontend::FileId(0))
        .0
        .len()
}
