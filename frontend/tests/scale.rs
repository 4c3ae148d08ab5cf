//! A 10,000-line script goes through the frontend without errors and in
//! linear time. (The < 50 ms budget is for release builds; this debug-build
//! bound only catches accidental quadratic behaviour.)

use stapc_frontend::{parse, resolve, Options, SourceMap};
use std::time::{Duration, Instant};

fn script(units: usize) -> String {
    let mut s = String::from("global counts[1024], total, names, lat\n");
    for i in 0..units {
        s.push_str(&format!(
            "function f{i}(a, b:string) {{\n  x = a * {i} + strlen(b)\n  if (x > 10) counts[x % 7] += 1; else names[b] = x\n  return x + {}\n}}\n",
            if i > 0 { format!("f{}(a, b)", i - 1) } else { "1".into() }
        ));
        s.push_str(&format!(
            "probe timer.ms({}) {{\n  total += f{i}({i}, \"n{i}\")\n  lat <<< total\n  printf(\"%d %s %d\\n\", total, execname(), @count(lat))\n}}\n",
            i + 1
        ));
    }
    s
}

fn time(units: usize) -> (usize, Duration) {
    let text = script(units);
    let lines = text.lines().count();
    let mut sm = SourceMap::new();
    let f = sm.add("big.stp", text);
    let opts = Options::default();
    let t = Instant::now();
    let (ast, d) = parse(&sm, f, &opts);
    assert!(d.is_empty(), "{:?}", d.first());
    let (s, d) = resolve(&ast, &opts);
    assert!(s.is_some(), "{:?}", d.iter().find(|d| d.is_error()));
    (lines, t.elapsed())
}

#[test]
fn ten_thousand_lines() {
    let (lines, took) = time(1000);
    assert!(lines >= 10_000, "{lines}");
    assert!(took < Duration::from_secs(5), "{lines} lines took {took:?}");
}
