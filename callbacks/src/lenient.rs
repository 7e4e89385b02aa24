//! Numbers sent as strings: a body that fails to decode only because a number arrived as a
//! string of digits (`"Random": "123456"`) is decoded again with those strings read as numbers.
//!
//! The vendor sends some integers both ways (`EventTime`, which the schemas declare as such), and
//! a genuine body must never be refused for it, least of all a before-callback, where a refusal
//! means "allow". This runs only after a failed decode, so valid bodies pay nothing for it.

use serde_json::Value;

use crate::Callback;

/// How many strings one body may have read as numbers before it is given up on.
const MAX_REPAIRS: usize = 64;

/// Decodes `body` as `C`, reading as a number every string the decoder wanted as one.
pub(crate) fn decode_with_numeric_strings<C: Callback>(body: &[u8]) -> Option<C> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    for _ in 0..MAX_REPAIRS {
        let error = match serde_path_to_error::deserialize::<_, C>(&value) {
            Ok(event) => return Some(event),
            Err(error) => error,
        };
        if !error.inner().to_string().starts_with("invalid type: string") {
            return None;
        }
        let slot = locate(&mut value, error.path())?;
        let number = slot.as_str().and_then(|text| serde_json::from_str::<serde_json::Number>(text).ok())?;
        *slot = Value::Number(number);
    }
    None
}

/// The value at `path` in `value`.
fn locate<'v>(value: &'v mut Value, path: &serde_path_to_error::Path) -> Option<&'v mut Value> {
    use serde_path_to_error::Segment;
    path.iter().try_fold(value, |value, segment| match segment {
        Segment::Seq { index } => value.get_mut(*index),
        Segment::Map { key } => value.get_mut(key.as_str()),
        Segment::Enum { .. } | Segment::Unknown => None,
    })
}
