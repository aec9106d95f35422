//! The farm's statistics over time, drawn on the server as inline SVG charts from the history
//! the farm appends to (`<crashes>/.history.jsonl`).

use super::pages::esc;
use crate::fuzz::farm::HistoryPoint;
use plotters::prelude::*;
use std::fmt::Write as _;

/// Most points drawn per chart: a long history is thinned to this many.
const MAX_POINTS: usize = 600;

/// One series to chart: a name and (seconds since the first point, value) pairs.
struct Series {
    title: &'static str,
    unit: &'static str,
    points: Vec<(f64, f64)>,
}

/// The statistics page's body: the latest figures and one chart per series (execs/s, corpus,
/// features, findings filed and divergent inputs).
pub fn stats(history: &[HistoryPoint], source: &str) -> String {
    if history.is_empty() {
        return format!(
            "<h1>Statistics</h1><p>No history yet: a farm appends a line every 10 seconds to <code>{}</code> while it runs.</p>",
            esc(source)
        );
    }
    let step = history.len().div_ceil(MAX_POINTS).max(1);
    let start = history[0].time;
    let x = |p: &HistoryPoint| (p.time.saturating_sub(start)) as f64;
    let thinned: Vec<&HistoryPoint> =
        history.iter().enumerate().filter(|(i, _)| i % step == 0 || *i == history.len() - 1).map(|(_, p)| p).collect();
    // Speed over each interval of one run (a new run restarts the counters).
    let mut speed = Vec::new();
    for pair in thinned.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.run == b.run && b.elapsed_s > a.elapsed_s {
            speed.push((x(b), b.executions.saturating_sub(a.executions) as f64 / (b.elapsed_s - a.elapsed_s)));
        }
    }
    let series = [
        Series { title: "executions per second", unit: "exec/s", points: speed },
        Series { title: "corpus entries", unit: "entries", points: thinned.iter().map(|p| (x(p), p.corpus as f64)).collect() },
        Series { title: "features", unit: "features", points: thinned.iter().map(|p| (x(p), p.features as f64)).collect() },
        Series { title: "findings filed", unit: "findings", points: thinned.iter().map(|p| (x(p), p.filed as f64)).collect() },
        Series { title: "divergent inputs", unit: "inputs", points: thinned.iter().map(|p| (x(p), p.divergences as f64)).collect() },
    ];
    let last = &history[history.len() - 1];
    let runs = {
        let mut runs: Vec<u64> = history.iter().map(|p| p.run).collect();
        runs.dedup();
        runs.len()
    };
    let mut html = format!(
        "<h1>Statistics</h1><p>{} points from {} farm run{} in <code>{}</code>, from {} to {}. Latest: {} executions, {:.0} exec/s, \
         corpus {}, features {}, {} divergent inputs, {} findings filed.</p>",
        history.len(),
        runs,
        if runs == 1 { "" } else { "s" },
        esc(source),
        rfc3339(start),
        rfc3339(last.time),
        last.executions,
        last.execs_per_sec,
        last.corpus,
        last.features,
        last.divergences,
        last.filed,
    );
    for s in &series {
        let _ = write!(html, "<h2>{}</h2>", esc(s.title));
        match chart(s) {
            Ok(svg) => html.push_str(&svg),
            Err(e) => {
                let _ = write!(html, "<p class=\"muted\">cannot draw: {}</p>", esc(&e));
            }
        }
    }
    html
}

fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix)).to_string()
}

/// One line chart as an SVG element.
fn chart(series: &Series) -> Result<String, String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let x_max = series.points.iter().map(|p| p.0).fold(1.0f64, f64::max);
    let y_max = series.points.iter().map(|p| p.1).fold(1.0f64, f64::max) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 220)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .x_desc("time since the first point")
            .x_label_formatter(&|s: &f64| duration_label(*s))
            .y_desc(series.unit)
            .y_label_formatter(&|v: &f64| if *v >= 10_000.0 { format!("{:.0}k", v / 1000.0) } else { format!("{v:.0}") })
            .draw()
            .map_err(|e| fail(&e))?;
        chart.draw_series(std::iter::once(PathElement::new(series.points.clone(), BLUE.stroke_width(2)))).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(svg)
}

/// `45s`, `12m`, `3.5h`, `2.0d`.
fn duration_label(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("{s:.0}s"),
        s if s < 7200.0 => format!("{:.0}m", s / 60.0),
        s if s < 172_800.0 => format!("{:.1}h", s / 3600.0),
        s => format!("{:.1}d", s / 86_400.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_draws_one_chart_per_series() {
        let history: Vec<HistoryPoint> = (0..5)
            .map(|i| HistoryPoint {
                time: 1_000 + i * 10,
                run: 1,
                elapsed_s: (i * 10) as f64,
                executions: i * 500,
                corpus: i,
                ..Default::default()
            })
            .collect();
        let html = stats(&history, ".history.jsonl");
        assert_eq!(html.matches("<svg").count(), 5, "{html}");
        assert!(html.contains("executions per second") && html.contains("5 points from 1 farm run "), "{html}");
        assert!(stats(&[], "x").contains("No history yet"));
    }
}
