//! The TCP links between the machines of a farm: relays on each end of LibAFL's multi-machine
//! connections that pass its frames through whole and keep the link alive.
//!
//! LibAFL's layer (`libafl::events::multi_machine`, 0.16) connects a node to its parent once,
//! at start, and gives up if the parent is not there within its timeout; once a write to the
//! parent fails it never tries again; it reads a frame's body with a blocking `read_exact` in
//! the broker's loop (a half-sent frame on a dead link stalls the broker until TCP gives up,
//! minutes later); and it asserts on a frame's first byte (garbage from the network would
//! panic the broker). So LibAFL talks only to these relays over loopback, and the relays talk
//! to the other machines: an [`Uplink`] on a node with a parent (always there for LibAFL,
//! reconnecting to the parent behind it, keeping what LibAFL sends while the parent is away), a
//! [`Downlink`] on a node that others join (one relay per child). Both check every frame from
//! the network and pass on only whole ones, and both notice a dead link by TCP keepalive and
//! a user timeout. The frames are LibAFL's own: a mark byte, a little-endian `u32` length, the
//! message.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The byte LibAFL's multi-machine layer writes before each frame.
const MARK: u8 = 0x14;

/// The largest frame passed on: larger ones are garbage (LibAFL's messages fit in its 1 MiB
/// LLMP pages with `llmp_small_maps`; a carried finding is capped well below this).
const MAX_FRAME: usize = 64 << 20;

/// Frames kept for the parent while it is away, in bytes; past it the oldest corpus entries are
/// dropped (findings are announced again on every reconnection, so none is lost).
const MAX_QUEUED: usize = 256 << 20;

/// How long a connection attempt to the parent may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The pause between attempts to reach the parent.
const RETRY: Duration = Duration::from_secs(1);

/// Idle time before TCP keepalive probes start, the time between probes, and how many may go
/// unanswered: a silent dead link is noticed in about 11 seconds.
const KEEPALIVE: (Duration, Duration, u32) = (Duration::from_secs(5), Duration::from_secs(2), 3);

/// How long sent data may stay unacknowledged before the link counts as dead.
const USER_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one frame's message; `Ok(None)` at a clean end of the stream.
fn read_frame(stream: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut mark = [0u8; 1];
    if stream.read(&mut mark)? == 0 {
        return Ok(None);
    }
    if mark[0] != MARK {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not a frame: first byte {:#04x}", mark[0])));
    }
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("frame of {len} bytes")));
    }
    let mut message = vec![0u8; len];
    stream.read_exact(&mut message)?;
    Ok(Some(message))
}

/// Writes one frame, in one write so a reader never waits on half of it.
fn write_frame(stream: &mut impl Write, message: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(message.len()).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame too long"))?;
    let mut frame = Vec::with_capacity(message.len() + 5);
    frame.push(MARK);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(message);
    stream.write_all(&frame)?;
    stream.flush()
}

/// Makes a link to another machine notice when that machine or the way to it is gone.
fn keep_alive(stream: &TcpStream) {
    let socket = socket2::SockRef::from(stream);
    let (time, interval, retries) = KEEPALIVE;
    let _ = socket.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(time).with_interval(interval).with_retries(retries));
    let _ = socket.set_tcp_user_timeout(Some(USER_TIMEOUT));
    let _ = stream.set_nodelay(true);
}

/// A bounded queue of frames for one link, oldest first.
#[derive(Default)]
struct Queue {
    /// The frames and their size in bytes.
    frames: Mutex<(VecDeque<Frame>, usize)>,
    /// Signalled when a frame is queued.
    queued: Condvar,
    /// Frames dropped because the link was away too long.
    dropped: AtomicU64,
}

/// A frame's message, shared by the queues it is in.
type Frame = Arc<[u8]>;

