//! Python classes for the model's types: pydantic models for objects and callbacks, open enums,
//! tagged unions with an `Unknown…` member, and each before-callback's decision.

use heck::ToShoutySnakeCase;

use crate::model::{CallbackDef, DecisionDef, EnumDef, Field, Kind, Scope, StructDef, Ty, TypeDef, UnionDef, Untagged};
use std::fmt::Write;

pub(super) fn type_def(
    out: &mut String,
    def: &TypeDef,
    in_common: bool,
    command: Option<&str>,
    names: &mut Vec<String>,
) {
    match def {
        TypeDef::Struct(s) => {
            struct_def(out, s, in_common, command);
            names.push(s.name.clone());
        }
        TypeDef::Enum(e) => {
            enum_def(out, e);
            names.push(e.name.clone());
        }
        TypeDef::Union(u) => union_def(out, u, in_common, command, names),
        TypeDef::Untagged(u) => {
            let members: Vec<String> = u
                .variants
                .iter()
                .map(|(_, _, holds)| match holds {
                    Untagged::Value(ty) => py_type(ty, in_common, command),
                    Untagged::Map(ty) => format!("_t.Dict[str, {}]", py_type(ty, in_common, command)),
                })
                .collect();
            let _ = writeln!(out, "\n\n{} = _t.Union[{}]", u.name, members.join(", "));
            let doc: Vec<&str> = [u.title.as_deref(), u.description.as_deref()].into_iter().flatten().collect();
            let _ = writeln!(out, "\"\"\"{}\"\"\"", escape_doc(&doc.join("\n\n")));
            names.push(u.name.clone());
        }
    }
}

fn class_doc(out: &mut String, texts: &[Option<&str>]) {
    let text: Vec<&str> = texts.iter().flatten().copied().filter(|t| !t.is_empty()).collect();
    let text = if text.is_empty() { "A callback type.".to_owned() } else { text.join("\n\n") };
    let _ = writeln!(out, "    \"\"\"{}\"\"\"\n", escape_doc(&wrap(&text, "    ")));
}

fn struct_def(out: &mut String, def: &StructDef, in_common: bool, command: Option<&str>) {
    let _ = writeln!(out, "\n\nclass {}(CallbackModel):", def.name);
    let title = def.title.as_deref();
    let description = def.description.as_deref().filter(|d| Some(*d) != title);
    class_doc(out, &[title, description]);
    for field in &def.fields {
        field_def(out, field, in_common, command);
    }
}

fn field_def(out: &mut String, field: &Field, in_common: bool, command: Option<&str>) {
    let ty = py_type(&field.ty, in_common, command);
    let name = attribute_name(&field.wire_name);
    let alias = py_str(&field.wire_name);
    // Other spellings the vendor has used are read too, and written as the current one.
    let read_as = if field.aliases.is_empty() {
        alias.clone()
    } else {
        let names: Vec<String> = std::iter::once(&field.wire_name).chain(&field.aliases).map(|n| py_str(n)).collect();
        format!("AliasChoices({})", names.join(", "))
    };
    if field.required {
        let _ = writeln!(out, "    {name}: {ty} = Field(validation_alias={read_as}, serialization_alias={alias})");
    } else if field.defaulted {
        // Missing means empty, as in the Rust types.
        let default = match field.ty {
            Ty::Vec(_) | Ty::StringOrList => "default_factory=list",
            Ty::String => "default=\"\"",
            Ty::Bool => "default=False",
            _ => "default=0",
        };
        let _ = writeln!(
            out,
            "    {name}: {ty} = Field({default}, validation_alias={read_as}, serialization_alias={alias})"
        );
    } else {
        let _ = writeln!(
            out,
            "    {name}: _t.Optional[{ty}] = Field(default=None, validation_alias={read_as}, serialization_alias={alias})"
        );
    }
    let tag_doc =
        command.filter(|_| matches!(field.ty, Ty::CommandTag(_))).map(|c| format!("The command: always `{c}`."));
    if let Some(doc) = field.description.as_deref().filter(|d| !d.is_empty()).or(tag_doc.as_deref()) {
        let _ = writeln!(out, "    \"\"\"{}\"\"\"\n", escape_doc(&wrap(doc, "    ")));
    }
}

