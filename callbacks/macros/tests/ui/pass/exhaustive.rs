//! Exhaustive mode with whole namespaces ignored, one handler and a fallback method.

use tencent_chat_callbacks::{group, handlers, Context, Dispatcher, UnhandledEvent};

struct App;

#[handlers(exhaustive, ignore("Alert.*", "Bot.*", "C2C.*", "Call.*", "Chatbot.*", "ContentCallback.*", "Follow.*", "OfficialAccount.*", "Profile.*", "Push.*", "Sns.*", "State.*", "Group.*"))]
impl App {
    #[on("Group.CallbackAfterCreateGroup")]
    async fn created(&self, _event: group::AfterCreateGroup) {}

    #[fallback]
    async fn other(&self, event: UnhandledEvent, _ctx: Context) {
        let _ = event.command;
    }
}

struct Everything;

#[handlers(exhaustive, ignore("*"))]
impl Everything {
    #[fallback]
    async fn any(&self, _event: UnhandledEvent) {}
}

fn main() {
    Dispatcher::builder().accept_any_app_id().handlers(App).build().unwrap();
    Dispatcher::builder().accept_any_app_id().handlers(Everything).build().unwrap();
}
