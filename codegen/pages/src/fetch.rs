//! `cargo codegen fetch`: downloads vendor pages the way a well-behaved client does.
//!
//! Each request has a timeout and an honest `User-Agent` naming this tool and its repository.
//! A failed attempt (a transport error, a 5xx or 429 answer) is retried with exponential
//! back-off. Each page gets a sidecar, `<name>.fetch.json`, recording its address, the date it
//! was fetched and last checked, and the page's own `ETag` and `Last-Modified`; the next fetch
//! sends them back as `If-None-Match` / `If-Modified-Since`, and a `304 Not Modified` leaves the
//! page untouched.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::Error;

/// The `User-Agent` sent with every request.
pub fn user_agent() -> String {
    format!("tencent-chat-callbacks-codegen/{} (+{})", env!("CARGO_PKG_VERSION"), env!("CARGO_PKG_REPOSITORY"))
}

/// How pages are fetched.
#[derive(Debug, Clone)]
pub struct Options {
    /// The limit on one attempt, from connecting to the last byte.
    pub timeout: Duration,
    /// How many times a failed attempt is retried.
    pub retries: u32,
    /// The wait before the first retry; it doubles for each further one.
    pub backoff: Duration,
    /// The largest page accepted, in bytes.
    pub max_bytes: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_secs(2),
            max_bytes: 20 * 1024 * 1024,
        }
    }
}

/// The sidecar of a fetched page, `<name>.fetch.json` beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sidecar {
    /// The address the page was fetched from.
    pub url: String,
    /// The page's file name in the same directory.
    pub file: String,
    /// When the page's contents were last downloaded (RFC 3339, UTC).
    pub fetched: String,
    /// When the server was last asked about it (RFC 3339, UTC).
    pub checked: String,
    /// The page's `ETag`, if the server sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The page's `Last-Modified` header as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The same date as RFC 3339, when it parses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_rfc3339: Option<String>,
}

/// The sidecar of the page at `path`, if `fetch` left one (`page.html` → `page.fetch.json`).
pub fn sidecar_of(path: &Path) -> Option<Sidecar> {
    let text = fs::read_to_string(path.with_extension("fetch.json")).ok()?;
    serde_json::from_str::<Sidecar>(&text).ok().filter(|s| path.file_name().is_some_and(|name| name == s.file.as_str()))
}

/// What a fetch did with one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The page was downloaded and written.
    Downloaded,
    /// The server answered `304 Not Modified`; the page was left as it was.
    Unchanged,
}

/// One fetched page.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The address.
    pub url: String,
    /// Where the page is.
    pub path: PathBuf,
    /// What happened.
    pub outcome: Outcome,
    /// How many attempts it took.
    pub attempts: u32,
    /// The sidecar as written.
    pub sidecar: Sidecar,
}

/// A client for fetching pages.
pub struct Fetcher {
    agent: ureq::Agent,
    options: Options,
}

