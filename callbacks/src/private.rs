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
            crate::digits::parse_digits(value).ok_or_else(|| E::invalid_value(de::Unexpected::Str(value), &self))
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

/// The schema of a list of strings that may arrive as a single string.
#[cfg(feature = "schemars")]
pub struct StringOrList;

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for StringOrList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StringOrList".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "anyOf": [{ "type": "array", "items": { "type": "string" } }, { "type": "string" }] })
    }
}

/// `#[serde(with)]` for a list of strings that one vendor page types as a single string: a string
/// decodes as a list of that one string. It always encodes as a list.
pub mod string_or_list {
    use std::fmt;

    use serde::de::{self, Deserializer, SeqAccess, Visitor};
    use serde::{Serialize, Serializer};

    /// Encodes as a JSON array.
    pub fn serialize<S: Serializer>(value: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        value.serialize(serializer)
    }

    /// Decodes an array of strings, or one string as a list of one.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
        deserializer.deserialize_any(StringOrListVisitor)
    }

    struct StringOrListVisitor;

    impl<'de> Visitor<'de> for StringOrListVisitor {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings, or a string")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Vec<String>, E> {
            Ok(vec![value.to_owned()])
        }

        fn visit_string<E: de::Error>(self, value: String) -> Result<Vec<String>, E> {
            Ok(vec![value])
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
    }

    /// The same for an optional field.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        /// Encodes `Some` as a JSON array; `None` fields are skipped by the generated attributes.
        pub fn serialize<S: Serializer>(value: &Option<Vec<String>>, serializer: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => super::serialize(value, serializer),
                None => serializer.serialize_none(),
            }
        }

        /// Decodes like [`super::deserialize`], and `null` as `None`; a missing field is `None`
        /// through the generated `#[serde(default)]`.
        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
            #[derive(Deserialize)]
            struct Lenient(#[serde(with = "super")] Vec<String>);
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

/// Decodes a callback body as `C`, retrying a failed decode with digit strings read as numbers
/// (see `lenient.rs`), as the dispatcher does: `Event::from_json` accepts what a typed route does.
pub fn decode_lenient<C: crate::Callback>(body: &[u8]) -> Result<C, serde_json::Error> {
    serde_json::from_slice(body).or_else(|error| crate::lenient::decode_with_numeric_strings(body).ok_or(error))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default, with = "super::string_or_list::option")]
        texts: Option<Vec<String>>,
        #[serde(with = "super::string_or_list")]
        notes: Vec<String>,
    }

    fn decode(json: &str) -> Result<Body, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn string_or_list_reads_a_string_as_a_list_of_one() {
        let body = decode(r#"{"texts": "a", "notes": ["b", "c"]}"#).unwrap();
        assert_eq!((body.texts, body.notes), (Some(vec!["a".to_owned()]), vec!["b".to_owned(), "c".to_owned()]));
        let body = decode(r#"{"texts": null, "notes": "x"}"#).unwrap();
        assert_eq!((body.texts, body.notes), (None, vec!["x".to_owned()]));
        assert_eq!(decode(r#"{"notes": []}"#).unwrap().texts, None);
    }

    #[test]
    fn string_or_list_refuses_other_shapes() {
        let error = decode(r#"{"notes": 5}"#).unwrap_err().to_string();
        assert!(error.contains("a list of strings, or a string"), "{error}");
        assert!(decode(r#"{"notes": [1]}"#).is_err());
    }
}
