use tencent_chat_callbacks::{handlers, UnhandledEvent};

struct App;

#[handlers]
impl App {
    #[fallback]
    async fn first(&self, _event: UnhandledEvent) {}

    #[fallback]
    async fn second(&self, _event: UnhandledEvent) {}
}

fn main() {}
