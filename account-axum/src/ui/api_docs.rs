//! The API documentation page: a readable reference of the whole API, rendered on the
//! server from the same OpenAPI document the API serves at `/api/openapi.json`, so that
//! it can never describe another API than the one running.
//!
//! The page's own words (how to authenticate, the headings) come from the catalogs; the
//! operations' summaries and descriptions are the document's, which is written in
//! English. The page needs no JavaScript and no other asset than the stylesheet, and no
//! sign-in: it shows the settings' navigation to a signed-in visitor.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value};

use account_core::Error;

use super::{Ctx, Page, Ui, Viewer, render};

pub(crate) fn routes(prefix: &str) -> Router<Ui> {
    Router::new().route(&format!("{prefix}/api-docs"), get(api_docs_page))
}

/// The methods of a path item, in the order the page lists them.
const METHODS: [&str; 8] = [
    "get", "head", "options", "post", "put", "patch", "delete", "trace",
];

/// A text of the document, in paragraphs of spans: the document's descriptions are
/// Markdown-ish, with `code` in backticks and lines wrapped in the source, so that the
/// page shows code as code and lets the browser wrap the lines.
#[derive(Debug, Default)]
struct Prose {
    paragraphs: Vec<Vec<Span>>,
}

#[derive(Debug)]
struct Span {
    code: bool,
    text: String,
}

impl Prose {
    fn of(text: Option<&str>) -> Prose {
        let Some(text) = text else {
            return Prose::default();
        };
        let paragraphs = text
            .split("\n\n")
            .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|paragraph| !paragraph.is_empty())
            .map(|paragraph| {
                paragraph
                    .split('`')
                    .enumerate()
                    .filter(|(_, text)| !text.is_empty())
                    .map(|(i, text)| Span {
                        code: i % 2 == 1,
                        text: text.to_owned(),
                    })
                    .collect()
            })
            .collect();
        Prose { paragraphs }
    }
}

/// A type as the page writes it: words around at most one schema name, which links to
/// the schema's description ("array of `ApiToken`", "`Role` or null").
#[derive(Debug, Default)]
struct Ty {
    before: String,
    name: Option<String>,
    after: String,
}

impl Ty {
    fn text(text: impl Into<String>) -> Ty {
        Ty {
            before: text.into(),
            ..Ty::default()
        }
    }

    fn is_empty(&self) -> bool {
        self.before.is_empty() && self.name.is_none() && self.after.is_empty()
    }
}

/// A field of an object.
#[derive(Debug)]
struct Property {
    name: String,
    ty: Ty,
    required: bool,
    description: Prose,
}

/// One of the shapes a `oneOf` schema may take.
#[derive(Debug)]
struct Alternative {
    description: Prose,
    properties: Vec<Property>,
}

/// A schema: its type in words, its fields, or its alternatives.
#[derive(Debug, Default)]
struct Shape {
    ty: Ty,
    description: Prose,
    properties: Vec<Property>,
    alternatives: Vec<Alternative>,
}

/// A named schema of the document's components.
#[derive(Debug)]
struct NamedSchema {
    name: String,
    shape: Shape,
}

/// A parameter of an operation (in the path, the query or a header).
#[derive(Debug)]
struct Parameter {
    name: String,
    location: String,
    required: bool,
    ty: Ty,
    description: Prose,
}

/// The request body of an operation.
#[derive(Debug)]
struct Body {
    media_types: Vec<String>,
    required: bool,
    shape: Shape,
}

/// One answer of an operation.
#[derive(Debug)]
struct Answer {
    status: String,
    description: Prose,
    media_type: Option<String>,
    ty: Ty,
}

/// One operation: a method on a path.
#[derive(Debug)]
struct Operation {
    anchor: String,
    method: String,
    path: String,
    summary: Prose,
    description: Prose,
    /// Whether the session cookie authenticates it.
    cookie: bool,
    /// Whether a personal API token authenticates it.
    bearer: bool,
    /// Whether it changes something, so that a token needs the `write` scope.
    unsafe_method: bool,
    parameters: Vec<Parameter>,
    body: Option<Body>,
    answers: Vec<Answer>,
}

