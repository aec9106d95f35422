//! The benchmark plot: Mgas/s per workload, one bar per client, drawn as SVG.

use super::{BenchError, Row};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Pixels per workload group; wide enough for the longest workload name under its group.
const GROUP_WIDTH: u32 = 150;

/// Draws Mgas/s per workload and client (log scale, since precompile workloads run one to two
/// orders of magnitude below the compute loop) into `path`, which must end in `.svg`.
pub fn write_plot(path: &Path, rows: &[Row]) -> Result<(), BenchError> {
    if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg")) {
        return Err(BenchError::PlotFormat { path: path.to_path_buf() });
    }
    let fail = |e: &dyn std::fmt::Display| BenchError::Plot { path: path.to_path_buf(), detail: e.to_string() };
    let mut workloads: Vec<&str> = Vec::new();
    let mut clients: Vec<&str> = Vec::new();
    for r in rows {
        if !workloads.contains(&r.workload.as_str()) {
            workloads.push(&r.workload);
        }
        if !clients.contains(&r.client.as_str()) {
            clients.push(&r.client);
        }
    }
    let values = rows.iter().map(|r| r.mgas_per_s).filter(|v| *v > 0.0);
    let (min, max) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if max > 0.0 { (10f64.powf(min.log10().floor()), 10f64.powf((max * 1.5).log10().ceil())) } else { (1.0, 10.0) };
    let n = workloads.len().max(1);
    let width = GROUP_WIDTH * u32::try_from(n.max(4)).unwrap_or(u32::MAX / GROUP_WIDTH) + 120;
    // Drawn into memory, then written atomically: no half-drawn plot is left behind.
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption("schism bench: Mgas/s per workload (log scale, higher is faster)", ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (lo..hi).log_scale())
            .map_err(|e| fail(&e))?;
        // Integer x values are the group centres; every other tick gets no label.
        let label = |x: &f64| {
            let i = x.round();
            match workloads.get(i as usize) {
                Some(name) if (x - i).abs() < 1e-6 && i >= 0.0 => (*name).to_owned(),
                _ => String::new(),
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&label)
            .y_label_formatter(&|v: &f64| if *v >= 1.0 { format!("{v:.0}") } else { format!("{v}") })
            .y_desc("Mgas/s")
            .draw()
            .map_err(|e| fail(&e))?;
        let slot = 0.8 / clients.len().max(1) as f64;
        for (k, client) in clients.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            let mine: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.client == *client)
                .filter_map(|r| {
                    let i = workloads.iter().position(|w| *w == r.workload)?;
                    Some((i as f64 - 0.4 + slot * k as f64, r.mgas_per_s.max(lo)))
                })
                .collect();
            chart
                .draw_series(mine.iter().map(|&(x, v)| Rectangle::new([(x, lo), (x + slot * 0.9, v)], color.filled())))
                .map_err(|e| fail(&e))?
                .label(*client)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
            let style = ("sans-serif", 10).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
            chart
                .draw_series(mine.iter().map(|&(x, v)| Text::new(format!("{v:.0}"), (x + slot * 0.45, v), style.clone())))
                .map_err(|e| fail(&e))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    crate::atomic::write(path, svg.as_bytes()).map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(client: &str, workload: &str, mgas_per_s: f64) -> Row {
        Row {
            client: client.to_owned(),
            workload: workload.to_owned(),
            mgas_per_s,
            cases_per_s: 1.0,
            median_s: 0.1,
            min_s: 0.1,
            max_s: 0.1,
            overhead_s: 0.0,
            exec_s: 0.1,
            gas: 1,
            cases: 1,
            repeats: 1,
            version: "0".to_owned(),
        }
    }

    #[test]
    fn draws_one_bar_per_row_and_names_every_client_and_workload() {
        let path = std::env::temp_dir().join(format!("schism-plot-{}.svg", std::process::id()));
        let rows = [row("a", "compute", 500.0), row("b", "compute", 50.0), row("a", "kzg", 5.0)];
        write_plot(&path, &rows).expect("draws");
        let svg = std::fs::read_to_string(&path).expect("written");
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<svg"), "{svg}");
        let texts: Vec<&str> = svg.split("</text>").filter_map(|part| part.rsplit_once('>').map(|(_, text)| text.trim())).collect();
        for text in ["a", "b", "compute", "kzg", "500"] {
            assert!(texts.contains(&text), "plot lacks {text}: {texts:?}");
        }
        assert!(matches!(write_plot(Path::new("x.png"), &rows), Err(BenchError::PlotFormat { .. })));
    }
}
