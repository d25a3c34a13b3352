//! Event types from an OpenAPI document (Svix's `event-type/import/openapi`): each entry
//! of the document's `webhooks` (OpenAPI 3.1) or `x-webhooks` (3.0) becomes an event type
//! named by its key. Its operation (`post`, else the first method given) gives the
//! description (`description`, else `summary`, else the request body's), `deprecated`,
//! the group (`x-svix-group-name`) and the feature flags (`x-svix-feature-flags`, or the
//! older single `x-svix-feature-flag`); the JSON body's schema becomes version 1 of the
//! event type's schemas, with the document's components it refers to carried along
//! under `$defs` (references outside the document are refused: Herald never fetches
//! one). Pure: the route validates and writes.

use serde_json::{Map, Value};

/// The most webhooks one document may define.
pub const MAX_WEBHOOKS: usize = 1_000;

/// The most the schemas of one document may come to, once each carries the components
/// it refers to: a component shared by many webhooks is copied into each.
pub const MAX_SCHEMA_BYTES: usize = 8 * 1024 * 1024;

/// The methods looked at for a webhook's operation, `post` first.
const METHODS: [&str; 5] = ["post", "put", "patch", "get", "delete"];

/// One event type a document defines.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedEventType {
    pub name: String,
    pub description: String,
    pub deprecated: bool,
    /// The payload's JSON Schema, self-contained.
    pub schema: Option<Value>,
    pub group_name: Option<String>,
    pub feature_flags: Option<Vec<String>>,
}

/// What is wrong with a document, and where (a path into it).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportError {
    pub at: Vec<String>,
    pub message: String,
}

impl ImportError {
    fn new(at: &[&str], message: impl Into<String>) -> Self {
        Self { at: at.iter().map(|part| (*part).to_owned()).collect(), message: message.into() }
    }
}

/// Parses `raw` as JSON, else as YAML (a document in either is an object).
pub fn parse_raw(raw: &str) -> Result<Value, ImportError> {
    let parsed = match serde_json::from_str::<Value>(raw) {
        Ok(value) => value,
        Err(_) => yaml_serde::from_str::<Value>(raw)
            .map_err(|error| ImportError::new(&["specRaw"], format!("is neither JSON nor YAML: {error}")))?,
    };
    if !parsed.is_object() {
        return Err(ImportError::new(&["specRaw"], "must hold an OpenAPI document (an object)"));
    }
    Ok(parsed)
}

/// The event types `document` defines, in its order. Every problem is reported, not
/// only the first.
pub fn event_types(document: &Value) -> Result<Vec<ImportedEventType>, Vec<ImportError>> {
    let section = ["webhooks", "x-webhooks"].into_iter().find_map(|key| Some((key, document.get(key)?)));
    let Some((key, Value::Object(webhooks))) = section else {
        return Err(vec![ImportError::new(&["spec"], "has no `webhooks` (or `x-webhooks`) object to import")]);
    };
    if webhooks.len() > MAX_WEBHOOKS {
        return Err(vec![ImportError::new(&["spec", key], format!("defines more than {MAX_WEBHOOKS} webhooks"))]);
    }
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    let mut schema_bytes = 0;
    for (name, item) in webhooks {
        match event_type(document, name, item) {
            Ok(imported) => {
                schema_bytes += imported.schema.as_ref().map_or(0, |schema| schema.to_string().len());
                if schema_bytes > MAX_SCHEMA_BYTES {
                    let message =
                        format!("its schemas, each with what it refers to, come to more than {MAX_SCHEMA_BYTES} bytes");
                    return Err(vec![ImportError::new(&["spec", key], message)]);
                }
                found.push(imported);
            }
            Err(error) => {
                let mut at = vec!["spec".to_owned(), key.to_owned(), name.clone()];
                at.extend(error.at);
                errors.push(ImportError { at, message: error.message });
            }
        }
    }
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}

