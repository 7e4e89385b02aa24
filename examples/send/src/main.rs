// Run with: cargo run -p example-send -- --url http://127.0.0.1:8080/callback --command Group.CallbackAfterCreateGroup
//
//! Posts callbacks to a webhook endpoint exactly as Tencent Cloud Chat would: the vendor's query
//! string (`SdkAppid`, `CallbackCommand`, `contenttype`, `ClientIP`, `OptPlatform`, and with a
//! token `Sign` and `RequestTime`) and a vendor sample as the body.
//!
//! Once: `--url URL --command CMD [--token T] [--body FILE]` prints the reply.
//! Replay: `--replay FILE --url URL [--token T]` sends again every dead letter of a JSON-lines
//! file written by the dispatcher's `JsonLinesSink`, each with its own command, app id and body,
//! signed afresh (without a token it refuses to run, unless `--unsigned`). A letter counts as
//! accepted only when answered 200 with `ErrorCode` 0; a refusal (by a failure policy, say) counts
//! as refused. Those not accepted are written to a new file (`--failed FILE`, by default
//! `FILE.failed-<unix ms>.jsonl`), never to the one being read; the exit status is non-zero
//! unless every one was accepted.
//! As load: add `--rate N --duration SECS [--invalid PERCENT]`; a share of the requests is then
//! deliberately invalid (a bad signature, a truncated body, another app's id, another command's
//! body, in turn), and the summary checks that every valid request got 200 and every invalid one
//! a 4xx, with no 5xx; the exit status is non-zero otherwise.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};
use tencent_chat_callbacks::dead_letter::{DeadLetterSink, JsonLinesSink};
use tokio::sync::{Mutex, Semaphore};

/// Posts Tencent Cloud Chat callbacks to a webhook endpoint, signed as the vendor signs them.
#[derive(Debug, Parser)]
struct Args {
    /// The endpoint, e.g. http://127.0.0.1:8080/callback (plain HTTP).
    #[arg(long)]
    url: String,
    /// The CallbackCommand; its vendor sample is the body. `all` cycles through every command.
    #[arg(long, required_unless_present = "replay")]
    command: Option<String>,
    /// Sends again the dead letters of this JSON-lines file instead (`example-server --dead-letter`).
    #[arg(long, conflicts_with_all = ["command", "body", "rate"])]
    replay: Option<PathBuf>,
    /// With `--replay`: where the letters that were not accepted are written (a new file).
    #[arg(long, requires = "replay")]
    failed: Option<PathBuf>,
    /// With `--replay`: send the letters without `Sign` when no token is set (else refused).
    #[arg(long, requires = "replay")]
    unsigned: bool,
    /// The webhook authentication token; without it, no Sign is sent.
    #[arg(long, env = "TENCENT_CHAT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The SdkAppid to send.
    #[arg(long, env = "TENCENT_CHAT_SDKAPPID", default_value_t = 1400000000)]
    sdkappid: u64,
    /// A file to send as the body instead of the command's vendor sample.
    #[arg(long)]
    body: Option<PathBuf>,
    /// Requests per second; without it, one request is sent.
    #[arg(long)]
    rate: Option<f64>,
    /// How long to send at `--rate`, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// The percentage of deliberately invalid requests under load.
    #[arg(long, default_value_t = 0)]
    invalid: u8,
    /// The most requests in flight at once under load.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

/// The kinds of deliberately invalid request, sent in turn.
#[derive(Debug, Clone, Copy)]
enum Invalid {
    BadSign,
    TruncatedBody,
    OtherApp,
    OtherCommandsBody,
}

const INVALID: [Invalid; 4] = [Invalid::BadSign, Invalid::TruncatedBody, Invalid::OtherApp, Invalid::OtherCommandsBody];

struct Sender {
    args: Args,
    client: Client<HttpConnector, Full<Bytes>>,
    /// `(command, body)` of every command sent.
    samples: Vec<(String, Bytes)>,
}

impl Sender {
    /// The query the vendor sends for `command`, signed now when a token is set.
    fn query(&self, command: &str, app_id: u64, bad_sign: bool) -> String {
        self.query_from(command, app_id, "203.0.113.7", "Web", bad_sign)
    }

    /// The same, from a given client address and platform.
    fn query_from(&self, command: &str, app_id: u64, client_ip: &str, platform: &str, bad_sign: bool) -> String {
        let encode = |value: &str| form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
        let mut query = format!(
            "SdkAppid={app_id}&CallbackCommand={}&contenttype=json&ClientIP={}&OptPlatform={}",
            encode(command),
            encode(client_ip),
            encode(platform)
        );
        if let Some(token) = &self.args.token {
            let time = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
            let mut sign = hex::encode(Sha256::digest(format!("{token}{time}")));
            if bad_sign {
                sign = sign.chars().rev().collect();
            }
            query.push_str(&format!("&Sign={sign}&RequestTime={time}"));
        }
        query
    }

