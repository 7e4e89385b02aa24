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
    std::fs::create_dir_all(&dir).unwrap();
    let dead_letters = dir.join("dead-letters.jsonl");
    let _ = std::fs::remove_file(&dead_letters);
    let mut child = Command::new(env!("CARGO_BIN_EXE_slow_receiver"))
        .env("HANDLER_MS", handler_ms.to_string())
        .env("DRAIN_MS", drain_ms.to_string())
        .env("DEAD_LETTERS", &dead_letters)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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

impl Receiver {
    async fn post_create(&self) -> u16 {
        let body = fixtures().into_iter().find(|f| f.command == CREATE).unwrap().sample;
        let query = format!("SdkAppid=1&CallbackCommand={CREATE}&RequestID=req-1");
        post(self.address, &format!("/callback?{query}"), &body).await.0
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
