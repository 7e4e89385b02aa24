//! `fetch` against a local HTTP server serving saved pages: retries with back-off, the user
//! agent, the sidecar with its dates, conditional requests and `304`, and failures.

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use support::server::{Served, Server};
use tencent_chat_callbacks_pages::drift::VendorPage;
use tencent_chat_callbacks_pages::fetch::{self, Fetcher, Outcome, Sidecar};
use tencent_chat_callbacks_pages::page::Page;

fn fetcher(retries: u32) -> Fetcher {
    // A short back-off keeps the test quick; nothing here measures time.
    Fetcher::new(fetch::Options {
        timeout: Duration::from_secs(20),
        retries,
        backoff: Duration::from_millis(5),
        ..fetch::Options::default()
    })
}

fn saved_page(name: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pages").join(name)).unwrap()
}

const MODIFIED: &str = "Fri, 20 Feb 2026 10:00:00 GMT";

#[test]
fn a_page_is_fetched_once_then_only_checked_until_it_changes() {
    let server = Server::start();
    let html = saved_page("gadget-rename.html");
    server.put(
        "/document/product/9/3",
        Served {
            body: html.clone(),
            content_type: "text/html; charset=utf-8",
            etag: Some("\"v1\"".into()),
            last_modified: Some(MODIFIED.into()),
        },
    );
    let out = tempfile::tempdir().unwrap();
    let url = server.url("/document/product/9/3");
    let fetcher = fetcher(3);

    // The first attempt meets a 503 and is retried.
    server.fail_next(&[503]);
    let first = fetcher.fetch(&url, out.path()).unwrap();
    assert_eq!((first.outcome, first.attempts), (Outcome::Downloaded, 2));
    assert_eq!(first.path, out.path().join("document-product-9-3.html"));
    assert_eq!(fs::read_to_string(&first.path).unwrap(), html);
    let sidecar: Sidecar =
        serde_json::from_str(&fs::read_to_string(out.path().join("document-product-9-3.fetch.json")).unwrap()).unwrap();
    assert_eq!(sidecar, first.sidecar);
    assert_eq!(sidecar.url, url);
    assert_eq!(sidecar.etag.as_deref(), Some("\"v1\""));
    assert_eq!(sidecar.last_modified.as_deref(), Some(MODIFIED));
    assert_eq!(sidecar.last_modified_rfc3339.as_deref(), Some("2026-02-20T10:00:00Z"));
    assert!(sidecar.fetched.ends_with('Z') && sidecar.fetched.len() == 20, "{}", sidecar.fetched);
    // The fetched page is one drift can read.
    assert!(matches!(VendorPage::read(&first.path).unwrap(), VendorPage::Callback(_)));

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.headers["user-agent"], fetch::user_agent());
        assert!(!request.headers.contains_key("if-none-match"), "the first fetch is not conditional");
    }

    // Unchanged: a conditional request, a 304, the page not rewritten.
    fs::write(&first.path, "edited locally, so a rewrite would show").unwrap();
    let second = fetcher.fetch(&url, out.path()).unwrap();
    assert_eq!((second.outcome, second.attempts), (Outcome::Unchanged, 1));
    assert_eq!(fs::read_to_string(&second.path).unwrap(), "edited locally, so a rewrite would show");
    assert_eq!(second.sidecar.fetched, sidecar.fetched, "the fetch date stays that of the contents");
    let request = &server.seen()[2];
    assert_eq!(request.headers["if-none-match"], "\"v1\"");
    assert_eq!(request.headers["if-modified-since"], MODIFIED);

    // Changed: downloaded again, with the new validator recorded.
    server.put(
        "/document/product/9/3",
        Served {
            body: "<html><body><h1>v2</h1></body></html>".into(),
            content_type: "text/html",
            etag: Some("\"v2\"".into()),
            last_modified: None,
        },
    );
    let third = fetcher.fetch(&url, out.path()).unwrap();
    assert_eq!(third.outcome, Outcome::Downloaded);
    assert_eq!(fs::read_to_string(&third.path).unwrap(), "<html><body><h1>v2</h1></body></html>");
    assert_eq!(third.sidecar.etag.as_deref(), Some("\"v2\""));
    assert_eq!(third.sidecar.last_modified, None);
    assert_eq!(server.seen().len(), 4);
}

#[test]
fn markdown_and_text_pages_keep_their_kind() {
    let server = Server::start();
    server.put(
        "/list.md",
        Served {
            body: saved_page("command-list.zh.md"),
            content_type: "text/markdown",
            etag: None,
            last_modified: None,
        },
    );
    server.put(
        "/plain",
        Served { body: saved_page("widget-move.txt"), content_type: "text/plain", etag: None, last_modified: None },
    );
    let out = tempfile::tempdir().unwrap();
    let list = fetcher(0).fetch(&server.url("/list.md"), out.path()).unwrap();
    assert_eq!(list.path, out.path().join("list.md"));
    assert!(matches!(VendorPage::read(&list.path).unwrap(), VendorPage::CommandList(_)));
    server.put(
        "/gadget",
        Served {
            body: saved_page("gadget-rename.en.md"),
            content_type: "text/markdown; charset=utf-8",
            etag: None,
            last_modified: None,
        },
    );
    let gadget = fetcher(0).fetch(&server.url("/gadget"), out.path()).unwrap();
    // The page does not state its address; the sidecar does.
    assert_eq!(Page::read(&gadget.path).unwrap().doc_url, Some(server.url("/gadget")));
    let plain = fetcher(0).fetch(&server.url("/plain"), out.path()).unwrap();
    assert_eq!(plain.path, out.path().join("plain.txt"));
    // Without validators, every fetch downloads.
    assert_eq!(fetcher(0).fetch(&server.url("/plain"), out.path()).unwrap().outcome, Outcome::Downloaded);
    assert!(!server.seen().iter().any(|r| r.headers.contains_key("if-none-match")));
}

#[test]
fn failures_are_retried_with_back_off_then_reported() {
    let server = Server::start();
    server.put("/page", Served { body: "x".into(), content_type: "text/plain", etag: None, last_modified: None });
    let out = tempfile::tempdir().unwrap();

    server.fail_next(&[500, 429, 502]);
    let error = fetcher(2).fetch(&server.url("/page"), out.path()).unwrap_err().to_string();
    assert!(error.contains("/page") && error.contains("502") && error.contains("after 3 attempts"), "{error}");
    assert_eq!(server.seen().len(), 3);
    assert!(!out.path().join("page.txt").exists());

    // A client error is not retried.
    let error = fetcher(3).fetch(&server.url("/missing"), out.path()).unwrap_err().to_string();
    assert!(error.contains("404"), "{error}");
    assert_eq!(server.seen().len(), 4);

    // Nothing listening: a transport error, retried, then reported.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/page", listener.local_addr().unwrap())
    };
    let error = fetcher(1).fetch(&closed, out.path()).unwrap_err().to_string();
    assert!(error.contains("after 2 attempts"), "{error}");
}
