//! What the OpenAPI document says beyond the handlers' annotations, so that
//! a client (or a tool such as Schemathesis, which CI runs against a live
//! node) reads the API as the node really behaves:
//!
//! * unsigned integers with their real range: utoipa writes a `u32` as
//!   `int32` (which refuses 2147483648, a value the node takes) and a `u64`
//!   as `int64` (which refuses 2^63);
//! * links from the operations that create or list a resource to those that
//!   take its identifier (OpenAPI `links`), so that a client can follow them
//!   and a stateful test chains real identifiers instead of random ones.

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::link::{Link, LinkBuilder};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ArrayItems, KnownFormat, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr, Schema};
use utoipa::Number;

// ------------------------------------------------------------ integers

/// Every unsigned integer of the document (components, parameters,
/// bodies) with the range the node reads.
pub fn exact_unsigned(doc: &mut OpenApi) {
    if let Some(components) = doc.components.as_mut() {
        components.schemas.values_mut().for_each(unsigned);
    }
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            for p in op.parameters.iter_mut().flatten() {
                if let Some(s) = p.schema.as_mut() {
                    unsigned(s);
                }
            }
            if let Some(body) = op.request_body.as_mut() {
                for c in body.content.values_mut() {
                    if let Some(s) = c.schema.as_mut() {
                        unsigned(s);
                    }
                }
            }
        }
    }
}

fn is_integer(t: &SchemaType) -> bool {
    match t {
        SchemaType::Type(t) => *t == Type::Integer,
        SchemaType::Array(types) => types.contains(&Type::Integer),
        SchemaType::AnyValue => false,
    }
}

fn is_zero(n: &Number) -> bool {
    match n {
        Number::Int(i) => *i == 0,
        Number::UInt(u) => *u == 0,
        Number::Float(f) => *f == 0.0,
    }
}

fn unsigned(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(o) => {
            let unsigned_int = is_integer(&o.schema_type)
                && o.minimum.as_ref().is_some_and(is_zero)
                && o.maximum.is_none();
            if unsigned_int {
                let int32 = o.format == Some(SchemaFormat::KnownFormat(KnownFormat::Int32));
                if int32 {
                    // A u32 (u16 and u8 are written the same way, but no
                    // request takes one): int64 holds its whole range.
                    o.format = Some(SchemaFormat::KnownFormat(KnownFormat::Int64));
                    o.maximum = Some(Number::UInt(u32::MAX as usize));
                } else {
                    // A u64 or usize: no OpenAPI format holds 2^64 - 1.
                    o.format = None;
                    o.maximum = Some(Number::UInt(usize::MAX));
                }
            }
            o.properties.values_mut().for_each(unsigned);
            if let Some(extra) = o.additional_properties.as_mut() {
                if let utoipa::openapi::schema::AdditionalProperties::RefOr(s) = extra.as_mut() {
                    unsigned(s);
                }
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                unsigned(items);
            }
        }
        Schema::OneOf(o) => o.items.iter_mut().for_each(unsigned),
        Schema::AllOf(o) => o.items.iter_mut().for_each(unsigned),
        Schema::AnyOf(o) => o.items.iter_mut().for_each(unsigned),
        _ => {}
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

// ------------------------------------------------------------ links

/// Where an operation's answer leads: `(method, path, status)` of the
/// producer, then each `(link name, method, path of the target,
/// parameters)`, the parameters as OpenAPI runtime expressions.
type LinkTable = Vec<(Producer, Vec<Target>)>;
type Producer = (&'static str, &'static str, &'static str);
type Target = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The operations that take a case's id, from a case (`{id}` at `id`).
fn case_targets(id: &'static str) -> Vec<Target> {
    let at: &'static [(&str, &str)] = match id {
        "list" => &[("id", "$response.body#/0/id")],
        _ => &[("id", "$response.body#/id")],
    };
    vec![
        ("case", "get", "/api/v1/cases/{id}", at),
        ("members", "get", "/api/v1/cases/{id}/members", at),
        ("add_member", "post", "/api/v1/cases/{id}/members", at),
        ("evidence", "get", "/api/v1/cases/{id}/evidence", at),
        ("draft_request", "post", "/api/v1/cases/{id}/requests", at),
        ("upload", "post", "/api/v1/cases/{id}/evidence/uploads", at),
        (
            "package",
            "post",
            "/api/v1/cases/{id}/evidence/packages",
            at,
        ),
    ]
}

/// The operations that take a request's id.
fn request_targets(id: &'static str) -> Vec<Target> {
    let at: &'static [(&str, &str)] = match id {
        "list" => &[("id", "$response.body#/0/id")],
        _ => &[("id", "$response.body#/id")],
    };
    vec![
        ("request", "get", "/api/v1/requests/{id}", at),
        ("edit", "put", "/api/v1/requests/{id}/content", at),
        (
            "transition",
            "post",
            "/api/v1/requests/{id}/transitions",
            at,
        ),
        ("document", "get", "/api/v1/requests/{id}/document.pdf", at),
        ("send", "post", "/api/v1/requests/{id}/send", at),
        ("extension", "post", "/api/v1/requests/{id}/extension", at),
    ]
}

