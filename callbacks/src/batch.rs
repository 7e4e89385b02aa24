//! Batched callbacks (`Push.*`): an undecodable event costs only itself, not the whole batch.
//!
//! A batch body holds an array of events, each naming the batch's command in its own
//! `CallbackCommand` (that is how the schemas mark a batch, and it needs no table here). When the
//! batch as a whole does not decode, each event is tried alone; the batch is rebuilt from those
//! that decode and handed to the handler, and the others are returned to be dead-lettered.
//!
//! An event is tried, and kept as a dead letter, with the batch's small top-level fields only:
//! a body that carries a large extra field beside many bad events would otherwise be copied once
//! per bad event, into memory and onto the dead-letter disk.

use serde_json::{Map, Value};

/// Top-level fields of a batch at most this large (as JSON) go with each event tried alone.
const SMALL_FIELD_BYTES: usize = 1024;

/// An event left out of its batch.
pub(crate) struct RejectedItem {
    /// Its position in the batch as received.
    pub(crate) index: usize,
    /// A batch body holding this event alone (with the batch's small fields), so that it can be
    /// sent again as it is.
    pub(crate) body: Vec<u8>,
    /// Why it does not decode.
    pub(crate) reason: String,
}

/// Splits a batch body that does not decode as a whole into the body of its good events and its
/// bad events, `decodes` telling whether a body holding one event is good. `None` when the body
/// is not a batch of `command`, or when nothing but the bad events was wrong with it.
pub(crate) fn split(
    body: &[u8],
    command: &str,
    decodes: impl Fn(&[u8]) -> Result<(), String>,
) -> Option<(Vec<u8>, Vec<RejectedItem>)> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else { return None };
    let field = batch_field(&object, command)?;
    let Some(Value::Array(items)) = object.remove(&field) else { return None };
    let small: Map<String, Value> =
        object.iter().filter(|(_, value)| is_small(value)).map(|(name, value)| (name.clone(), value.clone())).collect();
    let mut good = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let alone = with_items(&small, &field, vec![item]);
        let bytes = serde_json::to_vec(&alone).unwrap_or_default();
        match decodes(&bytes) {
            Ok(()) => good.extend(take_items(alone, &field)),
            Err(reason) => rejected.push(RejectedItem { index, body: bytes, reason }),
        }
    }
    if rejected.is_empty() {
        return None;
    }
    object.insert(field, Value::Array(good));
    Some((serde_json::to_vec(&object).ok()?, rejected))
}

fn is_small(value: &Value) -> bool {
    match value {
        Value::Array(_) | Value::Object(_) => {
            serde_json::to_vec(value).is_ok_and(|json| json.len() <= SMALL_FIELD_BYTES)
        }
        _ => value.as_str().is_none_or(|text| text.len() <= SMALL_FIELD_BYTES),
    }
}

/// The top-level array whose items are events of `command`, if the body has one.
fn batch_field(object: &Map<String, Value>, command: &str) -> Option<String> {
    object.iter().find_map(|(name, value)| {
        let items = value.as_array()?;
        let is_batch = !items.is_empty()
            && items.iter().any(|item| item.get("CallbackCommand").and_then(Value::as_str) == Some(command));
        is_batch.then(|| name.clone())
    })
}

/// The batch body `rest` with `items` as its events.
fn with_items(rest: &Map<String, Value>, field: &str, items: Vec<Value>) -> Value {
    let mut object = rest.clone();
    object.insert(field.to_owned(), Value::Array(items));
    Value::Object(object)
}

/// The events of a batch body made by [`with_items`].
fn take_items(mut body: Value, field: &str) -> Vec<Value> {
    match body.get_mut(field).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good_when_x_is_a_number(body: &[u8]) -> Result<(), String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let ok = value["Events"].as_array().is_some_and(|items| items.iter().all(|item| item["X"].is_number()));
        if ok { Ok(()) } else { Err("X is not a number".into()) }
    }

    #[test]
    fn a_bad_event_is_kept_alone_without_the_batch_s_large_fields() {
        let big = "y".repeat(10_000);
        let body = serde_json::json!({
            "Big": big,
            "Small": 1,
            "Events": [
                {"CallbackCommand": "Push.X", "X": 1},
                {"CallbackCommand": "Push.X", "X": "bad"},
                {"CallbackCommand": "Push.X", "X": 3},
            ],
        });
        let (good, rejected) = split(&serde_json::to_vec(&body).unwrap(), "Push.X", good_when_x_is_a_number).unwrap();
        let good: Value = serde_json::from_slice(&good).unwrap();
        assert_eq!(good["Events"].as_array().unwrap().len(), 2);
        assert_eq!(good["Big"].as_str().unwrap().len(), 10_000, "the handler still gets the whole batch");
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].index, 1);
        let letter: Value = serde_json::from_slice(&rejected[0].body).unwrap();
        assert_eq!(letter, serde_json::json!({"Small": 1, "Events": [{"CallbackCommand": "Push.X", "X": "bad"}]}));
    }

    #[test]
    fn a_body_that_is_not_a_batch_is_not_split() {
        assert!(split(br#"{"A":[{"X":1}]}"#, "Push.X", good_when_x_is_a_number).is_none());
        assert!(split(b"not json", "Push.X", good_when_x_is_a_number).is_none());
    }
}