impl Operation {
    /// Whether the operation needs no authentication at all.
    fn public(&self) -> bool {
        !self.cookie && !self.bearer
    }
}

/// The operations of one tag.
#[derive(Debug)]
struct Group {
    anchor: String,
    name: String,
    description: Prose,
    operations: Vec<Operation>,
}

/// The whole reference, as the page shows it.
#[derive(Debug)]
struct Reference {
    title: String,
    version: String,
    description: Prose,
    groups: Vec<Group>,
    schemas: Vec<NamedSchema>,
}

#[derive(Template)]
#[template(path = "ui/api_docs.html")]
struct ApiDocsPage {
    p: Page,
    reference: &'static Reference,
    /// The document's own address.
    openapi_url: String,
    /// The address of the API as an example request names it.
    api_url: String,
    cookie_name: String,
}

async fn api_docs_page(ctx: Ctx, viewer: Option<Viewer>) -> Response {
    let reference = match reference(&ctx) {
        Ok(reference) => reference,
        Err(e) => return ctx.error_page(viewer.as_ref(), e),
    };
    let origin = ctx.accounts().config().public_url.origin();
    let origin = if origin.is_tuple() {
        origin.ascii_serialization()
    } else {
        String::new()
    };
    render(
        StatusCode::OK,
        &ApiDocsPage {
            p: ctx.page(viewer.as_ref(), "api_docs.title"),
            reference,
            openapi_url: format!("{}/openapi.json", ctx.api),
            api_url: format!("{origin}{}", ctx.api),
            cookie_name: ctx.ui.state.cookie_name().to_owned(),
        },
    )
}

/// The reference, built from the document on the first visit and kept: the document is
/// the routes' own, fixed when the process is built. (Its one run-time part, the session
/// cookie's name in the security schemes, is not part of the reference; the page takes
/// it from the state.)
fn reference(ctx: &Ctx) -> Result<&'static Reference, Error> {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    if let Some(reference) = REFERENCE.get() {
        return Ok(reference);
    }
    let document = crate::AccountRouter::from_state(ctx.ui.state.clone()).openapi();
    let document = serde_json::to_value(&document).map_err(|e| {
        tracing::error!(error = %e, "the OpenAPI document could not be read");
        Error::Internal("the OpenAPI document could not be read".to_owned())
    })?;
    Ok(REFERENCE.get_or_init(|| Reference::of(&document)))
}

impl Reference {
    fn of(document: &Value) -> Reference {
        let empty = Map::new();
        let schemas = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let docs = Docs { schemas };
        let info = document.get("info");
        let mut groups: Vec<Group> = document
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|tag| {
                let name = tag.get("name")?.as_str()?;
                Some(Group {
                    anchor: format!("tag-{}", anchor_part(name)),
                    name: name.to_owned(),
                    description: Prose::of(text(tag, "description")),
                    operations: Vec::new(),
                })
            })
            .collect();
        let mut untagged = Vec::new();
        let mut anchors = BTreeSet::new();
        let paths = document.get("paths").and_then(Value::as_object);
        for (path, item) in paths.into_iter().flatten() {
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let mut op = docs.operation(path, method, item, operation);
                // Anchors come from operation ids, which the document keeps unique; a
                // document that repeats one still gets anchors that differ.
                while !anchors.insert(op.anchor.clone()) {
                    op.anchor.push('_');
                }
                let tag = operation
                    .get("tags")
                    .and_then(Value::as_array)
                    .and_then(|tags| tags.first())
                    .and_then(Value::as_str);
                match groups.iter_mut().find(|g| Some(g.name.as_str()) == tag) {
                    Some(group) => group.operations.push(op),
                    None => match tag {
                        Some(name) => groups.push(Group {
                            anchor: format!("tag-{}", anchor_part(name)),
                            name: name.to_owned(),
                            description: Prose::default(),
                            operations: vec![op],
                        }),
                        None => untagged.push(op),
                    },
                }
            }
        }
        if !untagged.is_empty() {
            groups.push(Group {
                anchor: "tag-other".to_owned(),
                name: "other".to_owned(),
                description: Prose::default(),
                operations: untagged,
            });
        }
        groups.retain(|g| !g.operations.is_empty());
        Reference {
            title: info
                .and_then(|i| text(i, "title"))
                .unwrap_or_default()
                .to_owned(),
            version: info
                .and_then(|i| text(i, "version"))
                .unwrap_or_default()
                .to_owned(),
            description: Prose::of(info.and_then(|i| text(i, "description"))),
            groups,
            schemas: schemas
                .iter()
                .map(|(name, schema)| NamedSchema {
                    name: name.clone(),
                    shape: docs.shape(schema),
                })
                .collect(),
        }
    }
}

