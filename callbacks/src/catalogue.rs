//! The catalogue: `Command` and `Event`, written once over the table `cargo codegen` emits.
//!
//! `generated/mod.rs` holds one row per callback — variant, Rust type, command, documentation
//! page, deduplication field — and invokes [`catalogue!`](crate::__private::catalogue) on it, the
//! way `http` derives its status codes from one table. Everything a row implies (lookups by name,
//! the kind, decoding into [`Event`](crate::Event)) is derived here, so a new callback is one new
//! row and a change to the lookups is one change here.

/// Derives `Command` and `Event` from the catalogue table. Not public API.
///
/// Each row reads `Variant(module::Type, "Namespace.Command", "doc url", dedup)`, where `dedup`
/// is `Some("Field")` or `None`, and may carry doc comments for the command's variant.
#[doc(hidden)]
#[macro_export]
macro_rules! __catalogue {
    ($(
        $(#[$meta:meta])*
        $variant:ident($ty:ty, $command:literal, $doc_url:literal, $dedup:expr)
    ),* $(,)?) => {
        /// Every callback command this version of the crate has a type for.
        ///
        /// Commands not listed here still reach the dispatcher's fallback handler, and decode to
        /// [`Event::Unknown`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Command {
            $($(#[$meta])* $variant,)*
        }

        impl Command {
            /// All commands, sorted by name.
            pub const ALL: &'static [Command] = &[$(Command::$variant),*];

            /// Looks a command up by its name; `None` for commands this version does not know.
            pub fn from_name(name: &str) -> Option<Command> {
                match name {
                    $($command => Some(Command::$variant),)*
                    _ => None,
                }
            }

            /// The command as it appears in the `CallbackCommand` query parameter.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Command::$variant => $command,)*
                }
            }

            /// Whether the callback reports an action or decides it: its type's
            /// [`Callback::KIND`]($crate::Callback::KIND).
            pub const fn kind(self) -> $crate::CallbackKind {
                match self {
                    $(Command::$variant => <$ty as $crate::Callback>::KIND,)*
                }
            }

            /// The vendor's documentation page for the callback.
            pub const fn doc_url(self) -> &'static str {
                match self {
                    $(Command::$variant => $doc_url,)*
                }
            }

            /// The body field that identifies one event across the vendor's retries (its
            /// `x-callback.dedupKey`), for services that must not act twice on a resent callback;
            /// `None` when the schema names none.
            pub const fn dedup_field(self) -> Option<&'static str> {
                match self {
                    $(Command::$variant => $dedup,)*
                }
            }

            /// The JSON Schema of the command's request body, derived from its Rust type.
            #[cfg(feature = "schemars")]
            pub fn json_schema(self) -> ::schemars::Schema {
                match self {
                    $(Command::$variant => ::schemars::schema_for!($ty),)*
                }
            }
        }

        impl ::core::fmt::Display for Command {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.name())
            }
        }

        /// A decoded callback of any command, for code that prefers one `match` to a handler per
        /// command. Each known event is boxed, so the enum stays small whatever the largest event.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Event {
            $(
                #[doc = concat!("A `", $command, "` event.")]
                $variant(Box<$ty>),
            )*
            /// A command this version does not know, with its body as JSON.
            Unknown($crate::UnhandledEvent),
        }

        impl Event {
            /// Decodes `body` as the event of `command`; a command this version does not know
            /// decodes to [`Event::Unknown`] when the body is JSON. Numbers sent as strings of
            /// digits are read as numbers, as the dispatcher reads them. An error means the body
            /// is not that command's event (or not JSON).
            // Inline, so it is compiled in the crates that call it: it decodes into every type of
            // the catalogue, two ways, which otherwise took most of this crate's own build time
            // in every dependent's build, used or not (BENCHMARKS.md, section 4).
            #[inline]
            pub fn from_json(command: &str, body: &[u8]) -> Result<Event, $crate::__private::serde_json::Error> {
                Ok(match Command::from_name(command) {
                    $(Some(Command::$variant) => Event::$variant($crate::__private::decode_lenient::<$ty>(body)?.into()),)*
                    None => Event::Unknown($crate::UnhandledEvent::new(
                        command,
                        $crate::__private::serde_json::from_slice(body)?,
                    )),
                })
            }

            /// The command of this event; `None` for [`Event::Unknown`].
            pub fn command(&self) -> Option<Command> {
                match self {
                    $(Event::$variant(_) => Some(Command::$variant),)*
                    Event::Unknown(_) => None,
                }
            }

            /// The command's name, known or not.
            pub fn name(&self) -> &str {
                match self {
                    $(Event::$variant(_) => $command,)*
                    Event::Unknown(event) => &event.command,
                }
            }
        }

        /// Encodes the event's body, as received for an unknown command.
        impl $crate::__private::serde::Serialize for Event {
            fn serialize<S: $crate::__private::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Event::$variant(event) => $crate::__private::serde::Serialize::serialize(event, serializer),)*
                    Event::Unknown(event) => $crate::__private::serde::Serialize::serialize(&event.body, serializer),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::{CallbackKind, Command, Event, group};

    #[test]
    fn every_row_looks_itself_up_by_name() {
        assert!(!Command::ALL.is_empty());
        for &command in Command::ALL {
            assert_eq!(Command::from_name(command.name()), Some(command));
            assert_eq!(command.to_string(), command.name());
            assert!(command.doc_url().starts_with("https://"), "{command}");
        }
        assert!(Command::ALL.windows(2).all(|w| w[0].name() < w[1].name()), "sorted by name");
        assert_eq!(Command::from_name("Group.CallbackAfterCreateGroup"), Some(Command::GroupAfterCreateGroup));
        assert_eq!(Command::from_name("group.callbackaftercreategroup"), None, "names are exact");
    }

    #[test]
    fn the_kind_is_the_request_types() {
        assert_eq!(Command::GroupBeforeSendMsg.kind(), CallbackKind::Before);
        assert_eq!(Command::GroupAfterSendMsg.kind(), CallbackKind::After);
        let before = Command::ALL.iter().filter(|c| c.kind() == CallbackKind::Before).count();
        assert!(before > 0 && before < Command::ALL.len());
    }

    #[test]
    fn events_decode_by_command_and_unknown_commands_keep_their_body() {
        let body = br#"{"CallbackCommand":"Group.CallbackAfterGroupFull","GroupId":"g","EventTime":1}"#;
        let event = Event::from_json("Group.CallbackAfterGroupFull", body).unwrap();
        assert!(matches!(&event, Event::GroupAfterGroupFull(full) if full.group_id == "g"));
        assert_eq!(
            (event.command(), event.name()),
            (Some(Command::GroupAfterGroupFull), "Group.CallbackAfterGroupFull")
        );
        assert_eq!(serde_json::to_value(&event).unwrap()["GroupId"], "g");

        let unknown = Event::from_json("Payments.Refund", br#"{"Amount":3}"#).unwrap();
        assert_eq!((unknown.command(), unknown.name()), (None, "Payments.Refund"));
        assert_eq!(serde_json::to_string(&unknown).unwrap(), r#"{"Amount":3}"#);
        assert!(Event::from_json("Group.CallbackAfterGroupFull", b"{}").is_err(), "a body missing fields");
        let _: fn(group::AfterGroupFull) -> Event = |e| Event::GroupAfterGroupFull(Box::new(e));
    }
}
