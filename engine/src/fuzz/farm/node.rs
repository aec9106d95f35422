//! A farm's place in a farm across machines: its name, LibAFL's multi-machine hooks in its
//! broker, and what it carries to its parent that LibAFL's layer does not (its findings and
//! its statistics).
//!
//! LibAFL's layer (feature `multi_machine`) is meant to send the inputs a node's jobs add to
//! their corpus to its parent and children, and gives each node's jobs what arrives (its
//! receiver hook, its listener, its framing, and the jobs' handling of events from other
//! machines are used as they are). Its sending half, `TcpMultiMachineLlmpSenderHook`, panics
//! on every message in 0.16.1 and is replaced by [`Forward`] (see [`Fanout::send_from_jobs`]). It
//! carries nothing but corpus entries, for two reasons in its code: the broker's event hook (`StdLlmpEventHook`) handles an
//! `Objective` event itself and forwards only `NewTestcase` (and `Stop`) to the hooks after it,
//! among them the multi-machine sender; and a job drops every event from another machine that
//! is not a `NewTestcase` (`LlmpEventManager::try_receive`). A finding also cannot be replayed
//! at the root: the root may not run the client that diverged (a canary, a local build). So a
//! node carries its filed folders itself, the smallest way that stays on LibAFL's link: as
//! LibAFL events (`UpdateUserStats` named [`FINDING_STAT`], the folder as JSON) in LibAFL's
//! framing, queued on the same connection to the parent. The parent's [`Intake`] hook takes
//! them out of what arrives before the jobs see it and files them once; a node that is not the
//! root announces what it filed (its own findings and those of its children) to its parent in
//! turn. Statistics travel the same way ([`NODE_STAT`]), so the root's metrics show every node.

use super::link::{Downlink, Fanout, Uplink};
use super::monitor::FarmStats;
use crate::fuzz::program::Blueprint;
use crate::triage::folder::{self, Carried, Filed};
use libafl::events::multi_machine::{NodeDescriptor, TcpMultiMachineHooks};
use libafl::events::{Event, EventWithStats};
use libafl::monitors::stats::{AggregatorOps, UserStats, UserStatsValue};
use libafl_bolts::ClientId;
use libafl_bolts::llmp::{Flags, LLMP_FLAG_FROM_MM, LlmpBrokerInner, LlmpHook, LlmpMsgHookResult, Tag};
use libafl_bolts::shmem::{StdShMem, StdShMemProvider};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The name of the LibAFL event that carries a filed finding to the parent.
pub(crate) const FINDING_STAT: &str = "schism-finding";

/// The name of the LibAFL event that carries a node's statistics to the parent.
pub(crate) const NODE_STAT: &str = "schism-node";

/// How often a node announces new findings and its statistics to its parent.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(2);

/// At most this much of a folder's text is carried (traces past it stay on the node).
const CARRY_LIMIT: usize = 8 << 20;

/// Where a farm stands among machines.
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    /// The node's name in reports and metrics (`--node-name`; empty: the host name).
    pub name: String,
    /// Where child nodes join this one (`--node-listen HOST:PORT`).
    pub listen: Option<String>,
    /// The node this one joins (`--parent HOST:PORT`).
    pub parent: Option<String>,
}

impl NodeOptions {
    /// The name to use: the one given, else the host name.
    pub fn resolved_name(&self) -> String {
        if !self.name.is_empty() {
            return self.name.clone();
        }
        hostname::get().ok().and_then(|h| h.into_string().ok()).filter(|h| !h.is_empty()).unwrap_or_else(|| "schism".to_owned())
    }

    /// Whether the farm is part of a farm across machines.
    pub fn networked(&self) -> bool {
        self.listen.is_some() || self.parent.is_some()
    }
}

/// The latest statistics of a node, as carried to its parent.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct NodeReport {
    /// The node's name.
    pub node: String,
    /// Its statistics.
    pub stats: FarmStats,
}