/// The operations that take an evidence item's id, found at `pointer`.
fn item_targets(at: &'static [(&'static str, &'static str)]) -> Vec<Target> {
    vec![
        ("item", "get", "/api/v1/evidence/{id}", at),
        ("content", "get", "/api/v1/evidence/{id}/content", at),
        ("custody", "post", "/api/v1/evidence/{id}/custody", at),
    ]
}

fn peer_targets(at: &'static [(&'static str, &'static str)]) -> Vec<Target> {
    vec![
        ("status", "patch", "/api/v1/peers/{node_id}", at),
        ("forget", "delete", "/api/v1/peers/{node_id}", at),
        ("note", "post", "/api/v1/peers/{node_id}/messages", at),
    ]
}

fn table() -> LinkTable {
    const UPLOAD: &[(&str, &str)] = &[("id", "$response.body#/id")];
    vec![
        (("post", "/api/v1/cases", "201"), case_targets("one")),
        (("get", "/api/v1/cases", "200"), case_targets("list")),
        (
            ("post", "/api/v1/cases/{id}/requests", "201"),
            request_targets("one"),
        ),
        (("get", "/api/v1/requests", "200"), request_targets("list")),
        (
            ("post", "/api/v1/requests/{id}/extension", "201"),
            request_targets("one"),
        ),
        (
            ("post", "/api/v1/cases/{id}/evidence/uploads", "201"),
            vec![
                ("status", "get", "/api/v1/evidence/uploads/{id}", UPLOAD),
                ("append", "patch", "/api/v1/evidence/uploads/{id}", UPLOAD),
                ("abandon", "delete", "/api/v1/evidence/uploads/{id}", UPLOAD),
            ],
        ),
        (
            ("patch", "/api/v1/evidence/uploads/{id}", "201"),
            item_targets(&[("id", "$response.body#/item/id")]),
        ),
        (
            ("get", "/api/v1/cases/{id}/evidence", "200"),
            item_targets(&[("id", "$response.body#/0/id")]),
        ),
        (
            ("get", "/api/v1/evidence/{id}", "200"),
            vec![(
                "proof",
                "get",
                "/api/v1/evidence/{id}/custody/{leaf_index}/proof",
                &[
                    ("id", "$request.path.id"),
                    ("leaf_index", "$response.body#/custody/0/leaf_index"),
                ],
            )],
        ),
        (
            ("post", "/api/v1/users", "201"),
            vec![(
                "update",
                "patch",
                "/api/v1/users/{id}",
                &[("id", "$response.body#/id")],
            )],
        ),
        (
            ("post", "/api/v1/tokens", "201"),
            vec![(
                "revoke",
                "delete",
                "/api/v1/tokens/{id}",
                &[("id", "$response.body#/token/id")],
            )],
        ),
        (
            ("post", "/api/v1/peers", "201"),
            peer_targets(&[("node_id", "$response.body#/node_id")]),
        ),
        (
            ("get", "/api/v1/peers", "200"),
            peer_targets(&[("node_id", "$response.body#/0/node_id")]),
        ),
        (
            ("post", "/api/v1/peers/{node_id}/messages", "202"),
            vec![(
                "message",
                "get",
                "/api/v1/outbox/{id}",
                &[("id", "$response.body#/message_id")],
            )],
        ),
        (
            ("get", "/api/v1/inbox", "200"),
            vec![(
                "message",
                "get",
                "/api/v1/inbox/{id}",
                &[("id", "$response.body#/0/message_id")],
            )],
        ),
    ]
}

