//! Support for the workspace's tests and the examples' tests: the fixtures, signed query strings
//! as the vendor sends them, and a minimal HTTP/1.1 client for loopback servers.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub mod serve;
pub mod servers;

// The skip gate, `needs!`, written by build.rs from the tools this machine has.
include!(concat!(env!("OUT_DIR"), "/gate.rs"));

/// The app id the tests configure.
pub const APP_ID: u64 = 1400000000;
/// The token the tests configure.
pub const TOKEN: &str = "test-token";

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_owned()
}

/// One command's fixtures, from `tests/fixtures/<CallbackCommand>/`.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The command, the directory's name.
    pub command: String,
    /// `sample.json`: the vendor sample made valid JSON, values as the vendor sent them.
    pub sample: Vec<u8>,
    /// `vendor-sample.txt`: the vendor sample exactly as published, comments and defects included.
    pub vendor_sample: String,
}

impl Fixture {
    /// The sample, parsed.
    pub fn sample_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.sample).unwrap_or_else(|e| panic!("{}: sample.json: {e}", self.command))
    }
}

/// Every fixture directory, sorted by command.
pub fn fixtures() -> Vec<Fixture> {
    let dir = workspace_root().join("tests/fixtures");
    let mut out: Vec<Fixture> = fs::read_dir(&dir)
        .expect("tests/fixtures exists")
        .map(|entry| {
            let path = entry.expect("readable entry").path();
            let read =
                |name: &str| fs::read(path.join(name)).unwrap_or_else(|e| panic!("{}: {e}", path.join(name).display()));
            Fixture {
                command: path.file_name().expect("named").to_string_lossy().into_owned(),
                sample: read("sample.json"),
                vendor_sample: String::from_utf8(read("vendor-sample.txt")).expect("UTF-8"),
            }
        })
        .collect();
    out.sort_by(|a, b| a.command.cmp(&b.command));
    out
}

/// `Sign` for `token` and `request_time`, computed independently of the crate under test.
pub fn sign(token: &str, request_time: u64) -> String {
    hex::encode(Sha256::digest(format!("{token}{request_time}")))
}

/// The query string the vendor sends for `command`, signed with [`TOKEN`] at `request_time`, with
/// the undocumented `RequestID` the vendor adds in real traffic.
pub fn signed_query(command: &str, request_time: u64) -> String {
    format!(
        "SdkAppid={APP_ID}&CallbackCommand={command}&contenttype=json&ClientIP=203.0.113.7&OptPlatform=iOS\
         &RequestID=52c68065-ed12-41c1-8661-045ea5d16695&Sign={}&RequestTime={request_time}",
        sign(TOKEN, request_time)
    )
}

/// The current Unix time in seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

/// Sends one HTTP/1.1 request to a loopback server and returns the status and body.
pub async fn request(address: SocketAddr, method: &str, path_and_query: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.expect("server is listening");
    let head = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("request sent");
    stream.write_all(body).await.expect("body sent");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("response read");
    let response = String::from_utf8(response).expect("UTF-8 response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a header block");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    (status, body.to_owned())
}

/// POSTs `body` to a loopback server.
pub async fn post(address: SocketAddr, path_and_query: &str, body: &[u8]) -> (u16, String) {
    request(address, "POST", path_and_query, body).await
}

/// [`post`] with owned arguments, for a request on a task of its own.
pub async fn post_owned(address: SocketAddr, path_and_query: String, body: Vec<u8>) -> (u16, String) {
    post(address, &path_and_query, &body).await
}
