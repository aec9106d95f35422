//! A farm of two nodes on loopback, as a user runs them (`schism fuzz --node-listen` and
//! `--parent`, each with `--metrics`): the root's endpoint is scraped while they run and its
//! text parsed as Prometheus reads it; whatever the leaf files reaches the root's crashes
//! folder, naming the leaf.

use crate::util::{exclusive, schism, scratch};
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// One sample of the text format: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the Prometheus/OpenMetrics text format strictly enough to catch a malformed line:
/// every sample belongs to a family declared by `# TYPE`, labels are `name="value"` pairs, values
/// are numbers, and the text ends with `# EOF`.
fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut families: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    let mut ended = false;
    for line in text.lines() {
        if ended {
            return Err(format!("text after # EOF: {line}"));
        }
        if line == "# EOF" {
            ended = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else { return Err(format!("bad TYPE: {line}")) };
            if !["counter", "gauge", "histogram", "summary", "info", "unknown"].contains(&kind) {
                return Err(format!("bad type {kind}"));
            }
            families.push(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or_else(|| format!("no value: {line}"))?;
        let value: f64 = value.parse().map_err(|_| format!("bad value: {line}"))?;
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').ok_or_else(|| format!("bad labels: {line}"))?;
                let mut labels = BTreeMap::new();
                for pair in body.split(',').filter(|p| !p.is_empty()) {
                    let (key, quoted) = pair.split_once('=').ok_or_else(|| format!("bad label: {line}"))?;
                    let value =
                        quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).ok_or_else(|| format!("unquoted label: {line}"))?;
                    labels.insert(key.to_owned(), value.to_owned());
                }
                (name, labels)
            }
            None => (series, BTreeMap::new()),
        };
        let family = name.strip_suffix("_total").unwrap_or(name);
        if !families.iter().any(|f| f == family || f == name) {
            return Err(format!("sample of an undeclared family: {line}"));
        }
        samples.push((name.to_owned(), labels, value));
    }
    if !ended {
        return Err("no # EOF".to_owned());
    }
    Ok(samples)
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).expect("a free port").port()
}

/// `GET /metrics`; `None` while nothing listens.
fn scrape(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("application/openmetrics-text"), "{head}");
    Some(body.to_owned())
}

fn value(samples: &[Sample], name: &str, node: &str) -> Option<f64> {
    samples.iter().find(|(n, labels, _)| n == name && labels.get("node").map(String::as_str) == Some(node)).map(|s| s.2)
}

fn farm(dir: &Path, name: &str, args: &[&str]) -> Child {
    schism()
        .args(["fuzz", "--jobs", "1", "--no-minimize", "--node-name", name])
        .arg("--corpus")
        .arg(dir.join(name).join("corpus"))
        .arg("--crashes")
        .arg(dir.join(name).join("crashes"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("schism fuzz starts")
}

fn folders(crashes: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(crashes)
        .map(|d| {
            d.flatten().filter(|e| e.path().join("report.json").is_file()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn two_nodes_share_a_farm_and_the_root_serves_metrics_for_both() {
    let _one_at_a_time = exclusive();
    if schism_engine::registry::canary_client("revm~mcopy-overlap").is_none() {
        eprintln!("skipped: this build lacks revm's canaries");
        return;
    }
    let dir = scratch("two-nodes");
    let (node_port, metrics_port) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{node_port}");
    let mut root = farm(
        &dir,
        "root",
        &["--client", "revm", "--duration", "14s", "--node-listen", &listen, "--metrics", &format!("127.0.0.1:{metrics_port}")],
    );
    let mut leaf = farm(&dir, "leaf", &["--client", "revm", "--client", "revm~mcopy-overlap", "--duration", "8s", "--parent", &listen]);

    // Scrape until the root has the leaf's statistics (they travel every two seconds) and its own,
    // and has once counted the leaf as its child. These need not show in one scrape: under load
    // the root's own job may first report after the leaf has finished and gone.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut last, mut saw_child) = (None, None);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        let Some(text) = scrape(metrics_port) else { continue };
        let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        if value(&samples, "schism_children", "root") == Some(1.0) {
            saw_child = Some(text.clone());
        }
        let ran = |node: &str| value(&samples, "schism_executions_total", node).is_some_and(|v| v > 0.0);
        if ran("leaf") && ran("root") {
            last = Some((text, samples));
        }
        if last.is_some() && saw_child.is_some() {
            break;
        }
    }
    let leaf_status = leaf.wait().expect("leaf ends");
    let root_status = root.wait().expect("root ends");
    let (text, samples) = last.expect("the root's metrics never showed the leaf");
    for name in
        ["schism_executions_total", "schism_execs_per_second", "schism_corpus_entries", "schism_features", "schism_divergences_total"]
    {
        assert!(value(&samples, name, "root").is_some(), "{name} of the root missing:\n{text}");
        assert!(value(&samples, name, "leaf").is_some(), "{name} of the leaf missing:\n{text}");
    }
    assert!(value(&samples, "schism_executions_total", "root").is_some_and(|v| v > 0.0), "{text}");
    assert!(
        samples
            .iter()
            .any(|(n, l, _)| n == "schism_client_seconds_total" && l.get("client").map(String::as_str) == Some("revm~mcopy-overlap")),
        "{text}"
    );
    assert!(saw_child.is_some(), "the root never counted the leaf as its child:\n{text}");
    // Exit 0 or 1 (a divergence); never a usage error or a crash.
    assert!(matches!(leaf_status.code(), Some(0 | 1)) && matches!(root_status.code(), Some(0 | 1)), "{leaf_status:?} {root_status:?}");

    // Whatever the leaf filed is at the root, naming the leaf (the canary is found in about a
    // second, but a miss is a measurement, not a failure of this test).
    let filed = folders(&dir.join("leaf/crashes"));
    let at_root = folders(&dir.join("root/crashes"));
    for name in &filed {
        assert!(at_root.contains(name), "the leaf's {name} is not at the root ({at_root:?})");
        let report = std::fs::read_to_string(dir.join("root/crashes").join(name).join("report.json")).expect("report.json");
        assert!(report.contains("\"nodes\"") && report.contains("\"leaf\""), "{report}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_parser_refuses_malformed_text() {
    assert!(parse("# TYPE a counter\na_total 1\n# EOF\n").is_ok());
    assert!(parse("a_total 1\n# EOF\n").is_err());
    assert!(parse("# TYPE a counter\na_total{x=1} 1\n# EOF\n").is_err());
    assert!(parse("# TYPE a counter\na_total 1\n").is_err());
}
