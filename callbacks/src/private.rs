//! Support for generated code. Not public API: it may change in any release.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};

pub use crate::__catalogue as catalogue;
pub use {serde, serde_json};

/// Decodes a string into an open enum through its `From<&str>`, without allocating for known values.
pub fn deserialize_str_into<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str>,
{
    struct StrVisitor<T>(PhantomData<fn() -> T>);

    impl<T: for<'a> From<&'a str>> Visitor<'_> for StrVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
            Ok(T::from(value))
        }
    }

    deserializer.deserialize_str(StrVisitor(PhantomData))
}

/// A `u64` written as 1 to 19 ASCII digits, and nothing else: no sign, space, dot or exponent.
/// The one reading of the vendor's numeric strings (`SdkAppid`, `RequestTime`, quoted integers).
pub(crate) fn parse_digits(value: &str) -> Option<u64> {
    let digits = !value.is_empty() && value.len() <= 19 && value.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| value.parse().ok()).flatten()
}

/// The schema of an integer that may arrive as a string of digits.
#[cfg(feature = "schemars")]
pub struct LenientU64;

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for LenientU64 {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LenientU64".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [{ "type": "integer", "minimum": 0 }, { "type": "string", "pattern": "^[0-9]{1,19}$" }]
        })
    }
}

/// `#[serde(with)]` for a `u64` the vendor sends as a number or as a string of digits.
/// It always encodes as a number.
pub mod lenient_u64 {
    use std::fmt;

    use serde::Serializer;
    use serde::de::{self, Deserializer, Visitor};

    /// Encodes as a JSON number.
    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(*value)
    }

    /// Decodes a non-negative integer, or a string of 1 to 19 ASCII digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_any(LenientU64Visitor)
    }

    struct LenientU64Visitor;

    impl Visitor<'_> for LenientU64Visitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer, or a string of digits")
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
            Ok(value)
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
            u64::try_from(value).map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<u64, E> {
            super::parse_digits(value).ok_or_else(|| E::invalid_value(de::Unexpected::Str(value), &self))
        }
    }

    /// The same for an optional field.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        /// Encodes `Some` as a JSON number; `None` fields are skipped by the generated attributes.
        pub fn serialize<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => serializer.serialize_u64(*value),
                None => serializer.serialize_none(),
            }
        }

        /// Decodes like [`super::deserialize`], and `null` as `None`; a missing field is `None`
        /// through the generated `#[serde(default)]`.
        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
            #[derive(Deserialize)]
            struct Lenient(#[serde(with = "super")] u64);
            Ok(Option::<Lenient>::deserialize(deserializer)?.map(|Lenient(value)| value))
        }
    }
}

/// A tagged union generated from a schema: the tag property selects how the content decodes.
pub trait TaggedUnion: Sized {
    /// The tag property, e.g. `MsgType`.
    const TAG: &'static str;
    /// The content property, e.g. `MsgContent`.
    const CONTENT: &'static str;

    /// Decodes the content of an element whose tag is `tag`.
    fn content<'de, D: Deserializer<'de>>(tag: &str, content: D) -> Result<Self, D::Error>;
}

/// Decodes a tagged union: reads the tag, then decodes the content as the tag's type, streaming
/// when the tag comes first (as the vendor sends it) and from a buffer otherwise. Other keys are
/// ignored; a missing content decodes as `null`.
pub fn deserialize_tagged<'de, D: Deserializer<'de>, T: TaggedUnion>(deserializer: D) -> Result<T, D::Error> {
    struct UnionVisitor<T>(PhantomData<fn() -> T>);

    struct ContentSeed<'a, T>(&'a str, PhantomData<fn() -> T>);

    impl<'de, T: TaggedUnion> de::DeserializeSeed<'de> for ContentSeed<'_, T> {
        type Value = T;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
            T::content(self.0, deserializer)
        }
    }

    impl<'de, T: TaggedUnion> Visitor<'de> for UnionVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "an object with `{}` and `{}`", T::TAG, T::CONTENT)
        }

        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            let mut tag: Option<String> = None;
            let mut decoded: Option<T> = None;
            let mut buffered: Option<serde_json::Value> = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == T::TAG {
                    if tag.is_some() {
                        return Err(de::Error::duplicate_field(T::TAG));
                    }
                    tag = Some(map.next_value()?);
                } else if key == T::CONTENT {
                    if decoded.is_some() || buffered.is_some() {
                        return Err(de::Error::duplicate_field(T::CONTENT));
                    }
                    match &tag {
                        Some(tag) => decoded = Some(map.next_value_seed(ContentSeed::<T>(tag, PhantomData))?),
                        None => buffered = Some(map.next_value()?),
                    }
                } else {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
            let tag = tag.ok_or_else(|| de::Error::missing_field(T::TAG))?;
            match decoded {
                Some(value) => Ok(value),
                None => T::content(&tag, buffered.unwrap_or(serde_json::Value::Null)).map_err(de::Error::custom),
            }
        }
    }

    deserializer.deserialize_map(UnionVisitor(PhantomData))
}
