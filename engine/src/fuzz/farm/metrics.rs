//! The farm's Prometheus endpoint (`--metrics ADDR`): the statistics of this node and of every
//! node below it, labelled by node, and the findings in this node's crashes folder by kind, in
//! the OpenMetrics text format (which Prometheus reads) encoded by `prometheus-client`, served
//! by a small HTTP listener of its own.
//!
//! Not LibAFL's `PrometheusMonitor`: it exports LibAFL's per-job figures (executions, corpus,
//! objectives) from its own monitor, while the farm's figures (divergences, findings by kind,
//! time per client, other nodes) live in schism's reports, which it cannot read.

use super::monitor::FarmStats;
use super::node::Tree;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry};
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The metrics' content type: OpenMetrics text, which Prometheus scrapes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The largest request read.
const MAX_REQUEST: usize = 8192;

/// Labels of one series.
type Labels = Vec<(String, String)>;

/// What the endpoint shows.
pub(crate) struct View {
    /// The node and what it knows of the nodes below.
    pub tree: Arc<Tree>,
    /// This node's latest statistics.
    pub latest: Arc<Mutex<Option<FarmStats>>>,
    /// This node's crashes folder.
    pub crashes: PathBuf,
}

/// The running endpoint.
pub(crate) struct Endpoint {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Endpoint {
    /// Binds `listen` and serves `view` until stopped.
    pub(crate) fn start(listen: &str, view: View) -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new().name("schism-metrics".to_owned()).spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    answer(stream, &view);
                }
            }
        })?;
        Ok(Endpoint { addr, stop, thread })
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving.
    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the listener's `accept`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = self.thread.join();
    }
}

/// Answers one HTTP request: `GET /metrics` (or `/`) gets the metrics, anything else 404.
fn answer(mut stream: TcpStream, view: &View) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_REQUEST {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    let line = String::from_utf8_lossy(&request);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics" | "/") => ("200 OK", CONTENT_TYPE, render(view)),
        _ => ("404 Not Found", "text/plain; charset=utf-8", "not found: the metrics are at /metrics\n".to_owned()),
    };
    let head = format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let _ = stream.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = stream.write_all(body.as_bytes());
    }
}

/// A float counter (seconds).
type FloatCounter = Counter<f64, AtomicU64>;

/// A float gauge.
type FloatGauge = Gauge<f64, AtomicU64>;

