//! The services behind the relay in the delivery tests: `tests/services/receiver.py` (verifying
//! with `standardwebhooks` from PyPI) and `receiver.mjs` (from npm), run as processes on free
//! loopback ports. Skipped with a notice when the interpreter or the package is missing, unless
//! `CONSUMER_CHECKS=required` (as `.ci/run` sets, after installing both).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tests::servers::free_port;

/// The Standard Webhooks secret the relay signs with and the services verify with (the example
/// of the reference libraries' own tests).
pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Which verifier runs the service.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Language {
    Python,
    Node,
}

/// One request a service got, as it printed it.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct Seen {
    pub(crate) id: Option<String>,
    pub(crate) valid: bool,
    pub(crate) status: u16,
    pub(crate) dedup_key: Option<String>,
}

/// A service process, killed when dropped.
pub(crate) struct Service {
    child: Child,
    pub(crate) address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Service {
    /// Starts the service (its test is wrapped in `needs!` with `python_webhooks` or
    /// `node_webhooks`).
    pub(crate) fn start(language: Language) -> Service {
        let dir = tests::workspace_root().join("relay/tests/services");
        let (program, script) = match language {
            Language::Python => ("python3", "receiver.py"),
            Language::Node => ("node", "receiver.mjs"),
        };
        let port = free_port();
        let mut child = Command::new(program)
            .arg(script)
            .args([&port.to_string(), SECRET])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} starts: {e}"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (lines, (tx, rx)) = (Arc::clone(&seen), std::sync::mpsc::channel());
        let out = BufReader::new(child.stdout.take().expect("piped"));
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                match serde_json::from_str::<Seen>(&line) {
                    Ok(seen) => lines.lock().unwrap().push(seen),
                    Err(_) => {
                        let _ = tx.send(line);
                    }
                }
            }
        });
        let started = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(started.contains("listening"), "{started}");
        Service { child, address: SocketAddr::from(([127, 0, 0, 1], port)), seen }
    }

    /// The URL the relay delivers to.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.address)
    }

    /// Makes it answer `status` to every delivery from now on.
    pub(crate) async fn answer(&self, status: u16) {
        let reply = crate::support::post(self.address, &format!("/control?status={status}"), b"").await;
        assert_eq!(reply.map(|r| r.0), Some(200));
    }

    /// The requests it got, once there are at least `n` (or after a second): its lines are
    /// written before it answers, but read here by another thread.
    pub(crate) async fn seen_at_least(&self, n: usize) -> Vec<Seen> {
        for _ in 0..100 {
            if self.seen.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.seen()
    }

    /// Every request it got so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