fn enum_def(out: &mut String, def: &EnumDef) {
    let _ = writeln!(out, "\n\nclass {}(OpenEnum):", def.name);
    let title = def.title.as_deref();
    let description = def.description.as_deref().filter(|d| Some(*d) != title);
    class_doc(
        out,
        &[title, description, Some("A value this version does not list is kept as sent, as a member of its own.")],
    );
    let aliases: Vec<(String, String)> =
        def.variants.iter().flat_map(|v| v.aliases.iter().map(move |a| (a.clone(), v.wire_name.clone()))).collect();
    if !aliases.is_empty() {
        let pairs: Vec<String> = aliases.iter().map(|(a, v)| format!("{}: {}", py_str(a), py_str(v))).collect();
        let _ = writeln!(out, "    __aliases__ = {{{}}}\n", pairs.join(", "));
    }
    for variant in &def.variants {
        let _ = writeln!(out, "    {} = {}", member_name(&variant.rust_name), py_str(&variant.wire_name));
        if let Some(doc) = variant.description.as_deref().filter(|d| !d.is_empty()) {
            let _ = writeln!(out, "    \"\"\"{}\"\"\"\n", escape_doc(&wrap(doc, "    ")));
        }
    }
}

fn union_def(out: &mut String, def: &UnionDef, in_common: bool, command: Option<&str>, names: &mut Vec<String>) {
    let tag = attribute_name(&def.tag);
    let content = attribute_name(&def.content);
    let mut members = Vec::new();
    for variant in &def.variants {
        // Named as the published schema names them (`TextMsgBodyElement`), one scheme everywhere.
        let class = format!("{}{}", variant.rust_name, def.name);
        let _ = writeln!(out, "\n\nclass {class}(CallbackModel):");
        let own = format!("`{}` = `{}`.", def.tag, variant.tag_value);
        class_doc(out, &[variant.description.as_deref(), Some(&own)]);
        let _ = writeln!(out, "    {tag}: _t.Literal[{}] = Field({})", py_str(&variant.tag_value), aliases(&def.tag));
        let _ = writeln!(
            out,
            "    {content}: {} = Field({})",
            py_type(&variant.content, in_common, command),
            aliases(&def.content)
        );
        members.push((variant.tag_value.clone(), class.clone()));
        names.push(class);
    }
    let other = format!("Unknown{}", def.name);
    let _ = writeln!(out, "\n\nclass {other}(CallbackModel):");
    class_doc(
        out,
        &[def.other_description.as_deref(), Some("A member this version does not list: its content is kept as sent.")],
    );
    let _ = writeln!(out, "    {tag}: Str = Field({})", aliases(&def.tag));
    let _ = writeln!(out, "    {content}: _t.Any = Field(default=None, {})", aliases(&def.content));
    names.push(other.clone());

    let title = def.title.as_deref();
    let description = def.description.as_deref().filter(|d| Some(*d) != title);
    let doc: Vec<&str> = [title, description].into_iter().flatten().collect();
    let known: Vec<String> = members.iter().map(|(tag, _)| format!("{}, ", py_str(tag))).collect();
    let _ = writeln!(out, "\n\n{} = _t.Annotated[\n    _t.Union[", def.name);
    for (tag, class) in &members {
        let _ = writeln!(out, "        _t.Annotated[{class}, Tag({})],", py_str(tag));
    }
    let _ = writeln!(out, "        _t.Annotated[{other}, Tag(OTHER_TAG)],\n    ],");
    let _ = writeln!(
        out,
        "    Discriminator(tag_of({}, {}, ({}))),\n]",
        py_str(&def.tag),
        py_str(&tag),
        known.concat().trim_end()
    );
    let _ = writeln!(out, "\"\"\"{}\"\"\"", escape_doc(&doc.join("\n\n")));
    names.push(def.name.clone());
}