fn event_type(document: &Value, name: &str, item: &Value) -> Result<ImportedEventType, ImportError> {
    let item = resolve(document, item)?;
    let Some((method, operation)) = METHODS.iter().find_map(|method| Some((*method, item.get(*method)?))) else {
        return Err(ImportError::new(&[], "has no operation (post, put, patch, get or delete)"));
    };
    let at = |field: &str| -> Vec<String> { vec![method.to_owned(), field.to_owned()] };
    let body = match operation.get("requestBody") {
        Some(body) => Some(resolve(document, body).map_err(|error| ImportError { at: at("requestBody"), ..error })?),
        None => None,
    };
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    let description = text(operation.get("description"))
        .or_else(|| text(operation.get("summary")))
        .or_else(|| text(body.and_then(|body| body.get("description"))))
        .unwrap_or_default();
    let json_body = body.and_then(|body| body.get("content")?.get("application/json"));
    let schema = match json_body.and_then(|content| content.get("schema")) {
        None => None,
        Some(schema) => {
            let mut schema =
                self_contained(document, schema).map_err(|message| ImportError { at: at("requestBody"), message })?;
            // An example of the body, where the schema gives none, travels with it.
            if let (Some(example), Some(object)) =
                (json_body.and_then(|content| content.get("example")), schema.as_object_mut())
            {
                object.entry("examples").or_insert_with(|| Value::Array(vec![example.clone()]));
            }
            Some(schema)
        }
    };
    let feature_flags = match (operation.get("x-svix-feature-flags"), operation.get("x-svix-feature-flag")) {
        (Some(Value::Array(flags)), _) => {
            Some(
                flags.iter().map(|flag| flag.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>().ok_or_else(
                    || ImportError { at: at("x-svix-feature-flags"), message: "must list strings".into() },
                )?,
            )
        }
        (Some(_), _) => return Err(ImportError { at: at("x-svix-feature-flags"), message: "must be a list".into() }),
        (None, Some(Value::String(flag))) => Some(vec![flag.clone()]),
        (None, Some(_)) => {
            return Err(ImportError { at: at("x-svix-feature-flag"), message: "must be a string".into() })
        }
        (None, None) => None,
    };
    let group_name = match operation.get("x-svix-group-name") {
        None | Some(Value::Null) => None,
        Some(Value::String(group)) => Some(group.clone()),
        Some(_) => return Err(ImportError { at: at("x-svix-group-name"), message: "must be a string".into() }),
    };
    Ok(ImportedEventType {
        name: name.to_owned(),
        description,
        deprecated: operation.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
        schema,
        group_name,
        feature_flags,
    })
}

/// `value`, or what its `$ref` points at within `document` (followed until it is not a
/// reference; a loop of references is an error).
fn resolve<'a>(document: &'a Value, mut value: &'a Value) -> Result<&'a Value, ImportError> {
    for _ in 0..32 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else { return Ok(value) };
        value = target(document, reference).map_err(|message| ImportError::new(&["$ref"], message))?;
    }
    Err(ImportError::new(&["$ref"], "references loop"))
}

/// What the local reference `reference` (`#/…`) points at.
fn target<'a>(document: &'a Value, reference: &str) -> Result<&'a Value, String> {
    let Some(pointer) = reference.strip_prefix('#') else {
        return Err(format!("`{reference}` points outside the document; only `#/…` references can be imported"));
    };
    document.pointer(pointer).ok_or_else(|| format!("`{reference}` points at nothing in the document"))
}

/// `schema` with every local reference it makes (directly or through what it refers
/// to) carried under `$defs`, the references rewritten to point there. A schema that is
/// only a reference becomes what it refers to.
fn self_contained(document: &Value, schema: &Value) -> Result<Value, String> {
    let mut defs: Map<String, Value> = Map::new();
    let mut keys = Keys::default();
    let mut pending: Vec<String> = Vec::new();
    let mut root = rewrite(schema, &mut pending, &mut keys)?;
    while let Some(reference) = pending.pop() {
        let key = keys.of(&reference);
        if defs.contains_key(&key) {
            continue;
        }
        // Reserved first, so a reference back to it is not followed again.
        defs.insert(key.clone(), Value::Null);
        let rewritten = rewrite(target(document, &reference)?, &mut pending, &mut keys)?;
        defs.insert(key, rewritten);
    }
    // A bare reference at the top: the schema is what it points at.
    if let Some(reference) = root.as_object().filter(|object| object.len() == 1).and_then(|object| object.get("$ref")) {
        let key = reference.as_str().and_then(|r| r.strip_prefix("#/$defs/")).unwrap_or_default().to_owned();
        if let Some(inner) = defs.get(&key).filter(|inner| !refers_to(inner, &key)) {
            root = inner.clone();
            if !defs.values().any(|other| refers_to(other, &key)) {
                defs.remove(&key);
            }
        }
    }
    if !defs.is_empty() {
        if let Some(object) = root.as_object_mut() {
            object.insert("$defs".into(), Value::Object(defs));
        } else {
            return Err("a schema that refers to others must be an object".into());
        }
    }
    Ok(root)
}

