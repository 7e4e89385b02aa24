use tencent_chat_callbacks::{group, handlers};

struct App;

#[handlers(exhaustive, ignore(
    "Alert.*", "Bot.*", "C2C.*", "Call.*", "Chatbot.*", "ContentCallback.*", "Follow.*", "OfficialAccount.*", "Profile.*", "Push.*", "Group.*",
    "Sns.CallbackBlackListAdd",
    "Sns.CallbackBlackListDelete",
    "Sns.CallbackFriendDelete",
    "Sns.CallbackPrevFriendAdd",
    "Sns.CallbackPrevFriendResponse",
))]
impl App {
    #[on("Group.CallbackAfterCreateGroup")]
    async fn created(&self, _event: group::AfterCreateGroup) {}
}

fn main() {}
