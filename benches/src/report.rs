//! Reporting: Markdown tables, the target ratios, JSON, and an SVG chart.

use std::fmt::Write as _;

use crate::run::{Row, Sizes, Stat, Workload, fmt_num, metrics, stat};

/// The results of one workload.
pub struct WorkloadReport {
    /// Which workload.
    pub workload: Workload,
    /// Its size, in words.
    pub description: String,
    /// One row per subject.
    pub rows: Vec<Row>,
}

fn fmt_stat(s: Option<Stat>, repeats: usize) -> String {
    match s {
        None => "—".into(),
        Some(s) if repeats > 1 => s.to_string(),
        Some(s) => fmt_num(s.median),
    }
}

/// The Markdown table of one workload.
pub fn table(r: &WorkloadReport, repeats: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### {} — {}\n\nmedian (min–max) of {repeats} run(s)\n",
        r.workload.name(),
        r.description
    );
    let ms = metrics(r.workload);
    let mut header = String::from("| subject |");
    let mut rule = String::from("|---|");
    for (name, unit) in ms {
        let _ = write!(
            header,
            " {name}{} |",
            if unit.is_empty() {
                String::new()
            } else {
                format!(" ({unit})")
            }
        );
        rule.push_str("---|");
    }
    header.push_str(" peak RSS (MiB) |");
    rule.push_str("---|");
    let _ = writeln!(out, "{header}\n{rule}");
    for row in &r.rows {
        let name = format!("{}{}", row.subject, if row.thread_safe { "" } else { " ¹" });
        if let Some(reason) = row.skip {
            let _ = writeln!(
                out,
                "| {name} | skipped: {reason} |{}",
                " |".repeat(ms.len())
            );
            continue;
        }
        let mut line = format!("| {name} |");
        for samples in &row.samples {
            let _ = write!(line, " {} |", fmt_stat(stat(samples), repeats));
        }
        let rss: Vec<_> = row.peak_rss.iter().map(|&v| Some(v)).collect();
        let _ = write!(line, " {} |", fmt_stat(stat(&rss), repeats));
        if !row.failures.is_empty() {
            let _ = write!(line, " **FAILED: {}**", row.failures.join("; "));
        }
        let _ = writeln!(out, "{line}");
    }
    out.push_str("\n¹ single-threaded: handles cannot be shared between threads.\n");
    out
}

/// Median of metric `m` for `subject`, if it ran.
fn median(r: &WorkloadReport, subject: &str, m: usize) -> Option<f64> {
    let row = r.rows.iter().find(|row| row.subject == subject)?;
    if row.skip.is_some() || !row.failures.is_empty() {
        return None;
    }
    stat(&row.samples[m]).map(|s| s.median)
}

