//! The vendor's command-list pages: a table or a list naming every webhook command as
//! `Namespace.Command` (often as links), in any language and any shape.

use std::collections::BTreeSet;

use crate::document::{Block, Document};

/// The commands a command-list page names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandList {
    /// Where the page was read from.
    pub source: String,
    /// The commands, sorted, each once.
    pub commands: BTreeSet<String>,
}

/// The fewest commands a page must name in tables or list items to count as a command list.
const MIN_COMMANDS: usize = 2;

impl CommandList {
    /// The command list in `doc`: every command named in a table cell or a list item (text
    /// block). `None` when the page names fewer than two, so a callback page, which names its
    /// own command, is never taken for a list.
    pub fn from_document(source: &str, doc: &Document) -> Option<CommandList> {
        let mut commands = BTreeSet::new();
        for block in &doc.blocks {
            match block {
                Block::Table(rows) => rows.iter().flatten().for_each(|cell| commands.extend(find_commands(cell))),
                Block::Text(text) => commands.extend(find_commands(text)),
                Block::Heading { .. } | Block::Code { .. } => {}
            }
        }
        (commands.len() >= MIN_COMMANDS).then(|| CommandList { source: source.to_owned(), commands })
    }
}

/// The commands named in `text`: words of the form `Namespace.Name`, both parts starting with a
/// capital Latin letter and made of Latin letters and digits (`C2C.CallbackBeforeSendMsg`,
/// `State.StateChange`). Host names and versions (`cloud.tencent.com`, `v1.2`) do not match.
pub fn find_commands(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
        .map(|word| word.trim_matches('.'))
        .filter(|word| {
            let Some((namespace, name)) = word.split_once('.') else { return false };
            let part = |s: &str| {
                s.len() > 1
                    && s.starts_with(|c: char| c.is_ascii_uppercase())
                    && s.chars().all(|c| c.is_ascii_alphanumeric())
            };
            part(namespace) && part(name)
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_in_prose_and_not_hosts() {
        let found: Vec<String> = find_commands(
            "See Group.CallbackAfterCreateGroup, C2C.CallbackBeforeSendMsg. Not www.Example.com, v1.2, a.B",
        )
        .collect();
        assert_eq!(found, ["Group.CallbackAfterCreateGroup", "C2C.CallbackBeforeSendMsg"]);
    }

    #[test]
    fn one_command_is_not_a_list() {
        let mut doc = Document::default();
        doc.push_text("Group.CallbackAfterCreateGroup");
        assert_eq!(CommandList::from_document("p", &doc), None);
        doc.push_table(vec![vec!["群组".into(), "Group.CallbackAfterGroupDestroyed".into()]]);
        let list = CommandList::from_document("p", &doc).unwrap();
        assert_eq!(list.commands.len(), 2);
    }
}
