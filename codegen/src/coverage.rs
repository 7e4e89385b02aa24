//! The coverage table of `docs/coverage.md`: every callback, its Rust type and its vendor page.

use crate::model::{Catalog, Kind};

/// `readme` with the text between its coverage markers replaced by a table of every callback.
pub(crate) fn coverage_table(catalog: &Catalog, readme: &str) -> Option<String> {
    const START: &str = "<!-- coverage:start";
    const END: &str = "<!-- coverage:end -->";
    let start = readme.find(START)?;
    let start = start + readme[start..].find('\n')? + 1;
    let end = readme[start..].find(END)? + start;
    let before = catalog.callbacks.iter().filter(|c| c.kind == Kind::Before).count();
    let mut table = format!(
        "{} callbacks, {before} of them before-callbacks.\n\n| command | Rust type | kind | vendor documentation |\n|---|---|---|---|\n",
        catalog.callbacks.len()
    );
    for c in &catalog.callbacks {
        let kind = match c.kind {
            Kind::Before => format!("before, answered with `{}::{}Decision`", c.namespace, c.request.name),
            Kind::After => "after".to_owned(),
        };
        table.push_str(&format!(
            "| `{}` | `{}::{}` | {kind} | <{}> |\n",
            c.command, c.namespace, c.request.name, c.doc_url
        ));
    }
    Some(format!("{}{table}{}", &readme[..start], &readme[end..]))
}
