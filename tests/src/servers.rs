//! Real brokers for tests: `redis-server` and `nats-server` (Debian packages) started on a free
//! loopback port in a directory of their own, and killed when dropped.
//!
//! A test that starts one is wrapped in [`needs!`](crate::needs) (`[redis]`, `[nats]`), so on a
//! machine without the binary it is reported as ignored; the start itself panics when it fails.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

/// A fresh empty directory under the system's temporary directory, removed by [`ScratchDir`]'s drop.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `<tmp>/<name>-<pid>-<n>`.
    pub fn new(name: &str) -> ScratchDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("scratch directory created");
        ScratchDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits until something accepts connections on `port`, or panics naming `what`.
fn wait_listening(port: u16, what: &str, child: &mut Child) {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..200 {
        if TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited while starting: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port}");
}

/// A broker process on a loopback port with a directory of its own, killed when dropped: what
/// [`RedisServer`] and [`NatsServer`] share.
#[derive(Debug)]
struct Broker {
    program: &'static str,
    /// The command line for a port and a data directory.
    command: fn(u16, &Path) -> Command,
    child: Option<Child>,
    port: u16,
    dir: ScratchDir,
}

impl Broker {
    /// Starts `program` on `port`.
    fn start(program: &'static str, command: fn(u16, &Path) -> Command, port: u16) -> Broker {
        let mut broker = Broker { program, command, child: None, port, dir: ScratchDir::new(program) };
        broker.spawn();
        broker
    }

    fn spawn(&mut self) {
        let mut child = (self.command)(self.port, self.dir.path()).stdout(Stdio::null()).spawn().unwrap_or_else(|e| {
            panic!("{} does not start ({e}); is the test wrapped in `tests::needs!`?", self.program)
        });
        wait_listening(self.port, self.program, &mut child);
        self.child = Some(child);
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Kills the process (SIGKILL, no chance to save anything more).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data directory.
    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `redis-server` with append-only persistence fsynced on every write, so a restart keeps every
/// write it acknowledged.
#[derive(Debug)]
pub struct RedisServer(Broker);

impl RedisServer {
    /// Starts one on a free port.
    pub fn start() -> RedisServer {
        RedisServer::start_on(free_port())
    }

    /// Starts one on `port`.
    pub fn start_on(port: u16) -> RedisServer {
        RedisServer(Broker::start("redis-server", RedisServer::command, port))
    }

    fn command(port: u16, dir: &Path) -> Command {
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no"])
            .arg("--dir")
            .arg(dir);
        command
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.0.url("redis")
    }

    /// Kills the server (SIGKILL, no chance to save anything more).
    pub fn kill(&mut self) {
        self.0.kill();
    }

    /// Starts it again on the same port and data directory.
    pub fn restart(&mut self) {
        self.0.restart();
    }
}

/// A `nats-server` with JetStream, storing in a directory of its own.
#[derive(Debug)]
pub struct NatsServer(Broker);

impl NatsServer {
    /// Starts one on a free port.
    pub fn start() -> NatsServer {
        NatsServer(Broker::start("nats-server", NatsServer::command, free_port()))
    }

    fn command(port: u16, dir: &Path) -> Command {
        let mut command = Command::new("nats-server");
        command.args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"]).arg(dir).stderr(Stdio::null());
        command
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.0.url("nats")
    }

    /// Kills the server (SIGKILL).
    pub fn kill(&mut self) {
        self.0.kill();
    }

    /// Starts it again on the same port and storage directory.
    pub fn restart(&mut self) {
        self.0.restart();
    }
}