/// What a node knows and shares between its broker, its announcer and its metrics.
pub(crate) struct Tree {
    /// This node's name.
    pub name: String,
    /// The latest statistics of each node below this one, and when they arrived.
    pub below: Mutex<BTreeMap<String, (FarmStats, Instant)>>,
    /// Findings of other nodes filed here (new folders and new nodes on filed ones).
    pub carried: AtomicU64,
    /// The link to the parent, if any.
    pub uplink: Option<Uplink>,
    /// The link children join, if any.
    pub downlink: Option<Downlink>,
    /// LibAFL's own multi-machine listener, on loopback behind the downlink.
    pub libafl_port: Option<u16>,
    /// Where the messages of this node's jobs go.
    pub fanout: Arc<Fanout>,
    /// Messages of this node's jobs (new corpus entries) sent to its neighbours.
    pub sent: AtomicU64,
    /// Messages from other machines passed to this node's jobs (their corpus entries).
    pub received: AtomicU64,
}

impl Tree {
    /// Sets up the node: its links, if it has any. Errors name the address that failed.
    pub(crate) fn start(options: &NodeOptions) -> Result<Tree, crate::fuzz::FuzzError> {
        fn listen_error(what: &'static str, addr: &str) -> impl FnOnce(std::io::Error) -> crate::fuzz::FuzzError + use<> {
            let addr = addr.to_owned();
            move |source| crate::fuzz::FuzzError::Listen { what, addr, source }
        }
        let fanout = Arc::new(Fanout::new(options.parent.is_some()));
        let uplink = match &options.parent {
            Some(parent) => Some(Uplink::start(parent.clone(), fanout.clone()).map_err(listen_error("--parent", parent))?),
            None => None,
        };
        let (downlink, libafl_port) = match &options.listen {
            Some(listen) => {
                let port = super::free_port().map_err(listen_error("--node-listen", listen))?;
                let downlink = Downlink::start(listen, port, fanout.clone(), for_parent).map_err(listen_error("--node-listen", listen))?;
                (Some(downlink), Some(port))
            }
            None => (None, None),
        };
        if let Some(downlink) = &downlink {
            eprintln!("node {}: children join at {}", options.resolved_name(), downlink.addr());
        }
        Ok(Tree {
            name: options.resolved_name(),
            below: Mutex::new(BTreeMap::new()),
            carried: AtomicU64::new(0),
            uplink,
            downlink,
            libafl_port,
            fanout,
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
        })
    }

    /// Whether LibAFL's multi-machine hooks are to run in the broker.
    pub(crate) fn networked(&self) -> bool {
        self.uplink.is_some() || self.downlink.is_some()
    }

    /// LibAFL's node descriptor: the parent is the uplink's local end, the listening port is
    /// the one the downlink relays to.
    fn descriptor(&self) -> NodeDescriptor<SocketAddr> {
        NodeDescriptor::builder()
            .parent_addr(self.uplink.as_ref().map(Uplink::local_addr))
            .node_listening_port(self.libafl_port)
            .timeout(Duration::from_secs(10))
            .build()
    }
}

/// LibAFL's multi-machine receiver hook for this node's broker (it connects to the parent,
/// runs the listener children join, and passes what arrives to the jobs).
///
/// `TcpMultiMachineHooksBuilder::build` is `unsafe` for its sender hook, which reads each
/// message the broker forwards after the hook has returned, from a background task. That hook
/// is dropped here unused (see [`Forward`]); the receiver copies what it reads.
#[allow(unsafe_code)]
pub(crate) fn multi_machine_receiver(tree: &Tree) -> Result<impl LlmpHook<StdShMem, StdShMemProvider> + use<>, libafl::Error> {
    // SAFETY: the one hook whose use the contract is about, the sender, is never called.
    let hooks: TcpMultiMachineHooks<SocketAddr, Blueprint> =
        unsafe { TcpMultiMachineHooks::builder().node_descriptor(tree.descriptor()).build::<Blueprint>() }?;
    Ok(hooks.receiver)
}

/// The broker hook, last (it sees only what the monitor forwards: the jobs' new corpus
/// entries), that sends the jobs' messages to the parent and the children: LibAFL's sender
/// hook, made to work ([`Fanout::send_from_jobs`] says why it is replaced).
pub(crate) struct Forward {
    /// Where they go.
    pub fanout: Arc<Fanout>,
    /// What the node shares (counts what is sent).
    pub tree: Arc<Tree>,
}

