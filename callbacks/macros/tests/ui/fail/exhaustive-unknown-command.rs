//! One error for a misspelled command: no list of missing commands, and no "`Handlers` is not
//! implemented" at `.handlers(App)`.

use tencent_chat_callbacks::{group, handlers, Dispatcher};

struct App;

#[handlers(exhaustive, ignore("Alert.*", "Bot.*", "C2C.*", "Call.*", "Chatbot.*", "ContentCallback.*", "Follow.*", "OfficialAccount.*", "Profile.*", "Push.*", "Sns.*", "State.*"))]
impl App {
    #[on("Group.CallbackAfterCreatGroup")]
    async fn created(&self, _event: group::AfterCreateGroup) {}
}

fn main() {
    let _ = Dispatcher::builder().accept_any_app_id().handlers(App).build();
}
