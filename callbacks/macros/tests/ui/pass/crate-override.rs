// A crate that re-exports the runtime names it with `crate = "…"`; nothing else is needed.
mod sdk {
    pub use tencent_chat_callbacks as chat;
}

use sdk::chat::{Context, group};

struct App;

#[sdk::chat::handlers(crate = "crate::sdk::chat")]
impl App {
    #[on("Group.CallbackAfterCreateGroup")]
    async fn created(&self, _event: group::AfterCreateGroup, _ctx: Context) {}

    #[on("Group.CallbackBeforeSendMsg")]
    async fn moderate(&self, _event: group::BeforeSendMsg) -> group::BeforeSendMsgDecision {
        group::BeforeSendMsgDecision::Allow
    }
}

fn main() {
    let _ = sdk::chat::Dispatcher::builder().accept_any_app_id().handlers(App).build().unwrap();
}