/// A string member of a JSON object.
fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// A name made safe for an HTML id and a URL fragment.
fn anchor_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The name a local `$ref` points to (`#/components/schemas/ApiToken` → `ApiToken`).
fn ref_name(schema: &Value) -> Option<&str> {
    text(schema, "$ref")?.strip_prefix("#/components/schemas/")
}

/// Reads the parts of the document, resolving references to its schemas.
struct Docs<'a> {
    schemas: &'a Map<String, Value>,
}

impl Docs<'_> {
    fn operation(&self, path: &str, method: &str, item: &Value, operation: &Value) -> Operation {
        let security = operation
            .get("security")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let accepts = |scheme: &str| security.iter().any(|s| s.get(scheme).is_some());
        // Parameters may sit on the path item (shared by its operations) and on the
        // operation itself.
        let parameters = item
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(
                operation
                    .get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            )
            .map(|parameter| {
                let parameter = self.resolve(parameter);
                Parameter {
                    name: text(parameter, "name").unwrap_or_default().to_owned(),
                    location: text(parameter, "in").unwrap_or_default().to_owned(),
                    required: parameter.get("required").and_then(Value::as_bool) == Some(true),
                    ty: parameter
                        .get("schema")
                        .map(|s| self.ty(s))
                        .unwrap_or_default(),
                    description: Prose::of(text(parameter, "description")),
                }
            })
            .collect();
        let body = operation.get("requestBody").map(|body| {
            let content = body.get("content").and_then(Value::as_object);
            let schema = content
                .and_then(|c| c.values().find_map(|media| media.get("schema")))
                .unwrap_or(&Value::Null);
            Body {
                media_types: content
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.clone())
                    .collect(),
                required: body.get("required").and_then(Value::as_bool) == Some(true),
                shape: self.shape_with_name(schema),
            }
        });
        let answers = operation
            .get("responses")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(status, answer)| {
                let content = answer.get("content").and_then(Value::as_object);
                let first = content.and_then(|c| c.iter().next());
                Answer {
                    status: status.clone(),
                    description: Prose::of(text(answer, "description")),
                    media_type: first.map(|(media, _)| media.clone()),
                    ty: first
                        .and_then(|(_, media)| media.get("schema"))
                        .map(|s| self.ty(s))
                        .unwrap_or_default(),
                }
            })
            .collect();
        let id = text(operation, "operationId")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{method}{path}"));
        Operation {
            anchor: format!("op-{}", anchor_part(&id)),
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            summary: Prose::of(text(operation, "summary")),
            description: Prose::of(text(operation, "description")),
            cookie: accepts(crate::openapi::SESSION_COOKIE_SCHEME),
            bearer: accepts(crate::openapi::BEARER_SCHEME),
            unsafe_method: !matches!(method, "get" | "head" | "options" | "trace"),
            parameters,
            body,
            answers,
        }
    }

    /// What `schema` refers to, or itself when it is no reference (or a dangling one).
    fn resolve<'v>(&'v self, schema: &'v Value) -> &'v Value {
        match ref_name(schema).and_then(|name| self.schemas.get(name)) {
            Some(target) => target,
            None => schema,
        }
    }

    /// A schema's type in words, with the schema it names linked.
    fn ty(&self, schema: &Value) -> Ty {
        if let Some(name) = ref_name(schema) {
            return Ty {
                name: Some(name.to_owned()),
                ..Ty::default()
            };
        }
        for combinator in ["allOf", "oneOf", "anyOf"] {
            if let Some(parts) = schema.get(combinator).and_then(Value::as_array) {
                // `T or null` is how a nullable reference is written.
                let (nulls, others): (Vec<&Value>, Vec<&Value>) =
                    parts.iter().partition(|p| text(p, "type") == Some("null"));
                if let [only] = others.as_slice() {
                    let mut ty = self.ty(only);
                    if !nulls.is_empty() {
                        ty.after.push_str(" | null");
                    }
                    return ty;
                }
                let names: Vec<String> = others.iter().map(|p| self.ty_text(p)).collect();
                let joiner = if combinator == "allOf" { " & " } else { " | " };
                return Ty::text(names.join(joiner));
            }
        }
        let (kind, nullable) = match schema.get("type") {
            Some(Value::String(kind)) => (Some(kind.as_str()), false),
            Some(Value::Array(kinds)) => {
                let kinds: Vec<&str> = kinds.iter().filter_map(Value::as_str).collect();
                let nullable = kinds.contains(&"null");
                let kind = kinds.into_iter().find(|k| *k != "null");
                (kind, nullable)
            }
            _ => (None, false),
        };
        let mut ty = match kind {
            Some("array") => {
                let mut ty = schema
                    .get("items")
                    .map(|items| self.ty(items))
                    .unwrap_or_default();
                ty.before.insert_str(0, "array of ");
                ty
            }
            Some("object") => match schema.get("additionalProperties") {
                Some(values) if values.is_object() => {
                    let mut ty = self.ty(values);
                    ty.before.insert_str(0, "map of string to ");
                    ty
                }
                _ => Ty::text("object"),
            },
            Some(kind) => {
                let mut words = kind.to_owned();
                if let Some(format) = text(schema, "format") {
                    words.push_str(&format!(" ({format})"));
                }
                if let Some(values) = schema.get("enum").and_then(Value::as_array) {
                    let values: Vec<String> = values.iter().map(Value::to_string).collect();
                    words.push_str(&format!(": {}", values.join(" | ")));
                }
                Ty::text(words)
            }
            None => Ty::text("any"),
        };
        if nullable {
            ty.after.push_str(" | null");
        }
        ty
    }

    /// A type in plain words, for a list of alternatives.
    fn ty_text(&self, schema: &Value) -> String {
        let ty = self.ty(schema);
        format!("{}{}{}", ty.before, ty.name.unwrap_or_default(), ty.after)
    }

    /// A body's schema: its fields when it names one, else its type.
    fn shape_with_name(&self, schema: &Value) -> Shape {
        let mut shape = self.shape(self.resolve(schema));
        if ref_name(schema).is_some() {
            shape.ty = self.ty(schema);
        }
        shape
    }

    /// A schema's description, fields (`allOf` parts merged) and alternatives.
    fn shape(&self, schema: &Value) -> Shape {
        let mut shape = Shape {
            description: Prose::of(text(schema, "description")),
            ..Shape::default()
        };
        if let Some(alternatives) = schema.get("oneOf").and_then(Value::as_array) {
            shape.alternatives = alternatives
                .iter()
                .map(|alternative| {
                    let alternative = self.resolve(alternative);
                    Alternative {
                        description: Prose::of(text(alternative, "description")),
                        properties: self.properties(alternative),
                    }
                })
                .collect();
            shape.ty = Ty::text("one of");
            return shape;
        }
        shape.properties = self.properties(schema);
        shape.ty = if shape.properties.is_empty() {
            self.ty(schema)
        } else {
            Ty::text("object")
        };
        shape
    }

    /// The fields of an object schema, with those of every `allOf` part.
    fn properties(&self, schema: &Value) -> Vec<Property> {
        let schema = self.resolve(schema);
        let mut out = Vec::new();
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(self.properties(part));
        }
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, property) in properties.into_iter().flatten() {
            out.push(Property {
                name: name.clone(),
                ty: self.ty(property),
                required: required.contains(&name.as_str()),
                description: Prose::of(text(property, "description")),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prose_keeps_paragraphs_and_code_and_rejoins_wrapped_lines() {
        let prose = Prose::of(Some("Use `read`\nor `write`.\n\nSecond one."));
        assert_eq!(prose.paragraphs.len(), 2);
        let first: Vec<(bool, &str)> = prose.paragraphs[0]
            .iter()
            .map(|s| (s.code, s.text.as_str()))
            .collect();
        assert_eq!(
            first,
            [
                (false, "Use "),
                (true, "read"),
                (false, " or "),
                (true, "write"),
                (false, ".")
            ]
        );
        assert!(Prose::of(None).paragraphs.is_empty());
    }

    #[test]
    fn references_resolve_and_types_read_as_words() {
        let schemas = json!({
            "Scope": {"type": "string", "enum": ["read", "write"]},
            "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "format": "uuid"}}},
            "Made": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}]}
        });
        let schemas = schemas.as_object().expect("an object");
        let docs = Docs { schemas };
        let array =
            docs.ty(&json!({"type": "array", "items": {"$ref": "#/components/schemas/Scope"}}));
        assert_eq!(array.before, "array of ");
        assert_eq!(array.name.as_deref(), Some("Scope"));
        assert_eq!(
            docs.ty_text(&json!({"type": ["string", "null"], "format": "date-time"})),
            "string (date-time) | null"
        );
        assert_eq!(
            docs.ty_text(&json!({"$ref": "#/components/schemas/Scope"})),
            "Scope"
        );
        assert_eq!(
            docs.ty_text(&schemas["Scope"]),
            "string: \"read\" | \"write\""
        );
        let made = docs.shape_with_name(&json!({"$ref": "#/components/schemas/Made"}));
        let fields: Vec<(&str, bool)> = made
            .properties
            .iter()
            .map(|p| (p.name.as_str(), p.required))
            .collect();
        assert_eq!(fields, [("id", true), ("token", true)]);
        assert_eq!(made.ty.name.as_deref(), Some("Made"));
    }

    #[test]
    fn operations_are_grouped_by_tag_with_their_security() {
        let document = json!({
            "info": {"title": "T", "version": "1"},
            "tags": [{"name": "access", "description": "Tokens"}, {"name": "empty"}],
            "paths": {
                "/api/x/{id}": {
                    "delete": {"tags": ["access"], "operationId": "del", "summary": "Deletes.",
                        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                        "responses": {"204": {"description": "Gone"}},
                        "security": [{"session_cookie": []}]},
                    "get": {"tags": ["access"], "operationId": "get", "responses": {},
                        "security": [{"session_cookie": []}, {"bearer": []}]}
                },
                "/api/open": {"post": {"operationId": "open", "responses": {}}}
            }
        });
        let reference = Reference::of(&document);
        let names: Vec<&str> = reference.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["access", "other"]);
        let ops = &reference.groups[0].operations;
        assert_eq!(ops[0].method, "GET");
        assert!(ops[0].bearer && ops[0].cookie && !ops[0].unsafe_method);
        assert_eq!(ops[1].method, "DELETE");
        assert!(!ops[1].bearer && ops[1].unsafe_method);
        assert_eq!(ops[1].parameters[0].name, "id");
        assert!(ops[1].parameters[0].required);
        assert_eq!(ops[1].answers[0].status, "204");
        assert!(reference.groups[1].operations[0].public());
    }
}
