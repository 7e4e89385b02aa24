//! Dead letters written by a failing receiver are sent again by `example-send --replay` once the
//! bug is fixed: each arrives with its own command and body, signed afresh.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tencent_chat_callbacks::dead_letter::JsonLinesSink;
use tencent_chat_callbacks::{Context, Dispatcher, group};
use tests::{APP_ID, TOKEN, fixtures, now, post, signed_query};

#[tokio::test]
async fn dead_letters_are_replayed_signed_afresh() {
    let dir = std::env::temp_dir().join(format!("replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let letters = dir.join("dead-letters.jsonl");
    let _ = std::fs::remove_file(&letters);

    let broken = Arc::new(AtomicBool::new(true));
    let received = Arc::new(Mutex::new(Vec::new()));
    let (is_broken, seen) = (broken.clone(), received.clone());
    let dispatcher = Dispatcher::builder()
        .app_id(APP_ID)
        .token(TOKEN)
        .dead_letters(JsonLinesSink::open(&letters).unwrap())
        .on::<group::AfterCreateGroup, _>(move |event: group::AfterCreateGroup, _: Context| {
            let outcome = if is_broken.load(Ordering::SeqCst) {
                Err("a bug")
            } else {
                seen.lock().unwrap().push(event.name);
                Ok(())
            };
            async move { outcome }
        })
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(tencent_chat_callbacks::axum::Server::new(dispatcher).serve_until(listener, std::future::pending()));

    let sample = fixtures().into_iter().find(|f| f.command == "Group.CallbackAfterCreateGroup").unwrap().sample_json();
    let names = ["first", "second", "third"];
    for name in names {
        let mut body = sample.clone();
        body["Name"] = serde_json::json!(name);
        let query = signed_query("Group.CallbackAfterCreateGroup", now());
        let (status, _) = post(address, &format!("/callback?{query}"), &serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(status, 500);
    }
    assert_eq!(JsonLinesSink::read(&letters).unwrap().len(), 3);

    broken.store(false, Ordering::SeqCst);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_example-send"))
        .args(["--replay", letters.to_str().unwrap(), "--url", &format!("http://{address}/callback")])
        .env("TENCENT_CHAT_TOKEN", TOKEN)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("replayed 3 dead letter(s): 3 accepted, 0 not"), "{stdout}");
    assert_eq!(*received.lock().unwrap(), names);
}

/// A replay without a token refuses to send unsigned letters (a receiver with a token would
/// refuse them all), unless told `--unsigned`.
#[tokio::test]
async fn without_a_token_the_replay_says_it_cannot_sign() {
    let dir = std::env::temp_dir().join(format!("replay-unsigned-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let letters = dir.join("dead-letters.jsonl");
    std::fs::write(&letters, "").unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_example-send"))
        .args(["--replay", letters.to_str().unwrap(), "--url", "http://127.0.0.1:9/callback"])
        .env_remove("TENCENT_CHAT_TOKEN")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no token"), "{output:?}");
}

/// A before-callback answered by a `refuse` failure policy (200, `ErrorCode` 1) is refused, not
/// accepted; what was not accepted is written to a new file, and the file replayed is not added
/// to by the replay (the receiver appends its own letters there, after those read).
#[tokio::test]
async fn a_policy_refusal_counts_as_refused_and_failures_go_to_a_new_file() {
    let dir = std::env::temp_dir().join(format!("replay-refused-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let letters = dir.join("dead-letters.jsonl");
    let _ = std::fs::remove_file(&letters);
    let failed = dir.join("failed.jsonl");
    let _ = std::fs::remove_file(&failed);

    let dispatcher = Dispatcher::builder()
        .app_id(APP_ID)
        .token(TOKEN)
        .on_failure(tencent_chat_callbacks::FailurePolicy::Refuse)
        .dead_letters(JsonLinesSink::open(&letters).unwrap())
        .on::<group::BeforeCreateGroup, _>(|_: group::BeforeCreateGroup, _: Context| async {
            Err::<group::BeforeCreateGroupReply, _>("still broken")
        })
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(tencent_chat_callbacks::axum::Server::new(dispatcher).serve_until(listener, std::future::pending()));

    let sample = fixtures().into_iter().find(|f| f.command == "Group.CallbackBeforeCreateGroup").unwrap().sample;
    for _ in 0..2 {
        let query = signed_query("Group.CallbackBeforeCreateGroup", now());
        let (status, body) = post(address, &format!("/callback?{query}"), &sample).await;
        assert_eq!(status, 200, "{body}");
    }
    let before = std::fs::read_to_string(&letters).unwrap();
    assert_eq!(before.lines().count(), 2);

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_example-send"))
        .args(["--replay", letters.to_str().unwrap(), "--url", &format!("http://{address}/callback")])
        .args(["--failed", failed.to_str().unwrap()])
        .env("TENCENT_CHAT_TOKEN", TOKEN)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("replayed 2 dead letter(s): 0 accepted, 2 not"), "{stdout}");
    let written = JsonLinesSink::read(&failed).unwrap();
    assert_eq!(written, JsonLinesSink::read(&letters).unwrap()[..2], "the letters not accepted, as read");
    assert!(std::fs::read_to_string(&letters).unwrap().starts_with(&before), "the replayed file only grows");

    // The file being read is never the one written.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_example-send"))
        .args(["--replay", letters.to_str().unwrap(), "--url", &format!("http://{address}/callback")])
        .args(["--failed", letters.to_str().unwrap()])
        .env("TENCENT_CHAT_TOKEN", TOKEN)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}
