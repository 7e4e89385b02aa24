//! A tiny HTTP/1.1 server on a free loopback port for the fetch tests: it serves saved pages,
//! records every request, answers `304` to a matching `If-None-Match`, and can be told to fail
//! the next requests with a status of choice. One request per connection.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

/// A page the server serves.
#[derive(Clone)]
pub struct Served {
    pub body: String,
    pub content_type: &'static str,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// One request as received: the path and the headers (names lowercased).
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    pages: HashMap<String, Served>,
    failures: Vec<u16>,
    seen: Vec<Seen>,
}

pub struct Server {
    pub base: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_state, thread_stop) = (state.clone(), stop.clone());
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    serve(stream, &thread_state);
                }
            }
        });
        Server { base, state, stop, thread: Some(thread) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn put(&self, path: &str, page: Served) {
        self.state.lock().unwrap().pages.insert(path.to_owned(), page);
    }

    /// The next requests, one per status given, fail with these statuses.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.state.lock().unwrap().failures.extend_from_slice(statuses);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.base.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() || request_line.is_empty() {
        return;
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let mut state = state.lock().unwrap();
    state.seen.push(Seen { path: path.clone(), headers: headers.clone() });
    let (status, extra, body) = if !state.failures.is_empty() {
        let status = state.failures.remove(0);
        (status, String::new(), "try again later".to_owned())
    } else {
        match state.pages.get(&path) {
            None => (404, String::new(), "no such page".to_owned()),
            Some(page) => {
                let mut extra = format!("Content-Type: {}\r\n", page.content_type);
                if let Some(etag) = &page.etag {
                    extra += &format!("ETag: {etag}\r\n");
                }
                if let Some(date) = &page.last_modified {
                    extra += &format!("Last-Modified: {date}\r\n");
                }
                if page.etag.is_some() && headers.get("if-none-match") == page.etag.as_ref() {
                    (304, extra, String::new())
                } else {
                    (200, extra, page.body.clone())
                }
            }
        }
    };
    drop(state);
    let reason = match status {
        200 => "OK",
        304 => "Not Modified",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Error",
    };
    let head =
        format!("HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}
