//! Batched callbacks (`Push.*`): an undecodable event costs only itself, not the whole batch.
//!
//! A batch body holds an array of events, each naming the batch's command in its own
//! `CallbackCommand` (that is how the schemas mark a batch, and it needs no table here). When the
//! batch as a whole does not decode, each event is tried alone; the batch is rebuilt from those
//! that decode and handed to the handler, and the others are returned to be dead-lettered.

use serde_json::{Map, Value};

use crate::{Callback, lenient};

/// An event left out of its batch.
pub(crate) struct RejectedItem {
    /// Its position in the batch as received.
    pub(crate) index: usize,
    /// A body of the batch holding this event alone, so that it can be sent again as it is.
    pub(crate) body: Vec<u8>,
    /// Why it does not decode.
    pub(crate) reason: String,
}

/// Decodes the good events of a batch body that does not decode as a whole. `None` when the body
/// is not a batch, or when nothing but the bad events was wrong with it.
pub(crate) fn decode_partially<C: Callback>(body: &[u8]) -> Option<(C, Vec<RejectedItem>)> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else { return None };
    let field = batch_field(&object, C::COMMAND)?;
    let Some(Value::Array(items)) = object.remove(&field) else { return None };

    let mut good = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let alone = with_items(&object, &field, vec![item]);
        let bytes = serde_json::to_vec(&alone).unwrap_or_default();
        match serde_json::from_slice::<C>(&bytes) {
            Ok(_) => good.extend(take_items(alone, &field)),
            Err(_) if lenient::decode_with_numeric_strings::<C>(&bytes).is_some() => {
                good.extend(take_items(alone, &field));
            }
            Err(error) => rejected.push(RejectedItem { index, body: bytes, reason: error.to_string() }),
        }
    }
    if rejected.is_empty() {
        return None;
    }
    let rebuilt = serde_json::to_vec(&with_items(&object, &field, good)).ok()?;
    let event = serde_json::from_slice(&rebuilt).ok().or_else(|| lenient::decode_with_numeric_strings(&rebuilt))?;
    Some((event, rejected))
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