pub(super) fn callback_class(out: &mut String, callback: &CallbackDef) {
    let reply = match callback.reply.scope {
        Scope::Common => format!("common.{}", callback.reply.name),
        Scope::Local => callback.reply.name.clone(),
    };
    let kind = match callback.kind {
        Kind::Before => "before",
        Kind::After => "after",
    };
    let lines = vec![
        format!("COMMAND: _t.ClassVar[str] = {}", py_str(&callback.command)),
        format!("KIND: _t.ClassVar[str] = {}", py_str(kind)),
        format!("REPLY: _t.ClassVar[_t.Type[CallbackModel]] = {reply}"),
        format!("DOC_URL: _t.ClassVar[str] = {}", py_str(&callback.doc_url)),
    ];
    let request = &callback.request;
    let _ = writeln!(out, "\n\nclass {}(Callback):", request.name);
    let title = request.title.as_deref();
    let description = request.description.as_deref().filter(|d| Some(*d) != title);
    let what = format!(
        "The body of `{}`, an {kind}-callback; the app answers with `{}`.",
        callback.command, callback.reply.name
    );
    class_doc(out, &[title, description, Some(&what)]);
    for line in &lines {
        let _ = writeln!(out, "    {line}");
    }
    out.push('\n');
    for field in &request.fields {
        field_def(out, field, false, Some(&callback.command));
    }
}

pub(super) fn decision_class(out: &mut String, callback: &CallbackDef, decision: &DecisionDef) {
    let base = &callback.request.name;
    let name = format!("{base}Decision");
    let reply = callback.own_reply();
    let extras: Vec<&Field> = reply
        .fields
        .iter()
        .filter(|f| !matches!(f.wire_name.as_str(), "ActionStatus" | "ErrorCode" | "ErrorInfo"))
        .collect();
    let (changed, answers): (Vec<&Field>, Vec<&Field>) =
        extras.into_iter().partition(|f| decision.modifiable.contains(&f.wire_name));

    let _ = writeln!(out, "\n\nclass {name}(Decision):");
    let doc = format!(
        "The app's answer to a `{}` callback. Return one from the handler; it is sent as `{}`. \
         Build it with the class methods, which offer only the answers this command accepts.",
        callback.command, reply.name
    );
    class_doc(out, &[Some(&doc)]);
    let _ = writeln!(out, "    REPLY: _t.ClassVar[_t.Type[CallbackModel]] = {}", reply.name);
    method(
        out,
        &name,
        "allow",
        "",
        "Allow it unchanged: `ErrorCode` 0. A command without a handler gets this answer too.",
        "cls(0)",
    );
    for (fields, method_name, doc) in [
        (
            &changed,
            "modify",
            "Allow it with changed content: `ErrorCode` 0 with the fields given; a field left `None` is not sent.",
        ),
        (&answers, "allow_with", "Allow it, with the command's extra answers: `ErrorCode` 0 with the fields given."),
    ] {
        if fields.is_empty() {
            continue;
        }
        let params: Vec<String> = fields
            .iter()
            .map(|f| format!("{}: _t.Optional[{}] = None", attribute_name(&f.wire_name), py_type(&f.ty, false, None)))
            .collect();
        let values: Vec<String> = fields
            .iter()
            .map(|f| format!("{0}: {1}", py_str(&attribute_name(&f.wire_name)), attribute_name(&f.wire_name)))
            .collect();
        method(
            out,
            &name,
            method_name,
            &format!("*, {}", params.join(", ")),
            doc,
            &format!("cls(0, fields={{{}}})", values.join(", ")),
        );
    }
    if decision.refuse {
        let client = decision.refused_client_error.map(|c| format!("; the client gets error {c}")).unwrap_or_default();
        method(out, &name, "refuse", "", &format!("Refuse it: `ErrorCode` 1{client}."), "cls(1)");
    }
    if decision.drop {
        method(
            out,
            &name,
            "drop",
            "",
            "Drop it silently: `ErrorCode` 2; the sender is told it succeeded, and nobody receives it.",
            "cls(2)",
        );
    }
    if let (true, Some((min, max))) = (decision.refuse, decision.app_error_codes) {
        method(
            out,
            &name,
            "refuse_with",
            "code: int, reason: str",
            &format!(
                "Refuse it with an app-defined code in {min}..={max}, which the client receives with the reason. Raises `ValueError` for a code outside that range."
            ),
            &format!("cls._app_code(code, reason, {min}, {max})"),
        );
    }
}

