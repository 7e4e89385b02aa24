//! What the operator sees: `example-server` run as a process, its log read line by line. Request
//! values never forge a line or carry terminal escapes, a flood of refusals writes a bounded log,
//! insecure modes are loud, and metrics are served.

mod support;

use support::{Server, next_line};
use tests::{APP_ID, TOKEN, fixtures, now, post, request, signed_query};

const CREATE: &str = "Group.CallbackAfterCreateGroup";

/// Starts `example-server` with `args` and `env`.
async fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
    Server::start(|command| {
        command.args(args);
        for (name, value) in env {
            command.env(name, value);
        }
    })
    .await
}

/// Sends a genuine event named `marker` and returns every log line written up to its own.
async fn lines_until_marker(server: &mut Server, marker: &str) -> Vec<String> {
    let mut body = fixtures().into_iter().find(|f| f.command == CREATE).unwrap().sample_json();
    body["Name"] = serde_json::json!(marker);
    let query = signed_query(CREATE, now());
    let (status, _) = post(server.address, &format!("/callback?{query}"), &serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, 200);
    let mut seen = Vec::new();
    loop {
        let line = next_line(&mut server.lines).await;
        let done = line.contains(marker);
        seen.push(line);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn request_values_cannot_forge_log_lines_or_drive_the_terminal() {
    let mut server = start(&["--sdkappid", &APP_ID.to_string()], &[("TENCENT_CHAT_TOKEN", TOKEN)]).await;
    let hostile = [
        "SdkAppid=1%0AINFO%20FORGED%20admin%20logged%20in&CallbackCommand=Group.CallbackAfterCreateGroup",
        "SdkAppid=1400000000&CallbackCommand=X%0D%0AFORGED&Sign=1&RequestTime=1",
        "SdkAppid=%1B%5B31mred&CallbackCommand=%1B%5D0%3Btitle%07",
        "SdkAppid=1400000000&CallbackCommand=C2C.CallbackBeforeSendMsg&ClientIP=1.2.3.4%0AFORGED&Sign=x&RequestTime=1",
    ];
    for query in hostile {
        let (status, _) = post(server.address, &format!("/callback?{query}"), b"{}").await;
        assert!((400..500).contains(&status), "{query}: {status}");
    }
    let lines = lines_until_marker(&mut server, "marker-forge").await;
    assert!(lines.iter().any(|l| l.contains(r"1\nINFO FORGED")), "the refusal is logged, escaped: {lines:#?}");
    assert!(!lines.iter().any(|l| l.trim_start().starts_with("FORGED") || l.starts_with("INFO FORGED")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains('\u{1b}') || l.contains('\u{7}')), "{lines:#?}");
}

/// The refusal log's budget per second (the library's `REFUSAL_LOG_LINES_PER_SECOND`).
const REFUSAL_LINES_PER_SECOND: usize = 20;

#[tokio::test]
async fn a_flood_of_forged_requests_writes_a_bounded_log() {
    let mut server = start(&["--sdkappid", &APP_ID.to_string()], &[("TENCENT_CHAT_TOKEN", TOKEN)]).await;
    let huge = format!("SdkAppid={}&CallbackCommand={CREATE}", "9".repeat(60_000));
    // The limiter allows a burst per one-second window, and the flood may straddle windows; so the
    // bound is taken from how long the flood took, and the flood goes on until it is at least
    // four times that bound (otherwise an unlimited log would pass too).
    let started = std::time::Instant::now();
    let allowed = || REFUSAL_LINES_PER_SECOND * (started.elapsed().as_secs() as usize + 2);
    let mut sent = 0;
    while sent < 300 || sent < 4 * allowed() {
        assert!(sent < 5_000, "the server answers too slowly for the flood to outrun its log budget");
        let (status, _) = post(server.address, &format!("/callback?{huge}"), b"{}").await;
        assert_eq!(status, 400);
        sent += 1;
    }
    let allowed = allowed();
    let lines = lines_until_marker(&mut server, "marker-flood").await;
    let refused = lines.iter().filter(|l| l.contains("callback refused")).count();
    assert!(refused <= allowed, "{refused} refusal lines for {sent} forged requests (at most {allowed}): {lines:#?}");
    // Unbounded, each line was 60 KB.
    assert!(lines.iter().all(|l| l.len() < 2048), "every value is clipped");
}

#[tokio::test]
async fn insecure_modes_are_loud() {
    let server = start(&["--token", TOKEN], &[]).await;
    let log = server.start_log.join("\n");
    assert!(log.contains("WARN") && log.contains("where `ps` shows it"), "{log}");
    assert!(log.contains("accepting callbacks for ANY SdkAppid"), "{log}");

    let server = start(&[], &[]).await;
    let log = server.start_log.join("\n");
    assert!(log.contains("Sign is NOT checked"), "{log}");
    assert!(log.contains("no webhook token is set"), "the library warns too: {log}");
}

#[tokio::test]
async fn the_failure_policy_is_chosen_by_flag_or_environment_and_metrics_are_served() {
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let metrics = metrics_port.to_string();
    let mut server = start(
        &["--sdkappid", &APP_ID.to_string(), "--metrics", &metrics],
        &[("TENCENT_CHAT_TOKEN", TOKEN), ("TENCENT_CHAT_ON_FAILURE", "refuse")],
    )
    .await;
    // An undecodable before-callback: refused by the policy, with a 200 the vendor honours.
    let query = signed_query("C2C.CallbackBeforeSendMsg", now());
    let (status, reply) = post(server.address, &format!("/callback?{query}"), b"{\"MsgBody\": 1}").await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains(r#""ErrorCode":1"#), "{reply}");
    lines_until_marker(&mut server, "marker-metrics").await;

    let (status, text) = request(metrics_port, "GET", "/metrics", b"").await;
    assert_eq!(status, 200);
    assert!(
        text.contains(
            r#"tencent_chat_callbacks_requests_total{command="Group.CallbackAfterCreateGroup",outcome="ok"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("tencent_chat_callbacks_failure_policy_total{"), "{text}");
    assert!(text.contains(r#"policy="refuse""#) && text.contains(r#"reason="undecodable""#), "{text}");
}
