use tencent_chat_callbacks::{group, handlers};

struct App;

#[handlers]
impl App {
    #[on("Group.CallbackAfterCreateGroup")]
    async fn created(&self, _event: group::AfterCreateGroup) -> u32 {
        7
    }
}

fn main() {}