/// `#/paths/~1api~1v1~1cases~1{id}/get`: an operation by its place in
/// the document (operation ids are handler names, not unique).
fn operation_ref(method: &str, path: &str) -> String {
    format!(
        "#/paths/{}/{method}",
        path.replace('~', "~0").replace('/', "~1")
    )
}

fn operation<'a>(doc: &'a mut OpenApi, method: &str, path: &str) -> Option<&'a mut Operation> {
    let item = doc.paths.paths.get_mut(path)?;
    match method {
        "get" => item.get.as_mut(),
        "put" => item.put.as_mut(),
        "post" => item.post.as_mut(),
        "delete" => item.delete.as_mut(),
        "patch" => item.patch.as_mut(),
        _ => None,
    }
}

fn exists(doc: &OpenApi, method: &str, path: &str) -> bool {
    doc.paths.paths.get(path).is_some_and(|item| match method {
        "get" => item.get.is_some(),
        "put" => item.put.is_some(),
        "post" => item.post.is_some(),
        "delete" => item.delete.is_some(),
        "patch" => item.patch.is_some(),
        _ => false,
    })
}

/// Adds the links of [`table`] whose operations are in the document.
pub fn add_links(doc: &mut OpenApi) {
    for ((method, path, status), targets) in table() {
        let links: Vec<(String, Link)> = targets
            .into_iter()
            .filter(|(_, m, p, _)| exists(doc, m, p))
            .map(|(name, m, p, params)| {
                // utoipa 5.5 writes `operation_ref` for the field OpenAPI
                // spells `operationRef`: it goes in as an extension instead.
                let mut spelled = Extensions::default();
                spelled.insert("operationRef".to_owned(), operation_ref(m, p).into());
                let link = params
                    .iter()
                    .fold(LinkBuilder::new(), |b, (k, v)| b.parameter(*k, *v))
                    .extensions(Some(spelled))
                    .build();
                (name.to_owned(), link)
            })
            .collect();
        let Some(op) = operation(doc, method, path) else {
            continue;
        };
        let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) else {
            continue;
        };
        for (name, link) in links {
            response.links.insert(name, RefOr::T(link));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> serde_json::Value {
        serde_json::to_value(crate::openapi::document(&crate::routes::rules())).unwrap_or_default()
    }

    /// Every link of the table is in the document, on a response the
    /// producer documents, and points at an operation that exists.
    #[test]
    fn every_link_leads_somewhere() {
        let doc = document();
        for ((method, path, status), targets) in table() {
            let response = &doc["paths"][path][method]["responses"][status];
            assert!(response.is_object(), "{method} {path} {status}");
            for (name, m, p, params) in targets {
                let link = &response["links"][name];
                assert_eq!(link["operationRef"], operation_ref(m, p), "{path} → {name}");
                assert!(doc["paths"][p][m].is_object(), "{m} {p}");
                for (k, _) in params {
                    let declared = doc["paths"][p][m]["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|q| q["name"] == *k);
                    assert!(declared, "{m} {p} has no parameter {k}");
                }
            }
        }
    }

    /// A u32 takes 4294967295 and a u64 2^64 - 1, as the node reads them.
    #[test]
    fn unsigned_integers_have_their_real_range() {
        let doc = document();
        let limit = doc["paths"]["/api/v1/requests"]["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "due_within_days")
            .cloned()
            .unwrap_or_default();
        assert_eq!(limit["schema"]["maximum"], u64::from(u32::MAX), "{limit}");
        assert_eq!(limit["schema"]["format"], "int64");
        let size = &doc["components"]["schemas"]["NewEvidenceUpload"]["properties"]["size"];
        assert_eq!(size["maximum"], u64::MAX, "{size}");
        assert!(size.get("format").is_none(), "{size}");
    }
}
