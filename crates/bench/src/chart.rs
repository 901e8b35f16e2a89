//! `chart`: a hand-written SVG line chart of run reports at different sizes: x = opportunities
//! (log scale), y = p95 latency in ms (or requests/s), one line per scenario.

use std::fmt::Write;

use serde_json::Value;

const COLORS: [&str; 12] =
    ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d", "#7c3aed", "#0f766e"];

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    P95,
    Rps,
}

/// One line: (scenario, backend) and its (opportunities, value) points.
type Line = ((String, String), Vec<(f64, f64)>);

/// Points per line, in the order scenarios first appear, grouped by backend.
pub fn series(reports: &[Value], metric: Metric) -> Result<Vec<Line>, String> {
    let mut lines: Vec<Line> = Vec::new();
    for report in reports {
        let x = report["opportunities"].as_f64().ok_or("a report has no `opportunities`")?;
        let backend = report["backend"].as_str().unwrap_or("?").to_owned();
        for scenario in report["scenarios"].as_array().ok_or("a report has no `scenarios`")? {
            let key = (scenario["name"].as_str().unwrap_or("?").to_owned(), backend.clone());
            let field = if metric == Metric::P95 { "p95_ms" } else { "rps" };
            let Some(y) = scenario["http"][field].as_f64().filter(|y| *y > 0.0) else { continue };
            match lines.iter_mut().find(|(k, _)| *k == key) {
                Some((_, points)) => points.push((x, y)),
                None => lines.push((key, vec![(x, y)])),
            }
        }
    }
    lines.sort_by_key(|((_, backend), _)| backend.clone());
    for (_, points) in &mut lines {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    Ok(lines)
}

/// The chart. `log_y`: a logarithmic latency axis, on which a line's slope against the log
/// x axis is its growth order (flat: constant; parallel to the diagonal: linear).
pub fn svg(reports: &[Value], metric: Metric, log_y: bool) -> Result<String, String> {
    let lines = series(reports, metric)?;
    if lines.is_empty() {
        return Err("nothing to draw".into());
    }
    let (width, height) = (1000.0, 580.0);
    let (left, right, top, bottom) = (80.0, 270.0, 60.0, 70.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;

    let points = || lines.iter().flat_map(|(_, p)| p.iter().copied());
    let (x_lo, x_hi) = decades(points().map(|p| p.0));
    let px = |x: f64| left + (x.log10() - x_lo) / (x_hi - x_lo) * plot_w;
    let (y_lo, y_hi) = if log_y { decades(points().map(|p| p.1)) } else { (0.0, nice(points().map(|p| p.1).fold(0.0, f64::max) * 1.05)) };
    let py = |y: f64| {
        let t = if log_y { (y.log10() - y_lo) / (y_hi - y_lo) } else { y / y_hi };
        top + plot_h - t * plot_h
    };

    let mut backends: Vec<&str> = lines.iter().map(|((_, b), _)| b.as_str()).collect();
    backends.dedup();
    let mut scenarios: Vec<&str> = Vec::new();
    for ((name, _), _) in &lines {
        if !scenarios.contains(&name.as_str()) {
            scenarios.push(name);
        }
    }
    let connections = reports.first().and_then(|r| r["connections"].as_u64()).unwrap_or(0);
    let (title, y_label) = match metric {
        Metric::P95 => ("p95 latency as the organization grows", "p95 latency (ms)"),
        Metric::Rps => ("Throughput as the organization grows", "requests per second"),
    };
    let y_label = if log_y { format!("{y_label}, log scale") } else { y_label.to_owned() };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="30" font-size="18" font-weight="600">{title} ({}, {connections} connections, over HTTP)</text>"#,
        escape(&backends.join(" vs "))
    );
    // y grid and ticks.
    let y_ticks: Vec<f64> = if log_y {
        (y_lo as i32..=y_hi as i32).map(|k| 10f64.powi(k)).collect()
    } else {
        (0..=5).map(|i| y_hi * f64::from(i) / 5.0).collect()
    };
    for y in &y_ticks {
        let label = if log_y { label(*y) } else { tick_label(*y, y_hi / 5.0) };
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{y1:.1}" y2="{y1:.1}" stroke="#e5e7eb"/><text x="{}" y="{:.1}" text-anchor="end" fill="#374151">{label}</text>"##,
            left + plot_w,
            left - 8.0,
            py(*y) + 4.0,
            y1 = py(*y),
        );
    }
    if log_y {
        for k in y_lo as i32..y_hi as i32 {
            for m in 2..10 {
                let ym = py(f64::from(m) * 10f64.powi(k));
                let _ = writeln!(s, r##"<line x1="{}" x2="{left}" y1="{ym:.1}" y2="{ym:.1}" stroke="#9ca3af"/>"##, left - 4.0);
            }
        }
    }
    // x grid and ticks at powers of ten, minor ticks between.
    for k in x_lo as i32..=x_hi as i32 {
        let x = px(10f64.powi(k));
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{}" stroke="#e5e7eb"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#374151">{}</text>"##,
            top + plot_h,
            top + plot_h + 20.0,
            count_label(10f64.powi(k))
        );
        if k < x_hi as i32 {
            for m in 2..10 {
                let xm = px(f64::from(m) * 10f64.powi(k));
                let _ = writeln!(
                    s,
                    r##"<line x1="{xm:.1}" x2="{xm:.1}" y1="{}" y2="{}" stroke="#9ca3af"/>"##,
                    top + plot_h,
                    top + plot_h + 4.0
                );
            }
        }
    }
    let _ = writeln!(s, r##"<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#6b7280"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#111827">opportunities in the measured organization (log scale)</text>"##,
        left + plot_w / 2.0,
        height - 20.0
    );
    let _ = writeln!(
        s,
        r##"<text transform="translate(22 {:.1}) rotate(-90)" text-anchor="middle" fill="#111827">{y_label}</text>"##,
        top + plot_h / 2.0
    );
    // One colour per scenario, one dash pattern per backend.
    const DASHES: [&str; 3] = ["", r#" stroke-dasharray="7 4""#, r#" stroke-dasharray="2 3""#];
    for (i, ((name, backend), points)) in lines.iter().enumerate() {
        let color = COLORS[scenarios.iter().position(|s| s == name).unwrap_or(0) % COLORS.len()];
        let dash = DASHES[backends.iter().position(|b| b == backend).unwrap_or(0) % DASHES.len()];
        let label = if backends.len() > 1 { format!("{name} ({backend})") } else { name.clone() };
        let path: Vec<String> = points.iter().map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y))).collect();
        let _ = writeln!(s, r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"/>"#, path.join(" "));
        for (x, y) in points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{color}"><title>{}: {} at {}</title></circle>"#,
                px(*x),
                py(*y),
                escape(&label),
                label_value(*y, metric),
                count_label(*x)
            );
        }
        let ly = top + 8.0 + i as f64 * 20.0;
        let lx = left + plot_w + 20.0;
        let _ = writeln!(
            s,
            r##"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="3"{dash}/><text x="{}" y="{}" fill="#111827">{}</text>"##,
            lx + 28.0,
            lx + 36.0,
            ly + 4.0,
            escape(&label)
        );
    }
    s.push_str("</svg>\n");
    Ok(s)
}

