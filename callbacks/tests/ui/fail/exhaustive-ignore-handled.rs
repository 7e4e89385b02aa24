use tencent_chat_callbacks::{group, handlers};

struct App;

#[handlers(exhaustive, ignore(
    "Alert.RequestOverLimit",
    "Bot.OnC2CMessage",
    "Bot.OnGroupMessage",
    "C2C.CallbackAfterC2CMsgExtension",
    "C2C.CallbackAfterMsgReport",
    "C2C.CallbackAfterMsgWithDraw",
    "C2C.CallbackAfterSendMsg",
    "C2C.CallbackBeforeSendMsg",
    "Chatbot.OnC2CSignalMessage",
    "ContentCallback.ResultNotify",
    "Follow.CallbackAfterFollowAdd",
    "Follow.CallbackAfterFollowDelete",
    "Group.CallbackAfterChangeGroupOwner",
    "Group.CallbackAfterCreateGroup",
    "Group.CallbackAfterCreateTopic",
    "Group.CallbackAfterGroupAttrChanged",
    "Group.CallbackAfterGroupDestroyed",
    "Group.CallbackAfterGroupFull",
    "Group.CallbackAfterGroupInfoChanged",
    "Group.CallbackAfterGroupMsgExtension",
    "Group.CallbackAfterMemberExit",
    "Group.CallbackAfterMemberFieldChanged",
    "Group.CallbackAfterNewMemberJoin",
    "Group.CallbackAfterReadReceipt",
    "Group.CallbackAfterRecallMsg",
    "Group.CallbackAfterSendMsg",
    "Group.CallbackAfterTopicDestroyed",
    "Group.CallbackAfterTopicInfoChanged",
    "Group.CallbackBeforeApplyJoinGroup",
    "Group.CallbackBeforeCreateGroup",
    "Group.CallbackBeforeCreateTopic",
    "Group.CallbackBeforeInviteJoinGroup",
    "Group.CallbackBeforeSendMsg",
    "Group.CallbackOnDailyGroupQuotaAlarm",
    "Group.CallbackOnMemberStateChange",
    "Group.CallbackSendMsgException",
    "OfficialAccount.CallbackAfterAddSubscriber",
    "OfficialAccount.CallbackAfterCreateOfficialAccount",
    "OfficialAccount.CallbackAfterDeleteSubscriber",
    "OfficialAccount.CallbackAfterMsgWithDraw",
    "OfficialAccount.CallbackAfterOfficialAccountDestroyed",
    "OfficialAccount.CallbackAfterOfficialAccountFull",
    "OfficialAccount.CallbackAfterOfficialAccountInfoChanged",
    "OfficialAccount.CallbackAfterSendMsg",
    "OfficialAccount.CallbackBeforeAddSubscriber",
    "OfficialAccount.CallbackBeforeCreateOfficialAccount",
    "OfficialAccount.CallbackBeforeSendMsg",
    "Profile.CallbackPortraitSet",
    "Push.AllMemberPush",
    "Push.OfflinePush",
    "Sns.CallbackBlackListAdd",
    "Sns.CallbackBlackListDelete",
    "Sns.CallbackFriendAdd",
    "Sns.CallbackFriendDelete",
    "Sns.CallbackPrevFriendAdd",
    "Sns.CallbackPrevFriendResponse",
    "State.StateChange"
))]
impl App {
    #[on("Group.CallbackAfterCreateGroup")]
    async fn created(&self, _event: group::AfterCreateGroup) {}
}

fn main() {}