    /// Sends request `n` (valid, or the given kind of invalid) and returns the status and body.
    async fn send(&self, n: usize, invalid: Option<Invalid>) -> Result<(u16, Bytes), String> {
        let (command, body) = &self.samples[n % self.samples.len()];
        let (query, body) = match invalid {
            None => (self.query(command, self.args.sdkappid, false), body.clone()),
            Some(Invalid::BadSign) => (self.query(command, self.args.sdkappid, true), body.clone()),
            Some(Invalid::TruncatedBody) => {
                (self.query(command, self.args.sdkappid, false), body.slice(..body.len() / 2))
            }
            Some(Invalid::OtherApp) => (self.query(command, self.args.sdkappid + 1, false), body.clone()),
            Some(Invalid::OtherCommandsBody) => {
                let (other, _) = &self.samples[(n + 1) % self.samples.len()];
                let other = if other == command { "Group.CallbackAfterGroupInfoChanged" } else { other };
                (self.query(other, self.args.sdkappid, false), body.clone())
            }
        };
        self.post(query, body).await
    }

    /// Posts `body` with `query` appended to the URL.
    async fn post(&self, query: String, body: Bytes) -> Result<(u16, Bytes), String> {
        let separator = if self.args.url.contains('?') { '&' } else { '?' };
        let request = hyper::Request::post(format!("{}{separator}{query}", self.args.url))
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let response = self.client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, body))
    }
}

/// What the load run saw.
#[derive(Debug, Default)]
struct Tally {
    valid_ok: usize,
    valid_refused: usize,
    invalid_refused: usize,
    invalid_accepted: usize,
    server_errors: usize,
    transport_errors: usize,
    latencies: Vec<Duration>,
    /// How many unexpected replies were printed (at most five).
    unexpected: usize,
}

