//! Support for generated code. Not public API: it may change in any release.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};

/// Converts a handler's output, where the `#[handlers]` macro can point errors at its return type.
pub fn into_response<R, T: crate::IntoResponse<R>>(output: T) -> Result<R, crate::BoxError> {
    output.into_response()
}

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
pub struct LenientU64;

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
            let digits = !value.is_empty() && value.len() <= 19 && value.bytes().all(|b| b.is_ascii_digit());
            digits
                .then(|| value.parse().ok())
                .flatten()
                .ok_or_else(|| E::invalid_value(de::Unexpected::Str(value), &self))
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
