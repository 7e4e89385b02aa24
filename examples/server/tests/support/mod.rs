//! The `example-server` binary as a child process, shared by the example's tests.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tests::post;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// The server's log, one line per message. Its output is read as it comes, so that a server that
/// logs more than a pipe holds is seen doing so rather than blocked on a full pipe.
pub(crate) type Log = mpsc::UnboundedReceiver<String>;

/// A running server, killed when dropped.
pub(crate) struct Server {
    _child: Child,
    pub(crate) lines: Log,
    pub(crate) address: SocketAddr,
    pub(crate) start_log: Vec<String>,
}

impl Server {
    pub(crate) async fn start(configure: impl FnOnce(&mut Command)) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_example-server"));
        command
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("TENCENT_CHAT_SDKAPPID")
            .env_remove("TENCENT_CHAT_TOKEN")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        configure(&mut command);
        let mut child = command.spawn().expect("example-server starts");
        let mut output = BufReader::new(child.stdout.take().unwrap()).lines();
        let (sender, mut lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = output.next_line().await {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut start_log = Vec::new();
        let address = loop {
            let line = next_line(&mut lines).await;
            start_log.push(line.clone());
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim_end_matches("/callback").parse().expect("an address");
            }
        };
        Server { _child: child, lines, address, start_log }
    }

    pub(crate) async fn post(&self, query: &str, body: &[u8]) -> (u16, Value) {
        let (status, body) = post(self.address, &format!("/callback?{query}"), body).await;
        (status, serde_json::from_str(&body).expect("a JSON reply"))
    }
}

pub(crate) async fn next_line(lines: &mut Log) -> String {
    tokio::time::timeout(Duration::from_secs(30), lines.recv())
        .await
        .expect("the server writes a line in time")
        .expect("the server is still running")
}
