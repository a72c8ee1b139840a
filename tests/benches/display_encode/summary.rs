//! The report's first table: every ratio ours/Xvnc in one place, with p50, p99 and the
//! spread of the per-update values behind them, so a reader (and `scripts/bench`,
//! which folds this section into BENCHMARKS.md) sees at once where we are behind.

use super::*;

/// p10–p90 of `v`, formatted by `f`.
fn spread<T: Copy + Ord>(v: &[T], f: impl Fn(T) -> String) -> String {
    format!("{}–{}", f(percentile(v, 10)), f(percentile(v, 90)))
}

fn kib_mem(k: u64) -> String {
    format!("{:.1} MiB", k as f64 / 1024.0)
}

/// Write the summary table to `w`.
pub(crate) fn summary(w: &mut String, rows: &[Row], idle: (Idle, Idle), memory: &[rss::RssRow]) {
    writeln!(w, "### Ratios ours/Xvnc (1.00 or less: as good or better; > 1 in bold)\n").unwrap();
    writeln!(w, "| measure | content | encoding | p50 | p99 | spread ours (p10–p90) | spread Xvnc (p10–p90) |")
        .unwrap();
    writeln!(w, "|---|---|---|---|---|---|---|").unwrap();
    let bytes = |b: u64| kib(b);
    for r in rows {
        let (x, o) = (&r.xvnc.bytes, &r.ours.bytes);
        writeln!(
            w,
            "| bytes per update | {} | {} | {} | {} | {} | {} |",
            r.content,
            r.encoding,
            ratio(percentile(o, 50) as f64, percentile(x, 50) as f64),
            ratio(percentile(o, 99) as f64, percentile(x, 99) as f64),
            spread(o, bytes),
            spread(x, bytes),
        )
        .unwrap();
    }
    for r in rows {
        let (x, o) = (&r.xvnc.cpu, &r.ours.cpu);
        writeln!(
            w,
            "| CPU per update | {} | {} | {} | {} | {} | {} |",
            r.content,
            r.encoding,
            ratio_d(percentile(o, 50), percentile(x, 50)),
            ratio_d(percentile(o, 99), percentile(x, 99)),
            spread(o, ms),
            spread(x, ms),
        )
        .unwrap();
    }
    let (xi, oi) = idle;
    writeln!(w, "| idle screen, update bytes (goal 0) | photo, still | ZRLE | {} B / {} B | | | |", oi.bytes, xi.bytes)
        .unwrap();
    writeln!(
        w,
        "| idle screen, CPU per second, still for over 1 s | photo, still | ZRLE | {} | | {:.1} ms/s | {:.1} ms/s |",
        ratio(oi.cpu, xi.cpu),
        oi.cpu * 1e3,
        xi.cpu * 1e3
    )
    .unwrap();
    writeln!(
        w,
        "| idle screen, CPU per second, first second after connecting | photo, still | ZRLE | {} | | {:.1} ms/s | {:.1} ms/s |",
        ratio(oi.first_cpu, xi.first_cpu),
        oi.first_cpu * 1e3,
        xi.first_cpu * 1e3
    )
    .unwrap();
    for m in memory {
        writeln!(
            w,
            "| server VmRSS, {} session(s) | 1920x1080, still | ZRLE | {} | | {} | {} |",
            m.sessions,
            ratio(m.ours.rss as f64, m.xvnc.rss as f64),
            kib_mem(m.ours.rss),
            kib_mem(m.xvnc.rss),
        )
        .unwrap();
    }
    writeln!(
        w,
        "\nCPU: ours is the server thread, Xvnc its whole process (see the notes). Idle CPU: ours is the server thread and the capture threads reading the framebuffer; Xvnc its process. Memory: see below.\n"
    )
    .unwrap();
}

/// The memory table.
pub(crate) fn memory_table(w: &mut String, memory: &[rss::RssRow], real: &[(usize, rss::Mem, rss::Mem)]) {
    if memory.is_empty() {
        return;
    }
    writeln!(w, "\n### Server memory at 1920x1080 (still screen; ZRLE clients, {} full-screen updates each)\n", 3)
        .unwrap();
    writeln!(
        w,
        "| sessions | Xvnc VmRSS before / with | ours VmRSS before / with | VmRSS ratio | Xvnc VmHWM | ours VmHWM | VmHWM ratio |"
    )
    .unwrap();
    writeln!(w, "|---|---|---|---|---|---|---|").unwrap();
    for m in memory {
        writeln!(
            w,
            "| {} | {} / {} | {} / {} | {} | {} | {} | {} |",
            m.sessions,
            kib_mem(m.xvnc_idle.rss),
            kib_mem(m.xvnc.rss),
            kib_mem(m.ours_idle.rss),
            kib_mem(m.ours.rss),
            ratio(m.ours.rss as f64, m.xvnc.rss as f64),
            kib_mem(m.xvnc.hwm),
            kib_mem(m.ours.hwm),
            ratio(m.ours.hwm as f64, m.xvnc.hwm as f64),
        )
        .unwrap();
    }
    if let (Some(one), Some(ten)) = (memory.iter().find(|m| m.sessions == 1), memory.iter().find(|m| m.sessions == 10))
    {
        let per = |a: u64, b: u64| kib_mem(b.saturating_sub(a) / 9);
        writeln!(
            w,
            "\nPer extra session (VmRSS, 10 sessions minus 1, over 9): ours {}, Xvnc {}; one 1920x1080 frame is 7.9 MiB.",
            per(one.ours.rss, ten.ours.rss),
            per(one.xvnc.rss, ten.xvnc.rss)
        )
        .unwrap();
    }
    writeln!(
        w,
        "Ours: this benchmark's executable started again as a server process (ScreenHub + serve_rfb per TCP connection, two worker threads, as in cvm-consoled but without TLS and the console) over the frame Xvnc shows; a fresh process per session count. Xvnc: the whole X server (its framebuffer included), the same process for both counts."
    )
    .unwrap();
    if !real.is_empty() {
        writeln!(
            w,
            "\nThe real `cvm-consoled` (release binary, `--display pattern:1920x1080`, an animated screen, so not the same content; sessions attested over TLS with the client's own `connect`, ZRLE, {} full-screen updates each): no peer, absolute figures.\n",
            3
        )
        .unwrap();
        writeln!(w, "| sessions | VmRSS before / with | VmHWM |").unwrap();
        writeln!(w, "|---|---|---|").unwrap();
        for (n, before, with) in real {
            writeln!(w, "| {n} | {} / {} | {} |", kib_mem(before.rss), kib_mem(with.rss), kib_mem(with.hwm)).unwrap();
        }
    }
}
