//! Graceful shutdown with real signals: a receiver process (`slow_receiver`, the library's
//! `Server`) answers at the deadline, gets SIGTERM or SIGINT, and either lets its slow handler
//! finish or, past the drain timeout, dead-letters the event with reason `shutdown`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tencent_chat_callbacks::dead_letter::JsonLinesSink;
use tests::{fixtures, post};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const CREATE: &str = "Group.CallbackAfterCreateGroup";
const PATIENCE: Duration = Duration::from_secs(30);

struct Receiver {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    address: std::net::SocketAddr,
    dead_letters: PathBuf,
}

async fn start(name: &str, handler_ms: u64, drain_ms: u64) -> Receiver {
    let dir = std::env::temp_dir().join(format!("shutdown-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    restart(&dir.join("dead-letters.jsonl"), handler_ms, drain_ms, Stdio::null()).await
}

/// Starts a receiver on an existing dead-letter file, its stderr (the log) going to `log`.
async fn restart(dead_letters: &std::path::Path, handler_ms: u64, drain_ms: u64, log: Stdio) -> Receiver {
    let dead_letters = dead_letters.to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slow_receiver"))
        .env("HANDLER_MS", handler_ms.to_string())
        .env("DRAIN_MS", drain_ms.to_string())
        .env("DEAD_LETTERS", &dead_letters)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("slow_receiver starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = next_line(&mut lines).await.expect("a first line");
    let address = first.strip_prefix("listening on ").expect("the address").parse().unwrap();
    Receiver { child, lines, address, dead_letters }
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> Option<String> {
    tokio::time::timeout(PATIENCE, lines.next_line()).await.expect("a line in time").expect("readable stdout")
}

/// Posts the group-created sample for `group`, as request `request_id`.
async fn post_group(address: std::net::SocketAddr, group: &str, request_id: &str) -> u16 {
    let mut body = fixtures().into_iter().find(|f| f.command == CREATE).unwrap().sample_json();
    body["GroupId"] = serde_json::json!(group);
    let query = format!("SdkAppid=1&CallbackCommand={CREATE}&RequestID={request_id}");
    post(address, &format!("/callback?{query}"), &serde_json::to_vec(&body).unwrap()).await.0
}

impl Receiver {
    async fn post_create(&self) -> u16 {
        post_group(self.address, "@TGS#2J4SZEAEL", "req-1").await
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill").args(["-s", signal, &pid]).status().expect("kill runs");
        assert!(status.success());
    }

    async fn exit(mut self) -> (std::process::ExitStatus, Vec<String>, PathBuf) {
        let mut rest = Vec::new();
        while let Some(line) = next_line(&mut self.lines).await {
            rest.push(line);
        }
        let status = tokio::time::timeout(PATIENCE, self.child.wait()).await.expect("exits in time").unwrap();
        (status, rest, self.dead_letters)
    }
}

#[tokio::test]
async fn sigterm_lets_a_handler_running_past_its_deadline_finish() {
    let receiver = start("finish", 1500, 20_000).await;
    assert_eq!(receiver.post_create().await, 200, "answered at the deadline");
    receiver.signal("TERM");
    let (status, lines, dead_letters) = receiver.exit().await;
    assert!(status.success(), "{status}");
    assert!(lines.iter().any(|l| l.starts_with("finished @TGS#")), "the handler finished before exit: {lines:?}");
    assert!(JsonLinesSink::read(&dead_letters).unwrap().is_empty(), "nothing was abandoned");
}

#[tokio::test]
async fn sigint_past_the_drain_timeout_dead_letters_the_running_handler() {
    let receiver = start("abandon", 60_000, 300).await;
    assert_eq!(receiver.post_create().await, 200);
    receiver.signal("INT");
    let (status, lines, dead_letters) = receiver.exit().await;
    assert!(status.success(), "{status}");
    assert!(!lines.iter().any(|l| l.starts_with("finished")), "{lines:?}");
    let letters = JsonLinesSink::read(&dead_letters).unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!((letters[0].reason.as_str(), letters[0].request_id.as_str()), ("shutdown", "req-1"));
    assert!(letters[0].body.as_deref().unwrap().contains(CREATE));
}

#[tokio::test]
async fn every_event_acknowledged_before_a_sigkill_is_handled_after_the_restart() {
    // Handlers take 5 s and the deadline is 200 ms: every event is acknowledged while its handler
    // still runs, and all are running when the process is killed.
    let receiver = start("sigkill", 5_000, 1_000).await;
    let address = receiver.address;
    let posts: Vec<_> = (0..20)
        .map(|n| tokio::spawn(async move { post_group(address, &format!("@TGS#KILL{n}"), &format!("req-{n}")).await }))
        .collect();
    for post in posts {
        assert_eq!(post.await.unwrap(), 200, "acknowledged at the deadline");
    }
    receiver.signal("KILL");
    let (_, lines, dead_letters) = receiver.exit().await;
    assert!(!lines.iter().any(|l| l.starts_with("finished")), "killed before any handler finished: {lines:?}");

    // The next start hands every unfinished event to its handler again.
    let log = std::fs::File::create(dead_letters.with_extension("log")).unwrap();
    let mut restarted = restart(&dead_letters, 10, 1_000, log.into()).await;
    let mut finished = std::collections::BTreeSet::new();
    while finished.len() < 20 {
        let line = next_line(&mut restarted.lines).await.expect("more handlers finish");
        if let Some(group) = line.strip_prefix("finished @TGS#KILL") {
            finished.insert(group.parse::<u32>().unwrap());
        }
    }
    assert_eq!(finished, (0..20).collect(), "every acknowledged event was handled");
    restarted.signal("TERM");
    let (status, _, dead_letters) = restarted.exit().await;
    assert!(status.success());
    assert!(JsonLinesSink::read(&dead_letters).unwrap().is_empty(), "nothing is left unfinished");
    // The dispatcher was built before logging existed; its build warnings still reached the log,
    // without colour codes (stderr is a file).
    let log = std::fs::read_to_string(dead_letters.with_extension("log")).unwrap();
    assert!(log.contains("no webhook token is set"), "{log}");
    assert!(!log.contains('\x1b'), "no terminal escapes in a log file");
}