impl<SHM, SP> LlmpHook<SHM, SP> for Forward {
    fn on_new_message(
        &mut self,
        _broker: &mut LlmpBrokerInner<SHM, SP>,
        _client: ClientId,
        _tag: &mut Tag,
        _flags: &mut Flags,
        message: &mut [u8],
        _new_messages: &mut Vec<(Tag, Flags, Vec<u8>)>,
    ) -> Result<LlmpMsgHookResult, libafl::Error> {
        self.fanout.send_from_jobs(message);
        self.tree.sent.fetch_add(1, Ordering::Relaxed);
        Ok(LlmpMsgHookResult::ForwardToClients)
    }
}

/// Whether a message from a child is one a node carries for its parent alone (a finding, a
/// node's statistics), which the parent files or keeps and does not pass on as it is.
pub(crate) fn for_parent(message: &[u8]) -> bool {
    !matches!(open(message), Opened::Other)
}

/// A LibAFL event wrapping one of the messages a node carries itself, encoded as LibAFL
/// encodes its events.
fn envelope(name: &'static str, json: String) -> Result<Vec<u8>, postcard::Error> {
    let event: Event<Blueprint> = Event::UpdateUserStats {
        name: Cow::Borrowed(name),
        value: UserStats::new(UserStatsValue::String(Cow::Owned(json)), AggregatorOps::None),
        phantom: PhantomData,
    };
    postcard::to_allocvec(&EventWithStats::with_current_time(event, 0))
}

/// What [`open`] found in a message from another machine.
enum Opened {
    /// A finding to file.
    Finding(Carried),
    /// A node's statistics.
    Node(Box<NodeReport>),
    /// Something else: LibAFL's own (a corpus entry) or not ours to read.
    Other,
}

fn open(message: &[u8]) -> Opened {
    let Ok(event) = postcard::from_bytes::<EventWithStats<Blueprint>>(message) else { return Opened::Other };
    let Event::UpdateUserStats { name, value, .. } = event.event() else { return Opened::Other };
    let UserStatsValue::String(text) = value.value() else { return Opened::Other };
    match name.as_ref() {
        FINDING_STAT => serde_json::from_str(text).map_or(Opened::Other, Opened::Finding),
        NODE_STAT => serde_json::from_str(text).map_or(Opened::Other, |report| Opened::Node(Box::new(report))),
        _ => Opened::Other,
    }
}

/// The broker hook, right after LibAFL's multi-machine receiver, that takes the findings and
/// statistics carried from the children out of what arrived, files the findings in this
/// node's crashes folder and keeps the statistics; LibAFL's corpus entries go on to the jobs.
pub(crate) struct Intake {
    /// This node's crashes folder.
    pub crashes: PathBuf,
    /// What the node shares.
    pub tree: Arc<Tree>,
}