impl Fetcher {
    /// A client with these options.
    pub fn new(options: Options) -> Fetcher {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(options.timeout))
            .user_agent(user_agent())
            .http_status_as_error(false)
            .build()
            .into();
        Fetcher { agent, options }
    }

    /// Fetches `url` into `out` (created if need be), conditionally when an earlier fetch left
    /// a sidecar and the page is still there.
    pub fn fetch(&self, url: &str, out: &Path) -> Result<Fetched, Error> {
        fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let stem = file_stem(url);
        let sidecar_path = out.join(format!("{stem}.fetch.json"));
        let previous: Option<Sidecar> = fs::read_to_string(&sidecar_path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .filter(|s: &Sidecar| s.url == url && out.join(&s.file).is_file());

        let mut attempts = 0;
        let mut response = loop {
            attempts += 1;
            let (failure, asked) = match self.attempt(url, previous.as_ref()) {
                Ok(response) if retryable(response.status().as_u16()) => {
                    (format!("HTTP {}", response.status()), retry_after(&response))
                }
                Ok(response) => break response,
                Err(error) => (error.to_string(), None),
            };
            if attempts > self.options.retries {
                return Err(Error::Fetch {
                    url: url.to_owned(),
                    message: format!("{failure} (after {attempts} attempts)"),
                });
            }
            thread::sleep(self.delay(attempts, asked));
        };

        let now = rfc3339(SystemTime::now());
        let status = response.status().as_u16();
        if status == 304 {
            let mut sidecar = previous.ok_or_else(|| Error::Fetch {
                url: url.to_owned(),
                message: "304 Not Modified to a request that was not conditional".into(),
            })?;
            sidecar.checked = now;
            write_sidecar(&sidecar_path, &sidecar)?;
            let path = out.join(&sidecar.file);
            return Ok(Fetched { url: url.to_owned(), path, outcome: Outcome::Unchanged, attempts, sidecar });
        }
        if !(200..300).contains(&status) {
            return Err(Error::Fetch { url: url.to_owned(), message: format!("HTTP {}", response.status()) });
        }

        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let etag = header("etag");
        let last_modified = header("last-modified");
        let extension = extension(header("content-type").as_deref().unwrap_or(""));
        let body = response
            .body_mut()
            .with_config()
            .limit(self.options.max_bytes)
            .read_to_vec()
            .map_err(|e| Error::Fetch { url: url.to_owned(), message: e.to_string() })?;
        let file = format!("{stem}.{extension}");
        let path = out.join(&file);
        fs::write(&path, &body).map_err(|e| Error::io(&path, e))?;
        if let Some(old) = previous.filter(|p| p.file != file) {
            let _ = fs::remove_file(out.join(old.file));
        }
        let sidecar = Sidecar {
            url: url.to_owned(),
            file,
            fetched: now.clone(),
            checked: now,
            last_modified_rfc3339: last_modified
                .as_deref()
                .and_then(|d| httpdate::parse_http_date(d).ok())
                .map(rfc3339),
            etag,
            last_modified,
        };
        write_sidecar(&sidecar_path, &sidecar)?;
        Ok(Fetched { url: url.to_owned(), path, outcome: Outcome::Downloaded, attempts, sidecar })
    }

    /// The wait after failed attempt number `attempt` (from 1): the back-off doubled for each
    /// earlier failure, or longer when the server asked for it with `Retry-After` (at most a
    /// minute).
    fn delay(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        let backoff = self.options.backoff.saturating_mul(1 << (attempt - 1).min(16));
        backoff.max(asked.unwrap_or_default().min(MAX_RETRY_AFTER))
    }

    fn attempt(&self, url: &str, previous: Option<&Sidecar>) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut request = self.agent.get(url);
        if let Some(previous) = previous {
            if let Some(etag) = &previous.etag {
                request = request.header("If-None-Match", etag);
            }
            if let Some(date) = &previous.last_modified {
                request = request.header("If-Modified-Since", date);
            }
        }
        request.call()
    }
}

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A `Retry-After` given in seconds.
fn retry_after(response: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

/// Answers worth another try: the server's trouble or its asking us to slow down.
fn retryable(status: u16) -> bool {
    status == 429 || status >= 500
}

fn write_sidecar(path: &Path, sidecar: &Sidecar) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(sidecar).expect("a sidecar encodes") + "\n";
    fs::write(path, json).map_err(|e| Error::io(path, e))
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A file name for a URL: its path segments joined with `-` (`document/product/1047/34372` →
/// `document-product-1047-34372`), other characters replaced; the host when the path is empty.
pub fn file_stem(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.trim_end_matches('/');
    let path = [".html", ".htm", ".md", ".txt"].iter().find_map(|e| path.strip_suffix(e)).unwrap_or(path);
    let source = if path.is_empty() { host } else { path };
    let stem: String = source.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
    let stem = stem.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-");
    if stem.is_empty() { "page".to_owned() } else { stem }
}

/// The extension for a `Content-Type`: `html`, `md` or `txt`.
fn extension(content_type: &str) -> &'static str {
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match media.as_str() {
        "text/html" | "application/xhtml+xml" => "html",
        "text/markdown" | "text/x-markdown" => "md",
        _ => "txt",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_addresses() {
        assert_eq!(file_stem("https://www.example.test/document/product/1047/34372"), "document-product-1047-34372");
        assert_eq!(file_stem("http://127.0.0.1:8080/pages/list.html?lang=zh#top"), "pages-list");
        assert_eq!(file_stem("https://example.test/"), "example-test");
        assert_eq!(extension("text/html; charset=utf-8"), "html");
        assert_eq!(extension("text/markdown"), "md");
        assert_eq!(extension(""), "txt");
    }

    #[test]
    fn the_back_off_doubles_and_honours_retry_after_up_to_a_minute() {
        let fetcher = Fetcher::new(Options { backoff: Duration::from_millis(100), ..Options::default() });
        let delays: Vec<u128> = (1..=4).map(|n| fetcher.delay(n, None).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800]);
        assert_eq!(fetcher.delay(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(fetcher.delay(3, Some(Duration::ZERO)), Duration::from_millis(400));
        assert_eq!(fetcher.delay(1, Some(Duration::from_secs(3600))), MAX_RETRY_AFTER);
    }

    #[test]
    fn the_user_agent_names_the_tool_and_where_it_lives() {
        let agent = user_agent();
        assert!(agent.starts_with("tencent-chat-callbacks-codegen/0."), "{agent}");
        assert!(agent.contains("(+https://github.com/"), "{agent}");
    }
}
