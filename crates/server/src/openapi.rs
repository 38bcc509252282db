//! The OpenAPI document of the JSON API under `/api/v1`, served at
//! `/api/openapi.json` and generated from the handlers' annotations.
//!
//! The annotations say what is particular to a route (its body, its 404 or
//! 409); what every route shares is added here from the route table (which
//! hands its rules to [`openapi_json`]), so it cannot be forgotten: `401` on every route that needs a caller, `403` on
//! every route reserved to some roles (naming them), the refusals of a JSON
//! body (`400`, `413`, `415`, `422`), the `400` of a path or query
//! parameter that does not parse, and `application/problem+json` with
//! the `Problem` schema on every error.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use entraide_domain::{Role, RoleSet, Rule};
use entraide_proto as proto;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::OpenApi;

use crate::http::health;
use crate::http::middleware::json_response;
use crate::{account, admin, cases};

/// The media type of every error of the JSON API (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Entraide node API",
        description = "International cooperation against cybercrime: one node per organisation. \
                       Authenticate with `Authorization: Bearer ent_...` (see `entraide token create`). \
                       Errors are RFC 9457 problem details (`application/problem+json`, schema `Problem`) \
                       with a stable `code`; `422 validation_failed` lists every refused field in `errors`. \
                       Request bodies refuse unknown fields."
    ),
    paths(
        health::healthz, health::readyz, health::metrics,
        account::api::me, account::api::totp_start, account::api::totp_confirm,
        admin::api::organisation, admin::api::update_organisation,
        admin::api::list_users, admin::api::create_user, admin::api::update_user,
        admin::api::reset_password, admin::api::reset_second_factor,
        account::api::list_tokens, account::api::create_token, account::api::revoke_token,
        cases::api::list_cases, cases::api::create_case, cases::api::case_detail,
        cases::api::case_members, cases::api::add_case_member, cases::api::remove_case_member,
        crate::requests::api::api_create, crate::requests::api::api_list, crate::requests::api::api_get,
        crate::requests::api::api_update, crate::requests::api::api_transition,
        crate::requests::api_statistics::api, crate::requests::api_statistics::api_csv,
        crate::requests::api_statistics::api_xlsx,
        crate::requests::api::api_document,
        crate::requests::api::api_extension,
        crate::requests::api_clocks::api_notify, crate::requests::api_clocks::api_objection,
        crate::requests::api::api_counterpart,
        crate::requests::api_exchange::api_send, crate::evidence::api_exchange::api_send_package,
        crate::evidence::api::list, crate::evidence::api::create_upload,
        crate::evidence::api::upload_status, crate::evidence::api::upload_append,
        crate::evidence::api::delete_upload, crate::evidence::api::detail,
        crate::evidence::api::content, crate::evidence::api::change,
        crate::evidence::api::inclusion_proof, crate::evidence::api::export,
        crate::evidence::api::receive, crate::evidence::api::tree_head,
        crate::evidence::api::consistency,
        crate::knowledge::api::api_search, crate::knowledge::api::api_document,
        crate::knowledge::api::api_compare, crate::knowledge::api::api_helper,
        crate::federation::api::well_known, crate::federation::api::identity, crate::directory::api::api, crate::federation::api::list, crate::federation::api::create,
        crate::federation::api::update, crate::federation::api::delete, crate::federation::api::refresh, crate::federation::api::deliver,
        crate::federation::inbox::inbox, crate::federation::inbox::inbox_batch, crate::federation::attachments::incoming::status, crate::federation::attachments::incoming::put_chunk, crate::federation::api::api_send, crate::federation::api::api_outbox,
        crate::federation::api::api_inbox, crate::federation::api::api_inbox_message,
        admin::api::audit_entries, admin::api::audit_export
    ),
    components(schemas(
        proto::Problem, proto::FieldError,
        // Every enumeration, also those only named in descriptions.
        proto::schema::RequestKindName, proto::schema::LegalBasisName,
        proto::schema::DataCategoryName, proto::schema::MarkingName,
        proto::schema::DirectionName, proto::schema::RequestStateName,
        proto::schema::RequestActionName, proto::schema::TransitionActionName,
        proto::schema::RefusalGroundName, proto::schema::RoleName,
        proto::schema::OrganisationKindName, proto::schema::CaseStatusName,
        proto::schema::AuditActionName, proto::schema::AuditOutcomeName,
        proto::schema::EvidenceSourceName, proto::schema::UploadSourceName,
        proto::schema::EvidenceStateName, proto::schema::IntegrityName,
        proto::schema::CustodyEventKindName, proto::schema::CustodyActionName,
        proto::schema::ChainName, proto::schema::SeverityName,
        proto::schema::LanguageName, proto::schema::PeerStatusName,
        proto::schema::OutboxStatusName, proto::schema::CheckOutcomeName,
        proto::schema::CountryCodeName,
        proto::schema::DeadlineTriggerName, proto::schema::ObjectionEffectName,
        proto::schema::NewRequestBody, proto::schema::RequestContent,
        proto::schema::Identifier,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// A route's method, path and authorisation rule.
pub type RouteRule = (Method, &'static str, Rule);

/// The document: the annotations, with what routes share added from
/// their rules.
pub fn document(rules: &[RouteRule]) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    shared_responses(&mut doc, rules);
    crate::openapi_shape::exact_unsigned(&mut doc);
    crate::openapi_shape::add_links(&mut doc);
    doc
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Adds the responses every route of a sort shares, from the rules.
fn shared_responses(openapi: &mut utoipa::openapi::OpenApi, rules: &[RouteRule]) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            (Method::GET, &mut item.get),
            (Method::PUT, &mut item.put),
            (Method::POST, &mut item.post),
            (Method::DELETE, &mut item.delete),
            (Method::PATCH, &mut item.patch),
        ];
        for (method, op) in operations {
            let Some(op) = op.as_mut() else { continue };
            let rule = rules
                .iter()
                .find(|(m, p, _)| *m == method && p == path)
                .map(|(_, _, rule)| *rule);
            complete(op, rule);
        }
    }
}

