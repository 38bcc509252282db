//! The OpenAPI document of the JSON API under `/api/v1`, served at
//! `/api/openapi.json` and generated from the handlers' annotations.

use axum::http::StatusCode;
use axum::response::Response;
use entraide_proto as proto;
use utoipa::OpenApi;

use crate::http::health;
use crate::http::middleware::json_response;
use crate::{account, admin, cases};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Entraide node API",
        description = "International cooperation against cybercrime: one node per organisation. \
                       Authenticate with `Authorization: Bearer ent_...` (see `entraide token create`). \
                       Errors are RFC 9457 problem details with a stable `code`."
    ),
    paths(
        health::healthz, health::readyz,
        account::api::me, account::api::totp_start, account::api::totp_confirm,
        admin::api::organisation, admin::api::update_organisation,
        admin::api::list_users, admin::api::create_user, admin::api::update_user,
        account::api::list_tokens, account::api::create_token, account::api::revoke_token,
        cases::api::list_cases, cases::api::create_case, cases::api::case_detail,
        cases::api::case_members, cases::api::add_case_member, cases::api::remove_case_member,
        crate::requests::api::api_create, crate::requests::api::api_list, crate::requests::api::api_get,
        crate::requests::api::api_update, crate::requests::api::api_transition,
        crate::requests::api_statistics::api, crate::requests::api_statistics::api_csv,
        crate::requests::api_statistics::api_xlsx,
        crate::requests::api::api_document,
        crate::requests::api::api_extension,
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
        crate::federation::api::update, crate::federation::api::delete,
        crate::federation::inbox::inbox, crate::federation::inbox::inbox_batch, crate::federation::attachments::incoming::status, crate::federation::attachments::incoming::put_chunk, crate::federation::api::api_send, crate::federation::api::api_outbox,
        crate::federation::api::api_inbox, crate::federation::api::api_inbox_message,
        admin::api::audit_entries, admin::api::audit_export
    ),
    components(schemas(proto::Problem, proto::FieldError)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

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

pub async fn openapi_json() -> Response {
    json_response(StatusCode::OK, &ApiDoc::openapi())
}
