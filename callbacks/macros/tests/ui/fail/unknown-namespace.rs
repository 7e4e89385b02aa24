use tencent_chat_callbacks::handlers;

struct App;

#[handlers(exhaustive, ignore("*", "Snss.*"))]
impl App {}

fn main() {}
