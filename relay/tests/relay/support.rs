//! Running the relay binary, making signed traffic from the fixtures, and sending it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tencent_chat_callbacks::dedup::dedup_key;
use tencent_chat_callbacks::{CallbackKind, Command as Callback};
use tests::{APP_ID, TOKEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A relay process on a loopback port, killed (SIGKILL) when dropped.
pub(crate) struct Relay {
    child: Option<Child>,
    pub(crate) address: SocketAddr,
    /// Lines it wrote to stdout (the envelopes, without `--forward`).
    pub(crate) stdout: Arc<Mutex<Vec<String>>>,
    /// Lines it wrote to stderr (its log), for failure messages.
    pub(crate) log: Arc<Mutex<Vec<String>>>,
}

impl Relay {
    /// Starts `relay --listen 127.0.0.1:0 --sdkappid APP_ID --token TOKEN ARGS…` and waits until it listens.
    pub(crate) fn start(args: &[&str]) -> Relay {
        let mut command = Command::new(env!("CARGO_BIN_EXE_relay"));
        command.args(["--listen", "127.0.0.1:0", "--sdkappid", &APP_ID.to_string(), "--token", TOKEN]).args(args);
        Relay::spawn(command)
    }

    /// Starts `command` (the relay binary with its arguments) and waits until it listens.
    pub(crate) fn spawn(mut command: Command) -> Relay {
        let mut child = command
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the relay binary starts");
        let (stdout, log) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let (tx, rx) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().expect("piped"));
        let lines = Arc::clone(&stdout);
        std::thread::spawn(move || out.lines().map_while(Result::ok).for_each(|l| lines.lock().unwrap().push(l)));
        let err = BufReader::new(child.stderr.take().expect("piped"));
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.trim_end_matches("/callback").parse::<SocketAddr>());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let address = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(address)) => address,
            other => panic!("the relay did not start ({other:?}): {:#?}", log.lock().unwrap()),
        };
        Relay { child: Some(child), address, stdout, log }
    }

    /// The address of its admin endpoints (`--admin`), from its log.
    pub(crate) fn admin_address(&self) -> SocketAddr {
        let log = self.log.lock().unwrap();
        let line = log.iter().find_map(|l| l.split("admin endpoints at http://").nth(1)).expect("--admin was given");
        line.split('/').next().unwrap().parse().expect("an address")
    }

    /// Kills it with SIGKILL: no graceful shutdown, requests in flight are cut.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The envelopes it printed, once there are at least `n`: the relay flushes a line before it
    /// answers, but the pipe is read by another thread here. Gives up after 30 s.
    pub(crate) async fn printed_at_least(&self, n: usize) -> Vec<serde_json::Value> {
        for _ in 0..3000 {
            if self.stdout.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.printed()
    }

    /// Its log, once `needle` appears in it at least `times` times: the log is read from a pipe by
    /// another thread, and workers start after the relay listens. Gives up after 30 s and returns
    /// the log as it is then.
    pub(crate) async fn log_once_it_has(&self, needle: &str, times: usize) -> String {
        for _ in 0..3000 {
            if self.log.lock().unwrap().iter().map(|l| l.matches(needle).count()).sum::<usize>() >= times {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.log.lock().unwrap().join("\n")
    }

    /// The envelopes it printed so far, parsed.
    pub(crate) fn printed(&self) -> Vec<serde_json::Value> {
        let lines = self.stdout.lock().unwrap();
        lines.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One event: its command, body and the key the relay deduplicates it by.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) command: String,
    pub(crate) body: Vec<u8>,
    pub(crate) key: String,
}

/// `n` distinct after-callback events, cycling through every after fixture: each is the fixture's
/// sample with an extra field `RelayTestSeq` (unknown fields are accepted, and it changes the hash)
/// and, for a command keyed by a field of its body (`MsgKey`), a value of that field of its own.
pub(crate) fn after_events(n: usize) -> Vec<Event> {
    let fixtures: Vec<_> = tests::fixtures()
        .into_iter()
        .filter(|f| Callback::from_name(&f.command).is_some_and(|c| c.kind() == CallbackKind::After))
        .collect();
    (0..n)
        .map(|i| {
            let fixture = &fixtures[i % fixtures.len()];
            let mut body = fixture.sample_json();
            let object = body.as_object_mut().expect("samples are objects");
            object.insert("RelayTestSeq".into(), i.into());
            let field = dedup_field(&fixture.command);
            if let Some(field) = field {
                object.insert(field.into(), format!("relay-test-{i}").into());
            }
            let body = serde_json::to_vec(&body).unwrap();
            Event { key: dedup_key(&fixture.command, &body, field), command: fixture.command.clone(), body }
        })
        .collect()
}

/// The body field the command's schema keys it by, as the relay does by default.
fn dedup_field(command: &str) -> Option<&'static str> {
    Callback::from_name(command).and_then(Callback::dedup_field)
}

/// A fixture as it is, as an event.
pub(crate) fn fixture_event(fixture: &tests::Fixture) -> Event {
    Event {
        command: fixture.command.clone(),
        key: dedup_key(&fixture.command, &fixture.sample, dedup_field(&fixture.command)),
        body: fixture.sample.clone(),
    }
}

/// POSTs a signed event to a relay; `None` when the connection fails or is cut (a killed relay).
pub(crate) async fn deliver(address: SocketAddr, event: &Event) -> Option<(u16, String)> {
    let query = tests::signed_query(&event.command, tests::now());
    post(address, &format!("/callback?{query}"), &event.body).await
}

/// One HTTP/1.1 POST; `None` on any connection error.
pub(crate) async fn post(address: SocketAddr, path_and_query: &str, body: &[u8]) -> Option<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.ok()?;
        let head = format!(
            "POST {path_and_query} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(body).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        let response = String::from_utf8(response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    };
    tokio::time::timeout(Duration::from_secs(30), exchange).await.ok().flatten()
}

/// One HTTP/1.1 GET; `None` on any connection error.
pub(crate) async fn get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.ok()?;
        let head = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        let response = String::from_utf8(response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        Some((head.split(' ').nth(1)?.parse().ok()?, body.to_owned()))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange).await.ok().flatten()
}