fn problem_content() -> Content {
    Content::new(Some(Ref::from_schema_name("Problem")))
}

/// Adds `status` if the annotation did not say it, with a problem body.
fn add(op: &mut Operation, status: u16, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(PROBLEM_JSON, problem_content())
                .into()
        });
}

fn role_names(needed: RoleSet) -> String {
    Role::ALL
        .iter()
        .filter(|r| RoleSet::of(&[**r]).intersects(needed))
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn complete(op: &mut Operation, rule: Option<Rule>) {
    match rule {
        Some(Rule::Public) | None => {}
        Some(rule) => {
            if op.security.is_none() {
                op.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
            }
            add(
                op,
                401,
                "No valid credentials: `unauthenticated` (no `Authorization: Bearer` token), \
                 `invalid_token` (unknown or revoked) or `session_expired`.",
            );
            if let Rule::AnyRole(needed) = rule {
                add(
                    op,
                    403,
                    &format!(
                        "`forbidden_role`: reserved to the roles {} (the refusal is audited).",
                        role_names(needed)
                    ),
                );
            }
        }
    }
    // Bytes (a PDF, a ZIP, an upload) are binary strings, not arrays of
    // numbers as `Vec<u8>` would say.
    if let Some(body) = op.request_body.as_mut() {
        body.content.values_mut().for_each(binary_bytes);
    }
    for response in op.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            response.content.values_mut().for_each(binary_bytes);
        }
    }
    // A typed JSON body (read by `ApiJson`, which refuses unknown fields).
    let json_body = op.request_body.as_ref().is_some_and(|b| {
        b.content
            .get("application/json")
            .is_some_and(|c| matches!(c.schema, Some(RefOr::Ref(_))))
    });
    if json_body {
        add(op, 400, "`malformed_json`: the body is not JSON.");
        add(
            op,
            413,
            "`payload_too_large`: the body is larger than this route accepts.",
        );
        add(
            op,
            415,
            "`unsupported_media_type`: the body must be sent as `Content-Type: application/json`.",
        );
        add(
            op,
            422,
            "`validation_failed`: a field is missing, unknown, of the wrong type or refused by its \
             checks; `errors` names every one (`field`, `code`, `message`).",
        );
    }
    // Errors are problem details, whatever media type the annotation gave.
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if status.starts_with('4') || status.starts_with('5') {
            let schema = response
                .content
                .shift_remove("application/json")
                .and_then(|c| c.schema)
                .unwrap_or_else(|| Ref::from_schema_name("Problem").into());
            if !response.content.contains_key(PROBLEM_JSON) {
                response
                    .content
                    .insert(PROBLEM_JSON.to_owned(), Content::new(Some(schema)));
            }
            if response.description.is_empty() {
                response.description = StatusCode::from_u16(status.parse().unwrap_or(500))
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Error")
                    .to_owned();
            }
        }
    }
    // A path or query parameter that does not parse (a malformed UUID, an
    // unknown query parameter) is refused by `ApiPath`/`ApiQuery` as a
    // problem naming the parameter.
    let parsed_parameter = op.parameters.iter().flatten().any(|p| {
        p.parameter_in == ParameterIn::Query
            || (p.parameter_in == ParameterIn::Path && !is_plain_string(p.schema.as_ref()))
    });
    if parsed_parameter {
        let entry = op
            .responses
            .responses
            .entry("400".to_owned())
            .or_insert_with(|| ResponseBuilder::new().description("Bad request.").into());
        if let RefOr::T(response) = entry {
            let before = response.description.trim_end_matches('.');
            response.description = format!(
                "{before}. A path or query parameter that does not parse (not a UUID, not a number, \
                 an unknown query parameter) is refused with `invalid_path_parameter` or \
                 `invalid_query_parameter`, `errors[0].field` naming the parameter."
            );
            response
                .content
                .entry(PROBLEM_JSON.to_owned())
                .or_insert_with(|| Content::new(Some(Ref::from_schema_name("Problem"))));
        }
    }
}

