//! What the relay logs of attacker-chosen text (commands, dedup keys): at most 120 characters,
//! with control characters escaped, so a log line cannot be forged or flooded. The library's own
//! `Clipped` is private to it.

use std::fmt;

/// Displays a string clipped and escaped.
pub(crate) struct Clip<'a>(pub(crate) &'a str);

impl fmt::Display for Clip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 120;
        for (n, c) in self.0.chars().enumerate() {
            if n == MAX {
                return f.write_str("…");
            }
            if c.is_control() { write!(f, "{}", c.escape_default())? } else { write!(f, "{c}")? }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clipped_and_escaped() {
        assert_eq!(super::Clip("a\nb\u{1b}[31m").to_string(), "a\\nb\\u{1b}[31m");
        assert_eq!(super::Clip(&"x".repeat(500)).to_string().chars().count(), 121);
    }
}