impl Queue {
    fn push(&self, message: Frame) {
        let Ok(mut queue) = self.frames.lock() else { return };
        queue.1 += message.len();
        queue.0.push_back(message);
        while queue.1 > MAX_QUEUED {
            let Some(old) = queue.0.pop_front() else { break };
            queue.1 -= old.len();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.queued.notify_one();
    }

    fn pop(&self, wait: Duration) -> Option<Frame> {
        let mut queue = self.frames.lock().ok()?;
        if queue.0.is_empty() {
            queue = self.queued.wait_timeout(queue, wait).ok()?.0;
        }
        let message = queue.0.pop_front()?;
        queue.1 -= message.len();
        Some(message)
    }

    fn unpop(&self, message: Frame) {
        if let Ok(mut queue) = self.frames.lock() {
            queue.1 += message.len();
            queue.0.push_front(message);
        }
    }
}

/// Where a node's frames go: its parent's queue and each child's, and a bounded history of what
/// this node's jobs found, replayed to each child that joins (LibAFL's listener means to do the
/// same, unbounded, but its history is filled by its sender hook: see [`Fanout::send_from_jobs`]).
///
/// In a tree every frame reaches every node once: what a node's jobs find goes to its parent
/// and children, what comes from a child goes on to the parent and the other children, what
/// comes from the parent goes on to the children.
#[derive(Default)]
pub(crate) struct Fanout {
    /// The parent's queue, on a node that has one.
    parent: Option<Arc<Queue>>,
    /// Each connected child's queue, by a serial number.
    children: Mutex<Vec<(u64, Arc<Queue>)>>,
    /// The jobs' latest frames, oldest first, and their size in bytes.
    history: Mutex<(VecDeque<Frame>, usize)>,
}

/// The history replayed to a child that joins, in bytes.
const MAX_HISTORY: usize = 64 << 20;

impl Fanout {
    /// A fanout for a node with or without a parent.
    pub(crate) fn new(has_parent: bool) -> Fanout {
        Fanout { parent: has_parent.then(|| Arc::new(Queue::default())), ..Fanout::default() }
    }

    /// A message of this node's jobs (a new corpus entry), for every neighbour.
    ///
    /// This is the job of LibAFL's `TcpMultiMachineLlmpSenderHook`, which cannot do it in
    /// 0.16.1: it wraps the message's address in a `SendWrapper` on the broker's thread and
    /// dereferences it in a task on a Tokio worker thread, which panics on every message
    /// (`centralized_multi_machine.rs:137`, "Dereferenced SendWrapper<T> variable from a thread
    /// different to the one it has been created with"), so nothing a node finds would ever leave
    /// it. Here the message is copied on the broker's thread, inside the hook.
    pub(crate) fn send_from_jobs(&self, message: &[u8]) {
        let frame: Frame = Arc::from(message);
        if let Ok(mut history) = self.history.lock() {
            history.1 += frame.len();
            history.0.push_back(frame.clone());
            while history.1 > MAX_HISTORY {
                let Some(old) = history.0.pop_front() else { break };
                history.1 -= old.len();
            }
        }
        self.to_parent(frame.clone());
        self.to_children(&frame, None);
    }

    /// A message for the parent alone (one this node carries itself).
    pub(crate) fn to_parent(&self, frame: Frame) {
        if let Some(parent) = &self.parent {
            parent.push(frame);
        }
    }

    fn to_children(&self, frame: &Frame, except: Option<u64>) {
        if let Ok(children) = self.children.lock() {
            for (id, queue) in children.iter() {
                if Some(*id) != except {
                    queue.push(frame.clone());
                }
            }
        }
    }

    /// A new child's queue, holding the history to start with.
    fn join(&self) -> (u64, Arc<Queue>) {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let id = SERIAL.fetch_add(1, Ordering::Relaxed);
        let queue = Arc::new(Queue::default());
        if let Ok(history) = self.history.lock() {
            for frame in &history.0 {
                queue.push(frame.clone());
            }
        }
        if let Ok(mut children) = self.children.lock() {
            children.push((id, queue.clone()));
        }
        (id, queue)
    }

