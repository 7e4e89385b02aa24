//! Compile-time checks of `#[handlers]`: what compiles, and the error each mistake gets.
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p tencent-chat-callbacks --test ui`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
