use tencent_chat_callbacks::{group, handlers};

struct App;

#[handlers]
impl App {
    #[on("Payments.Refund")]
    async fn created(&self, _event: group::AfterCreateGroup) {}
}

fn main() {}