fn binary_bytes(content: &mut Content) {
    use utoipa::openapi::schema::{ArrayItems, KnownFormat, SchemaFormat, Type};
    use utoipa::openapi::Schema;
    let bytes = match &content.schema {
        Some(RefOr::T(Schema::Array(a))) => match &a.items {
            ArrayItems::RefOrSchema(item) => matches!(
                item.as_ref(),
                RefOr::T(Schema::Object(o)) if o.schema_type == Type::Integer.into()
            ),
            ArrayItems::False => false,
        },
        _ => false,
    };
    if bytes {
        content.schema = Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                .into(),
        );
    }
}

fn is_plain_string(schema: Option<&RefOr<utoipa::openapi::Schema>>) -> bool {
    match schema {
        Some(RefOr::T(utoipa::openapi::Schema::Object(o))) => {
            o.schema_type
                == utoipa::openapi::schema::SchemaType::new(utoipa::openapi::schema::Type::String)
                && o.format.is_none()
        }
        _ => false,
    }
}

/// `GET /api/openapi.json`, given the route table's rules.
pub fn openapi_json(rules: &[RouteRule]) -> Response {
    json_response(StatusCode::OK, &document(rules))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(super::document(&crate::routes::rules())).unwrap_or(Value::Null)
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in ["get", "put", "post", "delete", "patch"] {
                if let Some(op) = item.get(method) {
                    out.push((method.to_uppercase(), path.clone(), op.clone()));
                }
            }
        }
        out
    }

    /// Every `$ref` names a schema of the document.
    #[test]
    fn every_reference_resolves() {
        fn walk(v: &Value, schemas: &serde_json::Map<String, Value>, missing: &mut Vec<String>) {
            match v {
                Value::Object(o) => {
                    if let Some(Value::String(r)) = o.get("$ref") {
                        let name = r.trim_start_matches("#/components/schemas/");
                        if !schemas.contains_key(name) {
                            missing.push(r.clone());
                        }
                    }
                    o.values().for_each(|v| walk(v, schemas, missing));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, schemas, missing)),
                _ => {}
            }
        }
        let doc = document();
        let schemas = doc["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut missing = Vec::new();
        walk(&doc, &schemas, &mut missing);
        assert!(missing.is_empty(), "{missing:?}");
        // Discriminator mappings too.
        for name in ["NewRequest", "Identifier"] {
            for target in schemas[name]["discriminator"]["mapping"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(_, v)| v.as_str())
            {
                let n = target.trim_start_matches("#/components/schemas/");
                assert!(schemas.contains_key(n), "{target}");
            }
        }
    }

    /// Parameters are where the code reads them: a path parameter is in
    /// the path template and every template variable is a path parameter.
    #[test]
    fn parameters_are_where_the_code_reads_them() {
        let doc = document();
        for (method, path, op) in operations(&doc) {
            let in_template: Vec<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_owned)
                .collect();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let in_path: Vec<String> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            let mut a = in_template.clone();
            let mut b = in_path.clone();
            a.sort();
            b.sort();
            assert_eq!(a, b, "{method} {path}: path parameters");
        }
        let lang = doc["paths"]["/api/v1/requests/{id}/document.pdf"]["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "lang")
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(lang["in"], "query");
    }

    /// Every route that needs a caller documents 401, every route reserved
    /// to roles 403, and every error is a problem.
    #[test]
    fn errors_are_documented_as_problems() {
        let doc = document();
        let specs = crate::routes::specs();
        for (method, path, op) in operations(&doc) {
            let spec = specs
                .iter()
                .find(|s| s.method.as_str() == method && s.path == path);
            let Some(spec) = spec else {
                panic!("{method} {path} has no route")
            };
            let responses = &op["responses"];
            if spec.rule != Rule::Public {
                assert!(responses.get("401").is_some(), "{method} {path}: 401");
                assert!(op.get("security").is_some(), "{method} {path}: security");
            }
            if matches!(spec.rule, Rule::AnyRole(_)) {
                assert!(responses.get("403").is_some(), "{method} {path}: 403");
            }
            for (status, r) in responses.as_object().into_iter().flatten() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        r["content"][PROBLEM_JSON]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{method} {path} {status}"
                    );
                    assert!(r["content"].get("application/json").is_none());
                }
            }
        }
    }

    /// Bytes are binary strings, not arrays of numbers.
    #[test]
    fn bytes_are_binary() {
        let doc = document();
        let pdf = &doc["paths"]["/api/v1/requests/{id}/document.pdf"]["get"]["responses"]["200"]
            ["content"]["application/pdf"]["schema"];
        assert_eq!(pdf["format"], "binary", "{pdf}");
        for (method, path, op) in operations(&doc) {
            let bodies = op["requestBody"]["content"].as_object().cloned();
            let answers = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(_, r)| r["content"].as_object().cloned());
            for content in bodies.into_iter().chain(answers) {
                for (media, c) in content {
                    let s = &c["schema"];
                    assert!(
                        !(s["type"] == "array" && s["items"]["type"] == "integer"),
                        "{method} {path} {media}: {s}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_create_body_is_a_union_of_the_kinds() {
        let doc = document();
        let body = &doc["paths"]["/api/v1/cases/{id}/requests"]["post"]["requestBody"];
        assert_eq!(
            body["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/NewRequest"
        );
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["NewRequest"]["discriminator"]["propertyName"],
            "kind"
        );
        assert_eq!(
            schemas["NewRequest"]["oneOf"].as_array().map(Vec::len),
            Some(entraide_domain::request::RequestKind::ALL.len())
        );
        let preservation = &schemas["ExpeditedPreservationContent"]["allOf"][1];
        for field in [
            "case_number",
            "requesting",
            "necessity",
            "mla_to_follow",
            "identifiers",
        ] {
            assert!(
                preservation["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|f| f == field)),
                "{field}: {preservation}"
            );
        }
        assert_eq!(
            schemas["Identifier"]["discriminator"]["propertyName"],
            "type"
        );
    }
}