    fn leave(&self, id: u64) {
        if let Ok(mut children) = self.children.lock() {
            children.retain(|(child, _)| *child != id);
        }
    }

    /// Frames dropped because the parent was away too long.
    pub(crate) fn dropped(&self) -> u64 {
        self.parent.as_ref().map_or(0, |p| p.dropped.load(Ordering::Relaxed))
    }
}

/// The link of a node to its parent, as LibAFL sees it: a local address that always answers.
pub(crate) struct Uplink {
    local: SocketAddr,
    shared: Arc<UplinkShared>,
}

/// What the uplink's threads share.
struct UplinkShared {
    /// Where frames go, the parent's queue among them.
    fanout: Arc<Fanout>,
    /// LibAFL's end of the local connection, where frames from the parent go.
    local: Mutex<Option<TcpStream>>,
    /// Connections made to the parent so far.
    connections: AtomicU64,
    /// Connected to the parent now.
    connected: AtomicBool,
}

impl Uplink {
    /// Starts relaying to `parent` (`HOST:PORT`, resolved at each attempt, so a parent that
    /// is not up yet or moves is found when it is) the frames of the fanout's parent queue.
    pub(crate) fn start(parent: String, fanout: Arc<Fanout>) -> std::io::Result<Uplink> {
        let Some(queue) = fanout.parent.clone() else {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "a fanout without a parent queue"));
        };
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let local = listener.local_addr()?;
        let shared =
            Arc::new(UplinkShared { fanout, local: Mutex::new(None), connections: AtomicU64::new(0), connected: AtomicBool::new(false) });
        let accepting = shared.clone();
        std::thread::Builder::new().name("schism-uplink-local".to_owned()).spawn(move || {
            // LibAFL connects once; should it ever connect again, the newest connection wins.
            // It sends nothing on it (its sender hook is replaced), but what it would send goes
            // to the parent.
            for stream in listener.incoming().flatten() {
                let Ok(writer) = stream.try_clone() else { continue };
                if let Ok(mut local) = accepting.local.lock() {
                    *local = Some(writer);
                }
                let reading = accepting.clone();
                let _ = std::thread::Builder::new().name("schism-uplink-read".to_owned()).spawn(move || {
                    let mut stream = stream;
                    while let Ok(Some(message)) = read_frame(&mut stream) {
                        reading.fanout.to_parent(Arc::from(message));
                    }
                });
            }
        })?;
        let relaying = shared.clone();
        std::thread::Builder::new().name("schism-uplink".to_owned()).spawn(move || relay_to_parent(&parent, &relaying, &queue))?;
        Ok(Uplink { local, shared })
    }

    /// The address LibAFL connects to as its parent.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Queues a message for the parent (one this node carries itself, beside LibAFL's).
    pub(crate) fn send(&self, message: Vec<u8>) {
        self.shared.fanout.to_parent(Arc::from(message));
    }

    /// Connections made to the parent so far: it changes when the parent is reached again.
    pub(crate) fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Whether the parent is connected now.
    pub(crate) fn connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// Frames dropped because the parent was away too long.
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.fanout.dropped()
    }

    /// Frames waiting for the parent.
    pub(crate) fn queued(&self) -> usize {
        self.shared.fanout.parent.as_ref().and_then(|q| q.frames.lock().ok().map(|f| f.0.len())).unwrap_or(0)
    }
}

