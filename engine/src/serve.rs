//! `schism serve`: a read-only web view of a crashes folder: an index of findings (sortable,
//! filterable by client and kind), a page per finding, the folder's files, and the farm's
//! statistics over time as charts.
//!
//! Plain HTML rendered on the server (axum on a one-thread tokio runtime); the only script
//! copies a reproduce command. Every file served is resolved by [`files::resolve`], which
//! refuses any path that is not a plain name inside the folder once symlinks are followed.
//!
//! Routes: `/` (index; `?client=&kind=&sort=&desc=1`), `/finding/{signature}`,
//! `/files/{signature}/{path}` (case.json, report.md, traces/...), `/stats`.

pub mod charts;
pub mod files;
pub mod pages;

use crate::fuzz::farm::{HISTORY_FILE, upkeep::read_history};
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use files::Refusal;
use pages::{Files, Row, View};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The address `schism serve` listens on unless told otherwise (loopback only: findings are
/// not for the whole network unless the user says so).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Largest file served (a trace of a long case can be large; the web view is not a download
/// service).
const MAX_FILE: u64 = 64 << 20;

/// The web view could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The folder to serve does not exist or is not a folder.
    #[error("cannot serve {}: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("the web server failed: {0}")]
    Server(std::io::Error),
}

/// What to serve and where.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The crashes folder.
    pub root: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The statistics history to chart (default: the folder's `.history.jsonl`).
    pub history: Option<PathBuf>,
}

/// What every request handler sees.
struct Site {
    /// The folder, canonical.
    root: PathBuf,
    /// The history file.
    history: PathBuf,
}

/// Serves until Ctrl-C. Prints the address once listening (port 0 picks a free port, and the
/// printed address says which).
pub fn serve(options: &ServeOptions) -> Result<(), ServeError> {
    let root = options.root.canonicalize().map_err(|source| ServeError::Folder { path: options.root.clone(), source })?;
    if !root.is_dir() {
        let source = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder");
        return Err(ServeError::Folder { path: options.root.clone(), source });
    }
    let history = options.history.clone().unwrap_or_else(|| root.join(HISTORY_FILE));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().map_err(ServeError::Server)?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(options.listen).await.map_err(|source| ServeError::Listen { addr: options.listen, source })?;
        let addr = listener.local_addr().map_err(ServeError::Server)?;
        println!("serving {} at http://{addr}/ (Ctrl-C stops)", root.display());
        let app = router(Arc::new(Site { root, history }));
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(ServeError::Server)
    })
}

fn router(site: Arc<Site>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/finding/{signature}", get(finding))
        .route("/files/{*path}", get(file))
        .route("/stats", get(stats))
        .fallback(|| async { not_found("no such page") })
        .with_state(site)
}

/// A page, with headers that keep a browser from running anything but the page's own script.
fn html(body: String) -> Response {
    let mut response = Html(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("404: {what}\n")).into_response()
}

fn refused(refusal: &Refusal) -> Response {
    match refusal {
        Refusal::Missing(_) => not_found(&refusal.to_string()),
        _ => (StatusCode::FORBIDDEN, format!("403: {refusal}\n")).into_response(),
    }
}

/// The latest farm figures, for the index's header.
fn latest(site: &Site) -> Option<String> {
    let history = read_history(&site.history);
    let last = history.last()?;
    Some(format!(
        "{} executions, {:.0} exec/s, corpus {}, features {}, {} filed",
        last.executions, last.execs_per_sec, last.corpus, last.features, last.filed
    ))
}

async fn index(State(site): State<Arc<Site>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let rows: Vec<Row> = crate::triage::folder::list(&site.root)
        .into_iter()
        .map(|(dir, report)| Row { case_bytes: std::fs::metadata(dir.join("case.json")).map_or(0, |m| m.len()), report })
        .collect();
    let view = View {
        client: query.get("client").filter(|c| !c.is_empty()).cloned(),
        kind: query.get("kind").filter(|k| !k.is_empty()).cloned(),
        sort: query.get("sort").filter(|s| !s.is_empty()).cloned(),
        desc: query.get("desc").is_some_and(|d| d == "1"),
    };
    html(pages::page("findings", &site.root, &pages::index(&rows, &view, latest(&site).as_deref())))
}

