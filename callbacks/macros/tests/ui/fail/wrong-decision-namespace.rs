use tencent_chat_callbacks::{c2c, group, handlers};

struct App;

#[handlers]
impl App {
    #[on("Group.CallbackBeforeSendMsg")]
    async fn moderate(&self, _event: group::BeforeSendMsg) -> c2c::BeforeSendMsgDecision {
        c2c::BeforeSendMsgDecision::Allow
    }
}

fn main() {}