/// The `$defs` key of each reference, told apart when two references would share one
/// (`#/components/schemas/a~1b` and `#/components/schemas/a_b` both read `a_b`).
#[derive(Default)]
struct Keys {
    by_reference: std::collections::HashMap<String, String>,
    taken: std::collections::HashSet<String>,
}

impl Keys {
    fn of(&mut self, reference: &str) -> String {
        if let Some(key) = self.by_reference.get(reference) {
            return key.clone();
        }
        let base = def_key(reference);
        let mut key = base.clone();
        let mut n = 2;
        while self.taken.contains(&key) {
            key = format!("{base}_{n}");
            n += 1;
        }
        self.taken.insert(key.clone());
        self.by_reference.insert(reference.to_owned(), key.clone());
        key
    }
}

/// `value` with its references pointed at `$defs`; those not yet seen go to `pending`.
fn rewrite(value: &Value, pending: &mut Vec<String>, keys: &mut Keys) -> Result<Value, String> {
    Ok(match value {
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, inner) in object {
                if key == "$ref" {
                    let Some(reference) = inner.as_str() else { return Err("a `$ref` must be a string".into()) };
                    if !reference.starts_with("#/") {
                        return Err(format!(
                            "`{reference}` points outside the document; only `#/…` references can be imported"
                        ));
                    }
                    pending.push(reference.to_owned());
                    out.insert(key.clone(), Value::String(format!("#/$defs/{}", keys.of(reference))));
                } else {
                    out.insert(key.clone(), rewrite(inner, pending, keys)?);
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| rewrite(item, pending, keys)).collect::<Result<_, _>>()?)
        }
        other => other.clone(),
    })
}

/// The `$defs` key of the reference `#/components/schemas/Pet`: `Pet` when that is the
/// common place, else the pointer's parts joined by dots (never a `/`, which a pointer
/// would have to escape).
fn def_key(reference: &str) -> String {
    let pointer = reference.trim_start_matches("#/");
    match pointer.strip_prefix("components/schemas/") {
        Some(name) if !name.contains('/') => name.replace("~1", "_").replace("~0", "_"),
        _ => pointer.replace('/', ".").replace("~1", "_").replace("~0", "_"),
    }
}