/// A family of metrics `M` by labels, registered under `name`.
fn family<M>(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, M>
where
    Family<Labels, M>: Metric + Clone + Default,
{
    let family = Family::<Labels, M>::default();
    registry.register(name, help, family.clone());
    family
}

fn node(name: &str) -> Labels {
    vec![("node".to_owned(), name.to_owned())]
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The metrics text.
pub(crate) fn render(view: &View) -> String {
    let mut registry = Registry::default();
    let executions = family::<Counter>(&mut registry, "schism_executions", "Inputs executed, each on every client");
    let speed = family::<FloatGauge>(&mut registry, "schism_execs_per_second", "Executions per second since the node's farm started");
    let corpus = family::<Gauge>(&mut registry, "schism_corpus_entries", "Corpus entries (the largest of any job)");
    let features = family::<Gauge>(&mut registry, "schism_features", "Distinct EVM-level features seen (the largest count of any job)");
    let divergences = family::<Counter>(&mut registry, "schism_divergences", "Inputs on which the clients diverged or one failed");
    let filed = family::<Counter>(&mut registry, "schism_filed", "Findings the node's jobs filed (new folders and repeats)");
    let known = family::<Counter>(&mut registry, "schism_known_differences", "Divergent inputs explained by documented known differences");
    let client_seconds = family::<FloatCounter>(&mut registry, "schism_client_seconds", "Seconds each client spent executing cases");
    let client_cases = family::<Counter>(&mut registry, "schism_client_cases", "Cases each client executed");
    let jobs = family::<Gauge>(&mut registry, "schism_jobs", "Fuzzing jobs of the node");
    let age = family::<FloatGauge>(&mut registry, "schism_node_report_age_seconds", "Seconds since the node's statistics arrived here");
    let findings = family::<Gauge>(&mut registry, "schism_findings", "Filed folders in this node's crashes folder, by kind");
    let carried = family::<Counter>(&mut registry, "schism_carried_findings", "Findings of other nodes filed here");
    let parent = family::<Gauge>(&mut registry, "schism_parent_connected", "1 when the node is connected to its parent");
    let children = family::<Gauge>(&mut registry, "schism_children", "Child nodes connected to this node");
    let sent = family::<Counter>(&mut registry, "schism_link_sent", "New corpus entries of this node's jobs sent to its neighbour nodes");
    let received = family::<Counter>(&mut registry, "schism_link_received", "Corpus entries from other nodes passed to this node's jobs");
    let dropped =
        family::<Counter>(&mut registry, "schism_uplink_dropped_frames", "Corpus entries dropped while the parent was away too long");

    let mut nodes: Vec<(String, FarmStats, f64)> = Vec::new();
    if let Some(stats) = view.latest.lock().ok().and_then(|l| l.clone()) {
        nodes.push((view.tree.name.clone(), stats, 0.0));
    }
    if let Ok(below) = view.tree.below.lock() {
        let now = Instant::now();
        nodes.extend(below.iter().map(|(name, (stats, at))| (name.clone(), stats.clone(), now.duration_since(*at).as_secs_f64())));
    }
    for (name, stats, seconds) in &nodes {
        let labels = node(name);
        executions.get_or_create(&labels).inc_by(stats.executions);
        speed.get_or_create(&labels).set(stats.execs_per_sec);
        corpus.get_or_create(&labels).set(gauge_value(stats.corpus));
        features.get_or_create(&labels).set(gauge_value(stats.features));
        divergences.get_or_create(&labels).inc_by(stats.divergences);
        filed.get_or_create(&labels).inc_by(stats.filed);
        known.get_or_create(&labels).inc_by(stats.known);
        jobs.get_or_create(&labels).set(gauge_value(stats.jobs as u64));
        age.get_or_create(&labels).set(*seconds);
        for (client, time) in &stats.per_client {
            let labels = vec![("node".to_owned(), name.clone()), ("client".to_owned(), client.clone())];
            client_seconds.get_or_create(&labels).inc_by(time.seconds);
            client_cases.get_or_create(&labels).inc_by(time.cases);
        }
    }
    let here = node(&view.tree.name);
    for (kind, count) in findings_by_kind(&view.crashes) {
        findings.get_or_create(&vec![("node".to_owned(), view.tree.name.clone()), ("kind".to_owned(), kind)]).set(gauge_value(count));
    }
    carried.get_or_create(&here).inc_by(view.tree.carried.load(Ordering::Relaxed));
    if view.tree.networked() {
        sent.get_or_create(&here).inc_by(view.tree.sent.load(Ordering::Relaxed));
        received.get_or_create(&here).inc_by(view.tree.received.load(Ordering::Relaxed));
    }
    if let Some(uplink) = &view.tree.uplink {
        parent.get_or_create(&here).set(i64::from(uplink.connected()));
        dropped.get_or_create(&here).inc_by(uplink.dropped());
    }
    if let Some(downlink) = &view.tree.downlink {
        children.get_or_create(&here).set(gauge_value(downlink.children() as u64));
    }
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut text, &registry);
    text
}

/// Filed folders in a crashes folder, by the `kind` of their `report.json`.
fn findings_by_kind(crashes: &Path) -> BTreeMap<String, u64> {
    let mut kinds = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(crashes) else { return kinds };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(text) = std::fs::read(entry.path().join("report.json")) else { continue };
        let Ok(report) = serde_json::from_slice::<serde_json::Value>(&text) else { continue };
        let kind = report.get("kind").and_then(|k| k.as_str()).unwrap_or("unknown").to_owned();
        *kinds.entry(kind).or_insert(0) += 1;
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::farm::ClientTime;
    use crate::fuzz::farm::node::NodeOptions;

    #[test]
    fn the_metrics_name_every_node_and_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("abc")).expect("mkdir");
        std::fs::write(dir.path().join("abc/report.json"), r#"{"kind":"divergence"}"#).expect("write");
        let tree = Arc::new(Tree::start(&NodeOptions { name: "root".into(), ..NodeOptions::default() }).expect("tree"));
        let leaf = FarmStats { executions: 5, ..FarmStats::default() };
        tree.below.lock().expect("lock").insert("leaf".into(), (leaf, Instant::now()));
        let mut stats = FarmStats { executions: 10, execs_per_sec: 2.5, ..FarmStats::default() };
        stats.per_client.insert("revm".into(), ClientTime { cases: 10, seconds: 1.5 });
        let view = View { tree, latest: Arc::new(Mutex::new(Some(stats))), crashes: dir.path().to_path_buf() };
        let text = render(&view);
        assert!(text.contains("schism_executions_total{node=\"root\"} 10"), "{text}");
        assert!(text.contains("schism_executions_total{node=\"leaf\"} 5"), "{text}");
        assert!(text.contains("schism_execs_per_second{node=\"root\"} 2.5"), "{text}");
        assert!(text.contains("schism_client_seconds_total{node=\"root\",client=\"revm\"} 1.5"), "{text}");
        assert!(text.contains("schism_findings{node=\"root\",kind=\"divergence\"} 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
