//! The axum adapter: in process with `oneshot`, and over a real loopback socket.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tencent_chat_callbacks::{Context, Dispatcher, group};
use tests::{APP_ID, TOKEN, fixtures, now, post, request, signed_query};
use tower::ServiceExt;

fn dispatcher() -> Dispatcher {
    Dispatcher::builder()
        .app_id(APP_ID)
        .token(TOKEN)
        .max_body_bytes(64 * 1024)
        .on::<group::AfterCreateGroup, _>(|_: group::AfterCreateGroup, _: Context| async {})
        .build()
        .unwrap()
}

async fn call(method: Method, uri: &str, body: Vec<u8>) -> (StatusCode, Option<String>, Value) {
    let app = tencent_chat_callbacks::axum::router("/callback", dispatcher());
    let response =
        app.oneshot(Request::builder().method(method).uri(uri).body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn create_sample() -> Vec<u8> {
    fixtures().into_iter().find(|f| f.command == "Group.CallbackAfterCreateGroup").unwrap().sample
}

#[tokio::test]
async fn a_signed_sample_is_answered_ok_as_json() {
    let uri = format!("/callback?{}", signed_query("Group.CallbackAfterCreateGroup", now()));
    let (status, content_type, body) = call(Method::POST, &uri, create_sample()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(body, json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}));
}

#[tokio::test]
async fn refusals_keep_their_status_and_fail_body() {
    let signed = signed_query("Group.CallbackAfterCreateGroup", now());
    let cases = [
        (Method::POST, format!("/callback?{}", signed.replace("Sign=", "Sign=0")), create_sample(), 401),
        (Method::POST, format!("/callback?{}", signed.replace(&APP_ID.to_string(), "7")), create_sample(), 403),
        (Method::POST, "/callback".to_owned(), create_sample(), 400),
        (Method::POST, format!("/callback?{signed}"), b"{".to_vec(), 400),
        (Method::POST, format!("/callback?{signed}"), vec![b' '; 64 * 1024 + 1], 413),
        (Method::GET, format!("/callback?{signed}"), Vec::new(), 405),
        (Method::PUT, format!("/callback?{signed}"), create_sample(), 405),
    ];
    for (method, uri, body, status) in cases {
        let (got, content_type, reply) = call(method.clone(), &uri, body).await;
        assert_eq!(got.as_u16(), status, "{method} {uri}: {reply}");
        assert_eq!(content_type.as_deref(), Some("application/json"));
        assert_eq!(reply["ActionStatus"], "FAIL", "{reply}");
        assert!(!reply["ErrorInfo"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn serves_over_a_loopback_socket() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let app = tencent_chat_callbacks::axum::router("/callback", dispatcher());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let query = signed_query("Group.CallbackAfterCreateGroup", now());
    let (status, body) = post(address, &format!("/callback?{query}"), &create_sample()).await;
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()["ActionStatus"].clone()), (200, json!("OK")));
    let (status, _) = request(address, "GET", "/callback", b"").await;
    assert_eq!(status, 405);
    let (status, _) = post(address, "/elsewhere", b"{}").await;
    assert_eq!(status, 404);
    server.abort();
}
