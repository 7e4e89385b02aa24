//! What every generated callback type is: the [`Callback`] trait and its `CallbackCommand` tag.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A callback's request body, decoded. Implemented by every generated request type.
pub trait Callback: Serialize + for<'de> Deserialize<'de> + Send + 'static {
    /// The `CallbackCommand` that selects this type, e.g. `Group.CallbackAfterCreateGroup`.
    const COMMAND: &'static str;
    /// Whether the callback reports an action or decides it.
    const KIND: CallbackKind;
    /// The body the app answers with.
    type Reply: Serialize + Send + 'static;
}

/// Whether a callback lets the app decide an action or reports one that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackKind {
    /// Sent before the action: the answer can allow, refuse or change it.
    Before,
    /// Sent after the action: the answer is only acknowledged.
    After,
}

/// The `CallbackCommand` field of a request body, which always names the callback's own command.
///
/// Decoding fails unless the body carries exactly `C::COMMAND`, so a body can never be decoded
/// as another callback's type. It encodes back to `C::COMMAND`.
pub struct CommandTag<C>(PhantomData<fn() -> C>);

impl<C: Callback> CommandTag<C> {
    /// The tag of `C`.
    pub const fn new() -> Self {
        CommandTag(PhantomData)
    }

    /// The command, `C::COMMAND`.
    pub const fn as_str(&self) -> &'static str {
        C::COMMAND
    }
}

impl<C: Callback> Default for CommandTag<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> Clone for CommandTag<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for CommandTag<C> {}

impl<C> PartialEq for CommandTag<C> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<C> Eq for CommandTag<C> {}

impl<C: Callback> fmt::Debug for CommandTag<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(C::COMMAND, f)
    }
}

impl<C: Callback> Serialize for CommandTag<C> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(C::COMMAND)
    }
}

impl<'de, C: Callback> Deserialize<'de> for CommandTag<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagVisitor<C>(PhantomData<fn() -> C>);

        impl<C: Callback> Visitor<'_> for TagVisitor<C> {
            type Value = CommandTag<C>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "the command {:?}", C::COMMAND)
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                if value == C::COMMAND {
                    Ok(CommandTag::new())
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(value), &self))
                }
            }
        }

        deserializer.deserialize_str(TagVisitor(PhantomData))
    }
}

#[cfg(feature = "schemars")]
impl<C: Callback> schemars::JsonSchema for CommandTag<C> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Owned(format!("CommandTag<{}>", C::COMMAND))
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "const": C::COMMAND })
    }
}
