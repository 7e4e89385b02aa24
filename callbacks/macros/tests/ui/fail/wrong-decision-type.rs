use tencent_chat_callbacks::{group, handlers};

struct App;

#[handlers]
impl App {
    #[on("Group.CallbackBeforeCreateGroup")]
    async fn create(&self, _event: group::BeforeCreateGroup) -> group::BeforeCreateTopicDecision {
        group::BeforeCreateTopicDecision::Allow
    }
}

fn main() {}