/// Connects to the parent and relays, again and again, for the life of the process.
fn relay_to_parent(parent: &str, shared: &Arc<UplinkShared>, queue: &Queue) {
    let mut said_waiting = false;
    loop {
        let stream =
            parent.to_socket_addrs().ok().into_iter().flatten().find_map(|addr| TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).ok());
        let Some(stream) = stream else {
            if !said_waiting {
                eprintln!("\nnode: parent {parent} not reachable; fuzzing on and retrying every {}s", RETRY.as_secs());
                said_waiting = true;
            }
            std::thread::sleep(RETRY);
            continue;
        };
        said_waiting = false;
        keep_alive(&stream);
        let n = shared.connections.fetch_add(1, Ordering::Relaxed) + 1;
        shared.connected.store(true, Ordering::Relaxed);
        eprintln!("\nnode: connected to parent {parent}{}", if n > 1 { " again" } else { "" });
        let alive = Arc::new(AtomicBool::new(true));
        let reader = stream.try_clone().ok().map(|mut from_parent| {
            let shared = shared.clone();
            let alive = alive.clone();
            std::thread::spawn(move || {
                while let Ok(Some(message)) = read_frame(&mut from_parent) {
                    let local = shared.local.lock().ok().and_then(|l| l.as_ref().and_then(|s| s.try_clone().ok()));
                    if let Some(mut local) = local {
                        let _ = write_frame(&mut local, &message);
                    }
                    shared.fanout.to_children(&Arc::from(message), None);
                }
                alive.store(false, Ordering::Relaxed);
                let _ = from_parent.shutdown(Shutdown::Both);
            })
        });
        let mut to_parent = stream;
        while alive.load(Ordering::Relaxed) {
            let Some(message) = queue.pop(Duration::from_millis(500)) else { continue };
            if write_frame(&mut to_parent, &message).is_err() {
                queue.unpop(message);
                break;
            }
        }
        let _ = to_parent.shutdown(Shutdown::Both);
        if let Some(reader) = reader {
            let _ = reader.join();
        }
        shared.connected.store(false, Ordering::Relaxed);
        eprintln!("\nnode: lost parent {parent}; fuzzing on and reconnecting");
        std::thread::sleep(RETRY);
    }
}

/// The listening end of a node that others join: one relay per child between the child and
/// LibAFL's own listener on loopback.
pub(crate) struct Downlink {
    addr: SocketAddr,
    children: Arc<AtomicUsize>,
}

/// Tells the messages a node carries for its parent alone (findings, statistics) from LibAFL's.
pub(crate) type ForParent = fn(&[u8]) -> bool;

impl Downlink {
    /// Binds `listen` and relays each child that connects to LibAFL's listener on `libafl_port`
    /// (which receives for this node's jobs); what a child sends also goes on through `fanout`
    /// to the parent and the other children, except what `for_parent` says is for this node.
    pub(crate) fn start(listen: &str, libafl_port: u16, fanout: Arc<Fanout>, for_parent: ForParent) -> std::io::Result<Downlink> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let children = Arc::new(AtomicUsize::new(0));
        let counting = children.clone();
        std::thread::Builder::new().name("schism-downlink".to_owned()).spawn(move || {
            for child in listener.incoming().flatten() {
                let who = child.peer_addr().map_or_else(|_| "?".to_owned(), |a| a.to_string());
                let Ok(libafl) = TcpStream::connect(("127.0.0.1", libafl_port)) else {
                    eprintln!("\nnode: child {who} turned away: LibAFL's listener on port {libafl_port} does not answer");
                    continue;
                };
                keep_alive(&child);
                let _ = libafl.set_nodelay(true);
                let now = counting.fetch_add(1, Ordering::Relaxed) + 1;
                eprintln!("\nnode: child {who} joined ({now} connected)");
                let counting = counting.clone();
                let fanout = fanout.clone();
                let _ = std::thread::Builder::new().name("schism-downlink-child".to_owned()).spawn(move || {
                    serve_child(child, libafl, &fanout, for_parent);
                    let left = counting.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
                    eprintln!("\nnode: child {who} left ({left} connected)");
                });
            }
        })?;
        Ok(Downlink { addr, children })
    }

    /// The address children connect to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Children connected now.
    pub(crate) fn children(&self) -> usize {
        self.children.load(Ordering::Relaxed)
    }
}

