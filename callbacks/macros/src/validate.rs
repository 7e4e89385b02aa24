//! Checking what the impl block names against the generated command table: known commands
//! (with the closest name for a typo), `ignore(…)` patterns, `exhaustive` coverage, and a
//! decision type written with another command's module.

use syn::{LitStr, Type};

use crate::generated::commands::{COMMANDS, CommandRow};
use crate::parse::{Errors, Methods, Options};

/// The commands an `ignore(…)` entry names: one command, a namespace (`"Sns.*"`) or all (`"*"`).
/// An entry naming nothing known is reported, with the closest name.
pub(crate) fn ignored_commands(pattern: &LitStr, errors: &mut Errors) -> Option<Vec<&'static str>> {
    let value = pattern.value();
    if value == "*" {
        return Some(COMMANDS.iter().map(|c| c.name).collect());
    }
    if let Some(namespace) = value.strip_suffix(".*") {
        let matched: Vec<&'static str> =
            COMMANDS.iter().map(|c| c.name).filter(|c| c.split('.').next() == Some(namespace)).collect();
        if matched.is_empty() {
            let mut namespaces: Vec<&str> = COMMANDS.iter().filter_map(|c| c.name.split('.').next()).collect();
            namespaces.dedup();
            let hint = closest(namespace, namespaces.iter().copied())
                .map(|n| format!("; did you mean `{n}.*`?"))
                .unwrap_or_default();
            errors.push(syn::Error::new_spanned(
                pattern,
                format!("no known command is in namespace `{namespace}`{hint}"),
            ));
            return None;
        }
        return Some(matched);
    }
    lookup(pattern, errors).map(|row| vec![row.name])
}

/// With `exhaustive`, every known command must have a handler or be ignored.
pub(crate) fn check_exhaustive(options: &Options, methods: &Methods, errors: &mut Errors) {
    let Some(span) = options.exhaustive else { return };
    let mut ignored = Vec::new();
    let mut complete = methods.complete;
    for pattern in &options.ignored {
        let Some(commands) = ignored_commands(pattern, errors) else {
            complete = false;
            continue;
        };
        // Naming a handled command on its own is a contradiction; a namespace may hold both.
        if let [command] = commands[..]
            && !pattern.value().ends_with('*')
            && methods.handlers.iter().any(|h| h.row.name == command)
        {
            errors.push(syn::Error::new_spanned(pattern, format!("`{command}` has a handler; do not also ignore it")));
        }
        ignored.extend(commands);
    }
    // After an unknown command, the list of missing ones would only repeat that mistake.
    if !complete {
        return;
    }
    let missing: Vec<&str> = COMMANDS
        .iter()
        .map(|c| c.name)
        .filter(|c| !methods.handlers.iter().any(|h| h.row.name == *c) && !ignored.contains(c))
        .collect();
    if !missing.is_empty() {
        let list: String = missing.iter().map(|c| format!("\n  {c}")).collect();
        errors.push(syn::Error::new(
            span,
            format!(
                "`exhaustive`: {} known command(s) have no handler and are not ignored; add an `#[on(\"…\")]` method \
                 or list them in `ignore(…)` (a namespace may be ignored whole, e.g. `\"Sns.*\"`):{list}",
                missing.len()
            ),
        ));
    }
}

/// The closest of `candidates` to `name`, if close enough to suggest.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()), c))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.8)
        .map(|(_, c)| c)
}

/// Finds the command in the generated table, or reports it with the closest known name.
pub(crate) fn lookup(command: &LitStr, errors: &mut Errors) -> Option<&'static CommandRow> {
    let name = command.value();
    if let Some(row) = COMMANDS.iter().find(|row| row.name == name) {
        return Some(row);
    }
    let hint = match closest(&name, COMMANDS.iter().map(|c| c.name)) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => "; commands this version does not know reach the `#[fallback]` method".to_owned(),
    };
    errors.push(syn::Error::new_spanned(command, format!("unknown callback command `{name}`{hint}")));
    None
}

/// A decision written with a module path (`c2c::BeforeSendMsgDecision`) for a command of another
/// module: said in words naming both modules, where the compiler would only see two types of one
/// name ("expected `BeforeSendMsgDecision`, found a different `BeforeSendMsgDecision`").
pub(crate) fn check_decision_module(written: &Type, row: &CommandRow, errors: &mut Errors) {
    let Type::Path(path) = written else { return };
    let segments: Vec<_> = path.path.segments.iter().collect();
    let [.., module, last] = segments[..] else { return };
    let module = module.ident.to_string();
    let is_known_module = COMMANDS.iter().any(|c| c.module == module);
    if is_known_module && module != row.module {
        errors.push(syn::Error::new_spanned(
            written,
            format!(
                "`{}` is answered with `{}::{}Decision`, not `{module}::{}`",
                row.name, row.module, row.type_name, last.ident
            ),
        ));
    }
}
