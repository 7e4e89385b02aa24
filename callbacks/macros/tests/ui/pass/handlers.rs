use std::sync::atomic::{AtomicUsize, Ordering};

use tencent_chat_callbacks::{group, handlers, official_account, Context, Dispatcher, Reply};

struct App {
    seen: AtomicUsize,
}

#[handlers]
impl App {
    #[on("Group.CallbackAfterCreateGroup")]
    async fn created(&self, event: group::AfterCreateGroup, ctx: Context) {
        let _ = (event.group_id, ctx.app_id());
        self.seen.fetch_add(1, Ordering::Relaxed);
    }

    #[on("Group.CallbackAfterGroupInfoChanged")]
    async fn info_changed(&self, _event: group::AfterGroupInfoChanged) -> Result<(), std::io::Error> {
        Ok(())
    }

    #[on("OfficialAccount.CallbackAfterOfficialAccountInfoChanged")]
    async fn official_account(&self, _event: official_account::AfterOfficialAccountInfoChanged) -> Reply {
        Reply::ok()
    }

    /// Methods without `#[on]` stay ordinary methods.
    fn count(&self) -> usize {
        self.seen.load(Ordering::Relaxed)
    }
}

struct Generic<T>(T);

#[handlers]
impl<T: Send + Sync + 'static> Generic<T> {
    #[on("Group.CallbackAfterChangeGroupOwner")]
    async fn owner(&self, _event: group::AfterChangeGroupOwner, _ctx: Context) {}
}

fn main() {
    let app = App { seen: AtomicUsize::new(0) };
    assert_eq!(app.count(), 0);
    Dispatcher::builder().accept_any_app_id().handlers(app).handlers(Generic(1u8)).build().unwrap();
}