/// The decades (powers of ten) that enclose the positive values, at least one apart.
fn decades(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| *v > 0.0) {
        lo = lo.min(v.log10().floor());
        hi = hi.max(v.log10().ceil());
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi <= lo { (lo, lo + 1.0) } else { (lo, hi) }
}

fn label_value(y: f64, metric: Metric) -> String {
    match metric {
        Metric::P95 => format!("{} ms", label(y)),
        Metric::Rps => format!("{y:.0} req/s"),
    }
}

/// The smallest 1, 2 or 5 × 10^k at or above `x`.
fn nice(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|v| *v >= x).unwrap_or(10.0 * power)
}

/// A tick value with as many decimals as the step between ticks needs.
fn tick_label(y: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10().floor()) as usize };
    format!("{y:.decimals$}")
}

fn label(y: f64) -> String {
    if y >= 10.0 || y == 0.0 {
        format!("{y:.0}")
    } else if y >= 1.0 {
        trim(y)
    } else {
        let text = format!("{y:.3}");
        text.trim_end_matches('0').to_owned()
    }
}

fn count_label(x: f64) -> String {
    if x >= 1e6 {
        format!("{}M", trim(x / 1e6))
    } else if x >= 1e3 {
        format!("{}k", trim(x / 1e3))
    } else {
        trim(x)
    }
}

fn trim(x: f64) -> String {
    let text = format!("{x:.1}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn draws_one_line_per_scenario_on_a_log_axis() {
        let report = |n: u64, p95: f64| {
            json!({"opportunities": n, "backend": "sqlite", "connections": 32, "scenarios": [
                {"name": "healthz", "http": {"p95_ms": 0.5, "rps": 9000.0}},
                {"name": "stats", "http": {"p95_ms": p95, "rps": 100.0}}]})
        };
        let svg = svg(&[report(10_000, 3.0), report(1_000_000, 40.0), report(100_000, 9.0)], Metric::P95, true).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        for tick in ["10k", "100k", "1M"] {
            assert!(svg.contains(&format!(">{tick}</text>")), "{tick}");
        }
        assert!(svg.contains(">0.1</text>") && svg.contains(">100</text>"), "log y ticks");
        let linear = super::svg(&[report(10_000, 3.0), report(1_000_000, 40.0)], Metric::Rps, false).unwrap();
        assert_eq!(linear.matches("<polyline").count(), 2);
        assert_eq!(nice(43.0), 50.0);
        assert_eq!(count_label(20_000.0), "20k");
    }
}