/// Whether a reply is the plain acknowledgement.
pub(crate) fn is_ok(reply: &Option<(u16, String)>) -> bool {
    matches!(reply, Some((200, body)) if body == r#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#)
}

/// A deterministic shuffle (an LCG), so a failing run can be repeated.
pub(crate) fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        items.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

/// Runs the Python consumer over a Redis stream: every envelope valid under the envelope schema,
/// no duplicate, `expected` in all. Its test needs `python_redis`.
pub(crate) fn python_consumer(url: &str, stream: &str, expected: usize) {
    let script = tests::workspace_root().join("relay/tests/consumer.py");
    let output =
        Command::new("python3").arg(script).args([url, stream, &expected.to_string()]).output().expect("python3 runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the Python consumer failed:\n{text}");
    println!("{text}");
}

/// Every entry of a Redis stream, as parsed envelopes.
pub(crate) async fn read_stream(url: &str, stream: &str) -> Vec<serde_json::Value> {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.expect("redis answers");
    let entries: Vec<(String, Vec<(String, String)>)> =
        redis::cmd("XRANGE").arg(stream).arg("-").arg("+").query_async(&mut connection).await.expect("XRANGE");
    entries
        .into_iter()
        .map(|(id, fields)| {
            assert_eq!(fields.len(), 1, "entry {id} has one field");
            assert_eq!(fields[0].0, "envelope");
            serde_json::from_str(&fields[0].1).unwrap_or_else(|e| panic!("entry {id}: {e}"))
        })
        .collect()
}
