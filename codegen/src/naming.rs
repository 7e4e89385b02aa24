//! The naming rules that turn schema names into Rust names. They are part of the public API of
//! the `tencent-chat-callbacks` crate, so they change only with a major version.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// The catch-all variant of every generated enum, holding a value the schema does not list.
pub(crate) const OTHER_VARIANT: &str = "Other";

/// Splits a command into its module and type names:
/// `Group.CallbackAfterCreateGroup` → (`group`, `AfterCreateGroup`); the `Callback` prefix is
/// dropped when present, so `State.StateChange` → (`state`, `StateChange`).
pub(crate) fn split_command(command: &str) -> Option<(String, String)> {
    let (namespace, name) = command.split_once('.')?;
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !valid(namespace) || !valid(name) {
        return None;
    }
    // Commands are already UpperCamelCase; keeping the name verbatim keeps acronyms as the
    // vendor writes them (`AfterC2CMsgExtension`).
    let type_name = name.strip_prefix("Callback").filter(|rest| !rest.is_empty()).unwrap_or(name);
    let type_name = match type_name.chars().next() {
        Some(first) if first.is_ascii_uppercase() => type_name.to_owned(),
        _ => type_name.to_upper_camel_case(),
    };
    Some((module_name(namespace), type_name))
}

/// The `$defs` key of a callback's reply in its schema, and the name of the shared reply type in
/// `common` (`{"ActionStatus", "ErrorCode", "ErrorInfo"}`), which after-callbacks refer to.
pub(crate) const REPLY_DEF: &str = "Reply";

/// The type of a callback's own reply (every before-callback has one): `BeforeSendMsg` →
/// `BeforeSendMsgReply`. Not `…Response`, which would clash with `axum::response::Response` and
/// the global `Response` of `fetch`.
pub(crate) fn reply_type(type_name: &str) -> String {
    format!("{type_name}{REPLY_DEF}")
}

/// `OfficialAccount` → `official_account`, `C2C` → `c2c`.
pub(crate) fn module_name(namespace: &str) -> String {
    namespace.to_snake_case()
}

/// `Operator_Account` → `operator_account`; a Rust keyword gets a trailing underscore (`Type` → `type_`).
pub(crate) fn field_name(wire_name: &str) -> String {
    let name = wire_name.to_snake_case();
    if syn::parse_str::<syn::Ident>(&name).is_ok() { name } else { format!("{name}_") }
}

/// `AVChatRoom` → `AvChatRoom`, `set` → `Set`.
pub(crate) fn variant_name(wire_name: &str) -> String {
    wire_name.to_upper_camel_case()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_into_module_and_type() {
        let cases = [
            ("Group.CallbackAfterCreateGroup", "group", "AfterCreateGroup"),
            (
                "OfficialAccount.CallbackAfterOfficialAccountInfoChanged",
                "official_account",
                "AfterOfficialAccountInfoChanged",
            ),
            ("C2C.CallbackBeforeSendMsg", "c2c", "BeforeSendMsg"),
            ("Sns.CallbackPrevFriendAdd", "sns", "PrevFriendAdd"),
            ("State.StateChange", "state", "StateChange"),
            ("C2C.CallbackAfterC2CMsgExtension", "c2c", "AfterC2CMsgExtension"),
            ("Bot.OnC2CMessage", "bot", "OnC2CMessage"),
        ];
        for (command, module, type_name) in cases {
            assert_eq!(split_command(command), Some((module.to_owned(), type_name.to_owned())), "{command}");
        }
        for bad in ["Group", ".Callback", "Group.", "Group.Callback-After", "Gr oup.X"] {
            assert_eq!(split_command(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_callbacks_own_reply_is_its_type_and_reply() {
        assert_eq!(reply_type("BeforeSendMsg"), "BeforeSendMsgReply");
        assert_eq!(reply_type("PrevFriendResponse"), "PrevFriendResponseReply");
    }

    #[test]
    fn fields_are_snake_case_and_never_keywords() {
        assert_eq!(field_name("Operator_Account"), "operator_account");
        assert_eq!(field_name("OldOwner_Account"), "old_owner_account");
        assert_eq!(field_name("GroupId"), "group_id");
        assert_eq!(field_name("key"), "key");
        assert_eq!(field_name("Type"), "type_");
    }
}
