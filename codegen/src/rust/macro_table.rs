//! The macro crate's command table: the commands its handler registrations are checked against.

use quote::quote;

use super::file;
use crate::model::{Catalog, Kind};
use crate::{Error, GeneratedFile};

/// The command table of the macro crate.
pub(crate) fn macro_table(catalog: &Catalog) -> Result<GeneratedFile, Error> {
    let rows = catalog.callbacks.iter().map(|c| {
        let (command, module, type_name) = (&c.command, &c.namespace, &c.request.name);
        let before = c.kind == Kind::Before;
        quote! { CommandRow { name: #command, module: #module, type_name: #type_name, before: #before } }
    });
    let body = quote! {
        /// One callback as the macro sees it.
        pub(crate) struct CommandRow {
            /// The exact command, e.g. `Group.CallbackAfterCreateGroup`.
            pub(crate) name: &'static str,
            /// The runtime's module holding its types, e.g. `group`.
            pub(crate) module: &'static str,
            /// Its event type in that module, e.g. `AfterCreateGroup`.
            pub(crate) type_name: &'static str,
            /// Whether it is a before-callback, answered with `<type_name>Decision`.
            pub(crate) before: bool,
        }

        /// Every callback, sorted by command.
        pub(crate) const COMMANDS: &[CommandRow] = &[#(#rows),*];
    };
    file("commands.rs", "schema/", "The command table the macros check handlers against.", &Default::default(), body)
}
