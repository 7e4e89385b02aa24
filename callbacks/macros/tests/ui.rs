//! Compile-time checks of `#[handlers]`: what compiles, and the error each mistake gets.
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p tencent-chat-callbacks-macros --test ui`.
//!
//! They live in the macro crate, whose dev-dependency on the runtime has only the `macros`
//! feature: trybuild builds in a target directory of its own, and this keeps axum, tokio and
//! schemars out of that second build. One `TestCases` runs every file in one cargo project.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