fn method(out: &mut String, class: &str, name: &str, params: &str, doc: &str, body: &str) {
    let params = if params.is_empty() { String::new() } else { format!(", {params}") };
    let _ = writeln!(out, "\n    @classmethod\n    def {name}(cls{params}) -> {class}:");
    let _ = writeln!(out, "        \"\"\"{}\"\"\"", escape_doc(&wrap(doc, "        ")));
    let _ = writeln!(out, "        return {body}");
}

fn py_type(ty: &Ty, in_common: bool, command: Option<&str>) -> String {
    match ty {
        Ty::String => "Str".into(),
        Ty::Bool => "Bool".into(),
        Ty::I32 => "I32".into(),
        Ty::U32 => "U32".into(),
        Ty::I64 => "I64".into(),
        Ty::U64 => "U64".into(),
        Ty::F64 => "F64".into(),
        Ty::LenientU64 => "LenientU64".into(),
        Ty::StringOrList => "StringOrList".into(),
        Ty::Vec(item) => format!("_t.List[{}]", py_type(item, in_common, command)),
        Ty::Named(r) => match (&r.scope, in_common) {
            (Scope::Common, false) => format!("common.{}", r.name),
            _ => r.name.clone(),
        },
        Ty::CommandTag(_) => format!("_t.Literal[{}]", py_str(command.unwrap_or_default())),
    }
}

/// Names a Python attribute may not take: keywords, the names the generated annotations use, and
/// pydantic's own model attributes.
const RESERVED: &[&str] = &[
    "False",
    "None",
    "True",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "common",
    "copy",
    "dict",
    "json",
    "schema",
    "schema_json",
    "construct",
    "validate",
    "parse_obj",
    "parse_raw",
    "parse_file",
    "from_orm",
    "update_forward_refs",
    "fields",
    "Field",
];

/// `Operator_Account` → `operator_account`; a reserved name gets a trailing underscore.
pub(crate) fn attribute_name(wire_name: &str) -> String {
    let name = heck::ToSnakeCase::to_snake_case(wire_name);
    if RESERVED.contains(&name.as_str()) || name.starts_with("model_") { format!("{name}_") } else { name }
}

/// `AvChatRoom` → `AV_CHAT_ROOM`.
fn member_name(rust_name: &str) -> String {
    rust_name.to_shouty_snake_case()
}

/// The `Field` arguments reading and writing `wire_name`. Not `alias`: with it, type checkers
/// would make the vendor's name the constructor's parameter instead of the attribute's.
fn aliases(wire_name: &str) -> String {
    let alias = py_str(wire_name);
    format!("validation_alias={alias}, serialization_alias={alias}")
}

/// A Python string literal (JSON's escapes are Python's).
pub(super) fn py_str(text: &str) -> String {
    serde_json::to_string(text).expect("a string encodes")
}

pub(super) fn escape_doc(text: &str) -> String {
    text.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"")
}

/// Wraps text at 100 columns, continuation lines indented.
pub(super) fn wrap(text: &str, indent: &str) -> String {
    let options = textwrap::Options::new(100 - indent.len()).break_words(false);
    text.split("\n\n")
        .map(|p| {
            textwrap::wrap(p.trim(), &options)
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(&format!("\n{indent}"))
        })
        .collect::<Vec<_>>()
        .join(&format!("\n\n{indent}"))
}