impl<SHM, SP> LlmpHook<SHM, SP> for Intake {
    fn on_new_message(
        &mut self,
        _broker: &mut LlmpBrokerInner<SHM, SP>,
        _client: ClientId,
        _tag: &mut Tag,
        _flags: &mut Flags,
        _message: &mut [u8],
        new_messages: &mut Vec<(Tag, Flags, Vec<u8>)>,
    ) -> Result<LlmpMsgHookResult, libafl::Error> {
        new_messages.retain(|(_, flags, message)| {
            if *flags & LLMP_FLAG_FROM_MM != LLMP_FLAG_FROM_MM {
                return true;
            }
            match open(message) {
                Opened::Other => {
                    self.tree.received.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Opened::Finding(carried) => {
                    self.file(&carried);
                    false
                }
                Opened::Node(report) => {
                    if report.node != self.tree.name
                        && let Ok(mut below) = self.tree.below.lock()
                    {
                        let report = *report;
                        below.insert(report.node, (report.stats, Instant::now()));
                    }
                    false
                }
            }
        });
        Ok(LlmpMsgHookResult::ForwardToClients)
    }
}

impl Intake {
    fn file(&self, carried: &Carried) {
        match folder::file_carried(&self.crashes, carried) {
            Ok(None) => {}
            Ok(Some(filed)) => {
                self.tree.carried.fetch_add(1, Ordering::Relaxed);
                let (what, path) = match &filed {
                    Filed::New(path) => ("filed", path),
                    Filed::Again(path, _) => ("counted again", path),
                    Filed::Known { .. } => return,
                };
                eprintln!("\nnode {}: finding of node {} {what}: {}", self.tree.name, carried.node, path.display());
            }
            Err(e) => eprintln!("\nnode {}: finding of node {} not filed: {e}", self.tree.name, carried.node),
        }
    }
}

/// Sends a node's findings and statistics to its parent, about every two seconds, while the
/// farm runs: every filed folder once per connection to the parent (the parent files each once,
/// so a finding that was on its way when a link died is not lost), and the statistics of this
/// node and of every node below it.
pub(crate) struct Announcer {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Announcer {
    /// Starts announcing, if the node has a parent.
    pub(crate) fn start(tree: Arc<Tree>, crashes: PathBuf, latest: Arc<Mutex<Option<FarmStats>>>) -> Option<Announcer> {
        tree.uplink.as_ref()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("schism-announcer".to_owned())
            .spawn(move || {
                let mut announced: HashSet<String> = HashSet::new();
                let mut connection = 0;
                loop {
                    let last = stopping.load(Ordering::Relaxed);
                    announce(&tree, &crashes, &latest, &mut announced, &mut connection);
                    if last {
                        break;
                    }
                    let until = Instant::now() + ANNOUNCE_EVERY;
                    while Instant::now() < until && !stopping.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
            .ok()?;
        Some(Announcer { stop, thread })
    }

    /// Announces one last time, gives the parent up to `flush` to take what is queued, and
    /// stops.
    pub(crate) fn stop(self, tree: &Tree, flush: Duration) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        if let Some(uplink) = &tree.uplink {
            let until = Instant::now() + flush;
            while uplink.connected() && uplink.queued() > 0 && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn announce(
    tree: &Tree,
    crashes: &std::path::Path,
    latest: &Mutex<Option<FarmStats>>,
    announced: &mut HashSet<String>,
    connection: &mut u64,
) {
    let Some(uplink) = &tree.uplink else { return };
    if !uplink.connected() {
        return;
    }
    if uplink.connections() != *connection {
        *connection = uplink.connections();
        announced.clear();
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(crashes)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.join("report.json").is_file()).collect())
        .unwrap_or_default();
    folders.sort();
    for dir in folders {
        let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else { continue };
        if name.starts_with('.') || announced.contains(&name) {
            continue;
        }
        let Ok(carried) = Carried::read(&tree.name, &dir, CARRY_LIMIT) else { continue };
        let Ok(json) = serde_json::to_string(&carried) else { continue };
        if let Ok(message) = envelope(FINDING_STAT, json) {
            uplink.send(message);
            announced.insert(name);
        }
    }
    let mut reports = Vec::new();
    if let Some(stats) = latest.lock().ok().and_then(|l| l.clone()) {
        reports.push(NodeReport { node: tree.name.clone(), stats });
    }
    if let Ok(below) = tree.below.lock() {
        reports.extend(below.iter().map(|(node, (stats, _))| NodeReport { node: node.clone(), stats: stats.clone() }));
    }
    for report in reports {
        if let Ok(message) = serde_json::to_string(&report).map_err(|_| ()).and_then(|json| envelope(NODE_STAT, json).map_err(|_| ())) {
            uplink.send(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carried_messages_open_as_they_were_sealed() {
        let carried = Carried { node: "leaf".into(), signature: "s".into(), files: vec![("report.json".into(), "{}".into())] };
        let message = envelope(FINDING_STAT, serde_json::to_string(&carried).expect("json")).expect("envelope");
        assert!(matches!(open(&message), Opened::Finding(c) if c == carried));
        let report = NodeReport { node: "leaf".into(), stats: FarmStats { executions: 7, ..FarmStats::default() } };
        let message = envelope(NODE_STAT, serde_json::to_string(&report).expect("json")).expect("envelope");
        assert!(matches!(open(&message), Opened::Node(r) if r.stats.executions == 7));
        assert!(matches!(open(b"garbage"), Opened::Other));
    }
}