/// Whether `value` refers to `$defs/key` anywhere.
fn refers_to(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(object) => object.iter().any(|(name, inner)| {
            (name == "$ref" && inner.as_str() == Some(&format!("#/$defs/{key}"))) || refers_to(inner, key)
        }),
        Value::Array(items) => items.iter().any(|item| refers_to(item, key)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PETS: &str = r##"
openapi: 3.1.0
info: {title: Pets, version: "1"}
webhooks:
  pet.new:
    post:
      description: A new pet has been added
      x-svix-group-name: pets
      x-svix-feature-flags: [beta]
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
            example: {name: Rex}
  pet.gone:
    post:
      summary: A pet left
      deprecated: true
      x-svix-feature-flag: legacy
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string}
        owner: {$ref: "#/components/schemas/Owner"}
    Owner:
      type: object
      properties:
        friends: {type: array, items: {$ref: "#/components/schemas/Owner"}}
"##;

    #[test]
    fn webhooks_become_event_types_with_self_contained_schemas() {
        let document = parse_raw(PETS).unwrap();
        let found = event_types(&document).unwrap();
        assert_eq!(found.len(), 2);
        let new = found.iter().find(|event| event.name == "pet.new").unwrap();
        assert_eq!(new.description, "A new pet has been added");
        assert_eq!((new.group_name.as_deref(), new.feature_flags.clone()), (Some("pets"), Some(vec!["beta".into()])));
        assert!(!new.deprecated);
        // The top-level reference is replaced by Pet itself; Owner (which refers to
        // itself) travels under $defs, and the example comes along.
        let schema = new.schema.clone().unwrap();
        assert_eq!(schema["required"], json!(["name"]));
        assert_eq!(schema["properties"]["owner"], json!({"$ref": "#/$defs/Owner"}));
        assert_eq!(schema["$defs"]["Owner"]["properties"]["friends"]["items"], json!({"$ref": "#/$defs/Owner"}));
        assert!(schema["$defs"].get("Pet").is_none(), "Pet is the schema itself: {schema}");
        assert_eq!(schema["examples"], json!([{"name": "Rex"}]));
        let compiled = jsonschema::validator_for(&schema).unwrap();
        assert!(compiled.is_valid(&json!({"name": "Rex", "owner": {"friends": [{}]}})));
        assert!(!compiled.is_valid(&json!({"owner": {}})));

        let gone = found.iter().find(|event| event.name == "pet.gone").unwrap();
        assert_eq!((gone.description.as_str(), gone.deprecated), ("A pet left", true));
        assert_eq!((gone.schema.clone(), gone.feature_flags.clone()), (None, Some(vec!["legacy".into()])));
    }

    #[test]
    fn two_references_that_would_share_a_key_keep_their_own_schemas() {
        let document = json!({
            "webhooks": {"a.b": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "slash": {"$ref": "#/components/schemas/a~1b"},
                    "underscore": {"$ref": "#/components/schemas/a_b"}
                }
            }}}}}}},
            "components": {"schemas": {"a/b": {"type": "string"}, "a_b": {"type": "integer"}}}
        });
        let schema = event_types(&document).unwrap()[0].schema.clone().unwrap();
        let compiled = jsonschema::validator_for(&schema).unwrap();
        assert!(compiled.is_valid(&json!({"slash": "s", "underscore": 1})), "{schema}");
        assert!(!compiled.is_valid(&json!({"slash": 1})), "{schema}");
        assert!(!compiled.is_valid(&json!({"underscore": "s"})), "{schema}");
    }

    #[test]
    fn json_documents_and_x_webhooks_are_read_too() {
        let document = parse_raw(
            r#"{"x-webhooks": {"a.b": {"post": {"requestBody": {"description": "From the body",
            "content": {"application/json": {"schema": {"type": "object"}}}}}}}}"#,
        )
        .unwrap();
        let found = event_types(&document).unwrap();
        assert_eq!(found[0].description, "From the body");
        assert_eq!(found[0].schema, Some(json!({"type": "object"})));
    }

    #[test]
    fn what_cannot_be_imported_is_named_with_where_it_is() {
        assert!(parse_raw("[1, 2]").is_err());
        assert!(parse_raw("a: [unclosed").is_err());
        let missing = event_types(&json!({"openapi": "3.1.0", "paths": {}})).unwrap_err();
        assert_eq!(missing[0].at, vec!["spec"]);
        let document = json!({"webhooks": {
            "remote": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "https://example.com/s.json"}}}}}},
            "dangling": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Nope"}}}}}},
            "empty": {"parameters": []},
            "flags": {"post": {"x-svix-feature-flags": "beta"}}
        }});
        let errors = event_types(&document).unwrap_err();
        let mut at: Vec<String> = errors.iter().map(|error| error.at.join(".")).collect();
        at.sort();
        assert_eq!(
            at,
            vec![
                "spec.webhooks.dangling.post.requestBody",
                "spec.webhooks.empty",
                "spec.webhooks.flags.post.x-svix-feature-flags",
                "spec.webhooks.remote.post.requestBody",
            ]
        );
        let says = |name: &str| errors.iter().find(|error| error.at[2] == name).unwrap().message.clone();
        assert!(says("remote").contains("outside the document"), "{errors:?}");
        assert!(says("dangling").contains("points at nothing"), "{errors:?}");
    }
}