/// Relays one child until its link dies: its frames to LibAFL and on through the fanout, the
/// child's queue to it.
fn serve_child(child: TcpStream, libafl: TcpStream, fanout: &Arc<Fanout>, for_parent: ForParent) {
    let (id, queue) = fanout.join();
    let alive = Arc::new(AtomicBool::new(true));
    let (Ok(mut from_child), Ok(mut from_libafl), Ok(mut to_libafl)) = (child.try_clone(), libafl.try_clone(), libafl.try_clone()) else {
        fanout.leave(id);
        return;
    };
    let up = {
        let (alive, fanout) = (alive.clone(), fanout.clone());
        std::thread::spawn(move || {
            while let Ok(Some(message)) = read_frame(&mut from_child) {
                if write_frame(&mut to_libafl, &message).is_err() {
                    break;
                }
                if !for_parent(&message) {
                    let frame: Frame = Arc::from(message);
                    fanout.to_parent(frame.clone());
                    fanout.to_children(&frame, Some(id));
                }
            }
            alive.store(false, Ordering::Relaxed);
        })
    };
    // What LibAFL's listener writes to the child (its history, were it filled) goes through
    // the child's queue, the one writer of the child's socket.
    let echo = {
        let (alive, queue) = (alive.clone(), queue.clone());
        std::thread::spawn(move || {
            while let Ok(Some(message)) = read_frame(&mut from_libafl) {
                queue.push(Arc::from(message));
            }
            alive.store(false, Ordering::Relaxed);
        })
    };
    let mut to_child = child;
    while alive.load(Ordering::Relaxed) {
        let Some(message) = queue.pop(Duration::from_millis(500)) else { continue };
        if write_frame(&mut to_child, &message).is_err() {
            break;
        }
    }
    fanout.leave(id);
    let _ = to_child.shutdown(Shutdown::Both);
    let _ = libafl.shutdown(Shutdown::Both);
    let _ = up.join();
    let _ = echo.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_garbage_is_refused() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello").expect("write");
        assert_eq!(buf[0], MARK);
        let mut reader = &buf[..];
        assert_eq!(read_frame(&mut reader).expect("read"), Some(b"hello".to_vec()));
        assert_eq!(read_frame(&mut reader).expect("end"), None);
        assert!(read_frame(&mut &b"GET / HTTP/1.1\r\n"[..]).is_err());
        let mut huge = vec![MARK];
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_frame(&mut &huge[..]).is_err());
    }

    #[test]
    fn an_uplink_keeps_frames_until_its_parent_comes_and_comes_back() {
        // A parent that is not there yet: its port, reserved and released.
        let port = TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).expect("port").port();
        let uplink = Uplink::start(format!("127.0.0.1:{port}"), Arc::new(Fanout::new(true))).expect("uplink");
        let mut libafl = TcpStream::connect(uplink.local_addr()).expect("local");
        write_frame(&mut libafl, b"early").expect("write");
        // LibAFL's frames are queued by a thread of their own: let it queue this one first.
        std::thread::sleep(Duration::from_millis(200));
        uplink.send(b"carried".to_vec());
        std::thread::sleep(Duration::from_millis(300));
        let parent = TcpListener::bind(("127.0.0.1", port)).expect("parent");
        let (mut child, _) = parent.accept().expect("accept");
        assert_eq!(read_frame(&mut child).expect("read"), Some(b"early".to_vec()));
        assert_eq!(read_frame(&mut child).expect("read"), Some(b"carried".to_vec()));
        // The parent talks back: LibAFL gets it.
        write_frame(&mut child, b"down").expect("write");
        assert_eq!(read_frame(&mut libafl).expect("read"), Some(b"down".to_vec()));
        // The parent goes; the uplink reconnects and delivers what came meanwhile.
        drop(child);
        std::thread::sleep(Duration::from_millis(300));
        write_frame(&mut libafl, b"later").expect("write");
        let (mut child, _) = parent.accept().expect("accept again");
        assert_eq!(read_frame(&mut child).expect("read"), Some(b"later".to_vec()));
        assert!(uplink.connections() >= 2);
    }
}
