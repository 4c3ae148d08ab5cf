//! Pass timings for `-v`, in stap's shape:
//! `Pass 1: parsed user script in 3usr/0sys/4real ms.`
//! CPU times come from /proc/self/stat (USER_HZ ticks, 100 per second on
//! every Linux ABI), so the driver needs no unsafe-code site of its own.

use std::time::Instant;

#[derive(Debug, Default)]
pub struct PassTimer {
    started: Option<(Instant, (u64, u64))>,
    /// The finished passes' lines, in order.
    pub lines: Vec<String>,
}

/// (user, system) CPU time of this process in milliseconds.
fn cpu_ms() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0, 0);
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return (0, 0);
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) * 10;
    (tick(11), tick(12))
}

impl PassTimer {
    pub fn new() -> PassTimer {
        PassTimer::default()
    }

    pub fn start(&mut self) {
        self.started = Some((Instant::now(), cpu_ms()));
    }

    pub fn finish(&mut self, pass: u32, what: &str) {
        let Some((t0, (u0, s0))) = self.started.take() else {
            return;
        };
        let (u1, s1) = cpu_ms();
        let real = t0.elapsed().as_millis();
        self.lines.push(format!(
            "Pass {pass}: {what} in {}usr/{}sys/{real}real ms.",
            u1.saturating_sub(u0),
            s1.saturating_sub(s0)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_stap_shape() {
        let mut t = PassTimer::new();
        t.start();
        t.finish(1, "parsed user script");
        let l = &t.lines[0];
        assert!(l.starts_with("Pass 1: parsed user script in "), "{l}");
        assert!(l.ends_with("real ms."), "{l}");
        assert!(l.contains("usr/") && l.contains("sys/"), "{l}");
    }
}