/// The best (lowest) median of metric `m` among the peers (not ftgc, not the no-GC floors) that
/// are, or are not, thread-safe.
fn best_peer(r: &WorkloadReport, m: usize, thread_safe: bool) -> Option<(&'static str, f64)> {
    r.rows
        .iter()
        .filter(|row| {
            row.thread_safe == thread_safe
                && !row.subject.starts_with("ftgc")
                && !matches!(row.subject, "Box" | "Rc" | "Arc")
        })
        .filter_map(|row| median(r, row.subject, m).map(|v| (row.subject, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// The targets, as ratios measured in this run.
pub fn targets(reports: &[WorkloadReport]) -> String {
    let mut out =
        String::from("### Targets (ratios within this run; lower is better for ftgc)\n\n");
    let find = |w| reports.iter().find(|r| r.workload == w);
    for (w, m, what) in [
        (Workload::Tree, 2, "tree: live collect ns/object"),
        (Workload::Rings, 2, "rings: collect ns/object"),
    ] {
        let Some(r) = find(w) else { continue };
        // The same peers for both ftgc rows; one line each for a kind of peer that did not run.
        let peers = [
            (true, 0.5, "best thread-safe peer"),
            (false, 1.0, "best single-threaded peer"),
        ]
        .map(|(ts, bound, kind)| (best_peer(r, m, ts), bound, kind));
        for (_, _, kind) in peers.iter().filter(|p| p.0.is_none()) {
            let _ = writeln!(out, "- {what}: no {kind} ran");
        }
        for name in ["ftgc", "ftgc+root"] {
            let Some(ours) = median(r, name, m) else {
                continue;
            };
            for (best, bound, kind) in &peers {
                let Some((peer, v)) = best else { continue };
                let ratio = ours / v;
                let _ = writeln!(
                    out,
                    "- {what}: {name} {} vs {kind} ({peer}) {} = **{ratio:.2}×** (target ≤ {bound}×: {})",
                    fmt_num(ours),
                    fmt_num(*v),
                    if ratio <= *bound { "met" } else { "missed" }
                );
            }
        }
    }
    if let Some(r) = find(Workload::Churn) {
        if let (Some(ours), Some(arc)) = (median(r, "ftgc", 1), median(r, "Arc", 1)) {
            let ratio = ours / arc;
            let _ = writeln!(
                out,
                "- churn: ftgc {} ns vs Arc {} ns = **{ratio:.2}×** (target ≤ 1.3×: {})",
                fmt_num(ours),
                fmt_num(arc),
                if ratio <= 1.3 { "met" } else { "missed" }
            );
        }
    }
    out
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_stat(s: Option<Stat>) -> String {
    match s {
        None => "null".into(),
        Some(s) => format!(
            "{{\"median\": {}, \"min\": {}, \"max\": {}}}",
            s.median, s.min, s.max
        ),
    }
}

/// All results as JSON.
pub fn json(reports: &[WorkloadReport], sizes: &Sizes, repeats: usize) -> String {
    let mut out = format!(
        "{{\n  \"repeats\": {repeats},\n  \"sizes\": {},\n  \"workloads\": [\n",
        json_str(&format!("{sizes:?}"))
    );
    for (i, r) in reports.iter().enumerate() {
        let _ = writeln!(
            out,
            "    {{\"name\": {}, \"description\": {}, \"rows\": [",
            json_str(r.workload.name()),
            json_str(&r.description)
        );
        for (j, row) in r.rows.iter().enumerate() {
            let mut metrics_json = Vec::new();
            for ((name, unit), samples) in metrics(r.workload).iter().zip(&row.samples) {
                metrics_json.push(format!(
                    "{}: {}",
                    json_str(&format!("{name} ({unit})")),
                    json_stat(stat(samples))
                ));
            }
            let rss: Vec<_> = row.peak_rss.iter().map(|&v| Some(v)).collect();
            let _ = writeln!(
                out,
                "      {{\"subject\": {}, \"thread_safe\": {}, \"skip\": {}, \"failures\": [{}], \"metrics\": {{{}}}, \"peak_rss_mib\": {}}}{}",
                json_str(row.subject),
                row.thread_safe,
                row.skip.map_or("null".into(), json_str),
                row.failures
                    .iter()
                    .map(|f| json_str(f))
                    .collect::<Vec<_>>()
                    .join(", "),
                metrics_json.join(", "),
                json_stat(stat(&rss)),
                if j + 1 < r.rows.len() { "," } else { "" }
            );
        }
        let _ = writeln!(
            out,
            "    ]}}{}",
            if i + 1 < reports.len() { "," } else { "" }
        );
    }
    out.push_str("  ]\n}\n");
    out
}

/// A grouped bar chart (log scale) of nanoseconds per object, by workload and subject.
pub fn svg(reports: &[WorkloadReport]) -> String {
    // (workload, metric index, label) of the per-object metrics.
    let panels: Vec<(&WorkloadReport, usize, &str)> = reports
        .iter()
        .flat_map(|r| {
            let picks: &[(usize, &str)] = match r.workload {
                Workload::Tree => &[(2, "tree: live collect"), (5, "tree: garbage collect")],
                Workload::Rings => &[(2, "rings: collect")],
                Workload::Churn => &[(1, "churn: alloc+drop")],
                Workload::BTree => &[(3, "btree: live collect")],
                Workload::BigLists => &[(3, "biglists: live collect")],
                Workload::Threads => &[],
            };
            picks.iter().map(move |&(m, label)| (r, m, label))
        })
        .collect();
    let mut subjects: Vec<&str> = Vec::new();
    for r in reports {
        for row in &r.rows {
            if !subjects.contains(&row.subject) {
                subjects.push(row.subject);
            }
        }
    }
    let colors = [
        "#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf", "#aec7e8",
    ];
    let (w, h, left, top, bottom) = (1100.0, 520.0, 70.0, 40.0, 110.0);
    let plot_h = h - top - bottom;
    let values: Vec<f64> = panels
        .iter()
        .flat_map(|(r, m, _)| subjects.iter().filter_map(|s| median(r, s, *m)))
        .filter(|v| *v > 0.0)
        .collect();
    let lo = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .max(0.1)
        .log10()
        .floor();
    let hi = values
        .iter()
        .copied()
        .fold(1.0, f64::max)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let y = |v: f64| top + plot_h * (1.0 - (v.log10() - lo) / (hi - lo));
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{left}\" y=\"22\" font-size=\"15\">ns per object (log scale), median — lower is better</text>\n"
    );
    for e in (lo as i32)..=(hi as i32) {
        let v = 10f64.powi(e);
        let yy = y(v);
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            w - 20.0,
            left - 6.0,
            yy + 4.0,
            fmt_num(v)
        );
    }
    let group_w = (w - left - 20.0) / panels.len().max(1) as f64;
    let bar_w = (group_w - 16.0) / subjects.len().max(1) as f64;
    for (g, (r, m, label)) in panels.iter().enumerate() {
        let gx = left + g as f64 * group_w + 8.0;
        for (i, s) in subjects.iter().enumerate() {
            if let Some(v) = median(r, s, *m).filter(|v| *v > 0.0) {
                let x = gx + i as f64 * bar_w;
                let yy = y(v);
                let _ = writeln!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{s}: {} ns</title></rect>",
                    bar_w - 1.0,
                    top + plot_h - yy,
                    colors[i % colors.len()],
                    fmt_num(v)
                );
            }
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            gx + group_w / 2.0 - 8.0,
            top + plot_h + 18.0
        );
    }
    for (i, s) in subjects.iter().enumerate() {
        let x = left + (i % 5) as f64 * 190.0;
        let yy = h - 50.0 + (i / 5) as f64 * 20.0;
        let _ = writeln!(
            out,
            "<rect x=\"{x}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{yy:.1}\">{s}</text>",
            yy - 10.0,
            colors[i % colors.len()],
            x + 18.0
        );
    }
    out.push_str("</svg>\n");
    out
}