async fn finding(State(site): State<Arc<Site>>, UrlPath(signature): UrlPath<String>) -> Response {
    let folder = match files::resolve(&site.root, &signature) {
        Ok(folder) => folder,
        Err(refusal) => return refused(&refusal),
    };
    let report = match crate::triage::folder::read_report(&folder) {
        Ok(Some(report)) => report,
        Ok(None) => return not_found("not a filed finding (no report.json)"),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("500: {e}\n")).into_response(),
    };
    let markdown = std::fs::read_to_string(folder.join("report.md")).unwrap_or_default();
    let files = folder_files(&site.root, &folder, &signature);
    html(pages::page(&report.signature, &site.root, &pages::finding(&folder, &report, &files, &markdown)))
}

/// The files of a folder that resolve inside the served folder, relative to the folder.
fn folder_files(root: &Path, folder: &Path, signature: &str) -> Files {
    let list = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    };
    let mut files = Files::default();
    for name in list(folder) {
        if name != "traces" && files::resolve(root, &format!("{signature}/{name}")).is_ok_and(|p| p.is_file()) {
            files.top.push(name);
        }
    }
    for name in list(&folder.join("traces")) {
        let rel = format!("traces/{name}");
        if files::resolve(root, &format!("{signature}/{rel}")).is_ok_and(|p| p.is_file()) {
            files.traces.push(rel);
        }
    }
    files
}

async fn file(State(site): State<Arc<Site>>, UrlPath(path): UrlPath<String>) -> Response {
    let resolved = match files::resolve(&site.root, &path) {
        Ok(resolved) => resolved,
        Err(refusal) => return refused(&refusal),
    };
    let meta = match std::fs::metadata(&resolved) {
        Ok(meta) if meta.is_file() => meta,
        _ => return not_found("not a file"),
    };
    if meta.len() > MAX_FILE {
        return (StatusCode::PAYLOAD_TOO_LARGE, format!("413: {} bytes; read it on disk\n", meta.len())).into_response();
    }
    match std::fs::read(&resolved) {
        Ok(bytes) => {
            ([(header::CONTENT_TYPE, files::content_type(&resolved)), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], bytes).into_response()
        }
        Err(_) => not_found("cannot be read"),
    }
}

async fn stats(State(site): State<Arc<Site>>) -> Response {
    let history = read_history(&site.history);
    html(pages::page("statistics", &site.root, &charts::stats(&history, &site.history.display().to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};

    /// A server on a free loopback port over `root`, on a thread of its own.
    fn start(root: &Path) -> SocketAddr {
        let site = Arc::new(Site { root: root.canonicalize().expect("canonical"), history: root.join(HISTORY_FILE) });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("addr")).expect("send");
                let _ = axum::serve(listener, router(site)).await;
            });
        });
        rx.recv().expect("address")
    }

    /// The status line and body of a GET of `target`, sent as written (no normalisation).
    fn get(addr: SocketAddr, target: &str) -> (String, String) {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        write!(stream, "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let status = response.lines().next().unwrap_or_default().to_owned();
        let body = response.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned());
        (status, body)
    }

    #[test]
    fn only_files_inside_the_folder_are_served() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("crashes");
        std::fs::create_dir_all(root.join("sig-1")).expect("mkdir");
        std::fs::write(root.join("sig-1/case.json"), "{\"case\":1}").expect("write");
        std::fs::write(dir.path().join("secret.json"), "the-secret-content").expect("write");
        std::os::unix::fs::symlink(dir.path().join("secret.json"), root.join("sig-1/leak.json")).expect("symlink");
        let addr = start(&root);
        let (status, body) = get(addr, "/files/sig-1/case.json");
        assert!(status.contains("200") && body.contains("\"case\":1"), "{status} {body}");
        for target in [
            "/files/../secret.json",
            "/files/sig-1/../../secret.json",
            "/files/%2e%2e/secret.json",
            "/files/sig-1/%2E%2E/%2E%2E/secret.json",
            "/files/sig-1%2F..%2F..%2Fsecret.json",
            "/files/%2Fetc%2Fpasswd",
            "/files/sig-1/leak.json",
            "/finding/..",
            "/finding/%2e%2e",
        ] {
            let (status, body) = get(addr, target);
            assert!(!status.contains("200") && !body.contains("the-secret-content"), "{target}: {status} {body}");
        }
        let (status, _) = get(addr, "/finding/sig-1");
        assert!(status.contains("404"), "a folder without report.json is no finding: {status}");
        let (status, body) = get(addr, "/");
        assert!(status.contains("200") && body.contains("0 of 0 findings"), "{status} {body}");
        let (status, body) = get(addr, "/stats");
        assert!(status.contains("200") && body.contains("No history yet"), "{status} {body}");
    }
}