fn samples(args: &Args) -> Result<Vec<(String, Bytes)>, String> {
    let Some(command) = &args.command else { return Ok(Vec::new()) };
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let read = |path: PathBuf| std::fs::read(&path).map(Bytes::from).map_err(|e| format!("{}: {e}", path.display()));
    if let Some(body) = &args.body {
        return Ok(vec![(command.clone(), read(body.clone())?)]);
    }
    if command != "all" {
        return Ok(vec![(command.clone(), read(fixtures.join(command).join("sample.json"))?)]);
    }
    let mut all: Vec<(String, Bytes)> = std::fs::read_dir(&fixtures)
        .map_err(|e| format!("{}: {e}", fixtures.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .map(|command| read(fixtures.join(&command).join("sample.json")).map(|body| (command, body)))
        .collect::<Result<_, _>>()?;
    all.sort();
    Ok(all)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let samples = match samples(&args) {
        Ok(samples) => samples,
        Err(error) => {
            eprintln!("error: {error} (use --body FILE for a command without a fixture)");
            return ExitCode::from(2);
        }
    };
    let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(args.concurrency).build_http();
    let (rate, replay_file) = (args.rate, args.replay.clone());
    let sender = Arc::new(Sender { args, client, samples });
    match (replay_file, rate) {
        (Some(file), _) => replay(&sender, &file).await,
        (None, None) => once(&sender).await,
        (None, Some(rate)) => load(sender, rate).await,
    }
}

/// Whether a reply accepts the event: 200 and `ErrorCode` 0. A 200 with another code is a
/// refusal (a before-callback's failure policy answers so).
fn accepted(status: u16, body: &[u8]) -> bool {
    let code = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|b| b.get("ErrorCode").cloned());
    status == 200 && code.is_some_and(|c| c == 0)
}

/// Where the letters a replay did not get accepted go: `FILE.failed-<unix ms>.jsonl` by default.
fn failed_path(sender: &Sender, file: &std::path::Path) -> Result<PathBuf, String> {
    let path = sender.args.failed.clone().unwrap_or_else(|| {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
        PathBuf::from(format!("{}.failed-{ms}.jsonl", file.display()))
    });
    let same = std::fs::canonicalize(file).ok() == std::fs::canonicalize(&path).ok();
    if same || path.exists() {
        return Err(format!("--failed {}: must be a new file, not the one replayed", path.display()));
    }
    Ok(path)
}

async fn replay(sender: &Sender, file: &std::path::Path) -> ExitCode {
    if sender.args.token.is_none() && !sender.args.unsigned {
        eprintln!(
            "error: no token (TENCENT_CHAT_TOKEN or --token), so the letters would be sent without Sign; \
             a receiver with a token refuses them. Pass --unsigned to send them so anyway."
        );
        return ExitCode::from(2);
    }
    // Read once: a receiver that writes its dead letters to this file appends while we replay.
    let letters = match JsonLinesSink::read(file) {
        Ok(letters) => letters,
        Err(error) => {
            eprintln!("error: {}: {error}", file.display());
            return ExitCode::from(2);
        }
    };
    let failed_path = match failed_path(sender, file) {
        Ok(path) => path,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut failed = Vec::new();
    for letter in &letters {
        let client_ip = letter.client_ip.as_deref().unwrap_or_default();
        let platform = letter.platform.as_deref().unwrap_or_default();
        let query = sender.query_from(&letter.command, letter.app_id, client_ip, platform, false);
        let result = sender.post(query, letter.raw_body()).await;
        let (id, reason) = (&letter.request_id, &letter.reason);
        match &result {
            Ok((status, body)) => {
                println!("{} {id} ({reason}): {status} {}", letter.command, String::from_utf8_lossy(body))
            }
            Err(error) => println!("{} {id} ({reason}): error: {error}", letter.command),
        }
        if !matches!(&result, Ok((status, body)) if accepted(*status, body)) {
            failed.push(letter);
        }
    }
    println!(
        "replayed {} dead letter(s): {} accepted, {} not",
        letters.len(),
        letters.len() - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    let written =
        JsonLinesSink::open(&failed_path).and_then(|sink| failed.iter().try_for_each(|letter| sink.write(letter)));
    match written {
        Ok(()) => println!("the {} not accepted are in {}", failed.len(), failed_path.display()),
        Err(error) => eprintln!("error: {}: {error}", failed_path.display()),
    }
    ExitCode::FAILURE
}

async fn once(sender: &Sender) -> ExitCode {
    match sender.send(0, None).await {
        Ok((status, body)) => {
            println!("{status} {}", String::from_utf8_lossy(&body));
            if status == 200 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

async fn load(sender: Arc<Sender>, rate: f64) -> ExitCode {
    let total = (rate * sender.args.duration).round() as usize;
    let every = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let invalid_every = match sender.args.invalid {
        0 => usize::MAX,
        p => (100 / usize::from(p.min(100))).max(1),
    };
    let tally = Arc::new(Mutex::new(Tally::default()));
    let permits = Arc::new(Semaphore::new(sender.args.concurrency));
    let mut ticker = tokio::time::interval(every);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        ticker.tick().await;
        let permit = Arc::clone(&permits).acquire_owned().await.expect("the semaphore stays open");
        let (sender, tally) = (Arc::clone(&sender), Arc::clone(&tally));
        let invalid = (n % invalid_every == invalid_every - 1).then(|| INVALID[(n / invalid_every) % INVALID.len()]);
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            let result = sender.send(n, invalid).await;
            let elapsed = start.elapsed();
            drop(permit);
            let mut t = tally.lock().await;
            t.latencies.push(elapsed);
            let unexpected = match (&result, invalid) {
                (Err(_), _) => true,
                (Ok((status, _)), None) => *status != 200,
                (Ok((status, _)), Some(_)) => *status == 200 || *status >= 500,
            };
            if unexpected && t.unexpected < 5 {
                t.unexpected += 1;
                eprintln!("unexpected reply to request {n} ({invalid:?}): {result:?}");
            }
            match (result, invalid) {
                (Err(_), _) => t.transport_errors += 1,
                (Ok((status, _)), _) if status >= 500 => t.server_errors += 1,
                (Ok((200, _)), None) => t.valid_ok += 1,
                (Ok(_), None) => t.valid_refused += 1,
                (Ok((200, _)), Some(_)) => t.invalid_accepted += 1,
                (Ok(_), Some(_)) => t.invalid_refused += 1,
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut t = tally.lock().await;
    t.latencies.sort();
    let percentile =
        |p: f64| t.latencies.get(((t.latencies.len() as f64 * p) as usize).min(t.latencies.len().saturating_sub(1)));
    let ms = |d: Option<&Duration>| d.map(|d| d.as_secs_f64() * 1000.0).unwrap_or_default();
    println!(
        "sent {total} requests in {seconds:.1} s ({:.0}/s): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        total as f64 / seconds,
        ms(percentile(0.50)),
        ms(percentile(0.99)),
        ms(t.latencies.last())
    );
    println!(
        "summary: valid_ok={} valid_refused={} invalid_refused={} invalid_accepted={} server_errors={} transport_errors={}",
        t.valid_ok, t.valid_refused, t.invalid_refused, t.invalid_accepted, t.server_errors, t.transport_errors
    );
    let clean = t.valid_refused == 0 && t.invalid_accepted == 0 && t.server_errors == 0 && t.transport_errors == 0;
    if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
