//! Every route of the node with its one authorisation rule. The router is
//! built from this table and the guard reads the same table, so a route
//! cannot exist without a rule; tests walk the table (and the OpenAPI
//! document) to check each role against each route.

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use entraide_domain::{Role, Rule};

use crate::app::state::AppState;
use crate::http::health;
use crate::web::assets;
use crate::{
    account, admin, case_page, cases, dashboard, directory, evidence, knowledge, openapi,
    requests,
};

pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub rule: Rule,
    /// JSON API (problem+json errors) or web page (HTML errors).
    pub is_api: bool,
}

const ADMIN: Rule = Rule::any_of(&[Role::Administrator]);
const AUDITOR: Rule = Rule::any_of(&[Role::Auditor]);
/// Roles that open cases: those who work on requests and evidence.
const OPENS_CASES: Rule = Rule::any_of(&[Role::Officer, Role::Approver, Role::Custodian]);
/// Roles that may manage case membership (subject to membership itself).
/// Roles that draft and handle cooperation requests.
const HANDLES_REQUESTS: Rule = Rule::any_of(&requests::HANDLES_REQUESTS);
/// Statistics: central authorities and analysts measure their requests.
const STATISTICS: Rule = Rule::any_of(&[Role::Analyst, Role::Officer, Role::Approver]);
/// Evidence content: custodians and officers (members of the case).
const HANDLES_EVIDENCE: Rule = Rule::any_of(&entraide_domain::evidence::HANDLES_EVIDENCE);
/// Custody changes (seal, hold, retention, disposal): custodians.
const KEEPS_EVIDENCE: Rule = Rule::any_of(&entraide_domain::evidence::KEEPS_EVIDENCE);
const MANAGES_MEMBERS: Rule = Rule::any_of(&[Role::Administrator, Role::Officer, Role::Approver]);

pub fn table() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    use Method as M;
    let api = |method: Method, path, rule, r| {
        (
            RouteSpec {
                method,
                path,
                rule,
                is_api: true,
            },
            r,
        )
    };
    let page = |method: Method, path, rule, r| {
        (
            RouteSpec {
                method,
                path,
                rule,
                is_api: false,
            },
            r,
        )
    };
    vec![
        // Operations
        api(M::GET, "/healthz", Rule::Public, get(health::healthz)),
        api(M::GET, "/readyz", Rule::Public, get(health::readyz)),
        api(M::GET, "/metrics", Rule::Public, get(health::metrics)),
        api(
            M::GET,
            "/api/openapi.json",
            Rule::Public,
            get(openapi::openapi_json),
        ),
        // Federation: this node's signed document (public), its identity,
        // and its peers (administrators).
        api(
            M::GET,
            "/.well-known/entraide/node",
            Rule::Public,
            get(crate::federation::api::well_known),
        ),
        api(M::GET, "/api/v1/node", Rule::SignedIn, get(crate::federation::api::identity)),
        api(
            M::GET,
            "/api/v1/directory",
            Rule::SignedIn,
            get(directory::api::api),
        ),
        api(
            M::GET,
            "/api/v1/knowledge/search",
            Rule::SignedIn,
            get(knowledge::api::api_search),
        ),
        api(
            M::GET,
            "/api/v1/knowledge/documents/{id}",
            Rule::SignedIn,
            get(knowledge::api::api_document),
        ),
        api(
            M::GET,
            "/api/v1/knowledge/compare",
            Rule::SignedIn,
            get(knowledge::api::api_compare),
        ),
        api(
            M::GET,
            "/api/v1/knowledge/helper",
            Rule::SignedIn,
            get(knowledge::api::api_helper),
        ),
        api(M::GET, "/api/v1/peers", ADMIN, get(crate::federation::api::list)),
        api(M::POST, "/api/v1/peers", ADMIN, post(crate::federation::api::create)),
        api(
            M::PATCH,
            "/api/v1/peers/{node_id}",
            ADMIN,
            patch(crate::federation::api::update),
        ),
        api(
            M::DELETE,
            "/api/v1/peers/{node_id}",
            ADMIN,
            delete(crate::federation::api::delete),
        ),
        api(
            M::POST,
            "/federation/inbox",
            Rule::Public,
            post(crate::federation::inbox::inbox),
        ),
        api(
            M::POST,
            "/federation/inbox/batch",
            Rule::Public,
            post(crate::federation::inbox::inbox_batch),
        ),
        api(
            M::GET,
            "/federation/attachments/{id}",
            Rule::Public,
            get(crate::federation::attachments::status),
        ),
        api(
            M::PUT,
            "/federation/attachments/{id}/{n}",
            Rule::Public,
            put(crate::federation::attachments::put_chunk),
        ),
        api(
            M::POST,
            "/api/v1/peers/{node_id}/messages",
            ADMIN,
            post(crate::federation::api::api_send),
        ),
        api(
            M::GET,
            "/api/v1/outbox/{id}",
            ADMIN,
            get(crate::federation::api::api_outbox),
        ),
        api(M::GET, "/api/v1/inbox", ADMIN, get(crate::federation::api::api_inbox)),
        api(
            M::GET,
            "/api/v1/inbox/{id}",
            ADMIN,
            get(crate::federation::api::api_inbox_message),
        ),
        // Identity
        api(M::GET, "/api/v1/me", Rule::SignedIn, get(account::api::me)),
        api(
            M::POST,
            "/api/v1/me/totp",
            Rule::SignedIn,
            post(account::api::totp_start),
        ),
        api(
            M::POST,
            "/api/v1/me/totp/confirm",
            Rule::SignedIn,
            post(account::api::totp_confirm),
        ),
        api(
            M::GET,
            "/api/v1/organisation",
            Rule::SignedIn,
            get(admin::api::organisation),
        ),
        api(
            M::PATCH,
            "/api/v1/organisation",
            ADMIN,
            patch(admin::api::update_organisation),
        ),
        api(M::GET, "/api/v1/users", ADMIN, get(admin::api::list_users)),
        api(M::POST, "/api/v1/users", ADMIN, post(admin::api::create_user)),
        api(
            M::PATCH,
            "/api/v1/users/{id}",
            ADMIN,
            patch(admin::api::update_user),
        ),
        api(
            M::GET,
            "/api/v1/tokens",
            Rule::SignedIn,
            get(account::api::list_tokens),
        ),
        api(
            M::POST,
            "/api/v1/tokens",
            Rule::SignedIn,
            post(account::api::create_token),
        ),
        api(
            M::DELETE,
            "/api/v1/tokens/{id}",
            Rule::SignedIn,
            delete(account::api::revoke_token),
        ),
        // Cases (need to know is checked per case in the handlers)
        api(
            M::GET,
            "/api/v1/cases",
            Rule::SignedIn,
            get(cases::api::list_cases),
        ),
        api(
            M::POST,
            "/api/v1/cases",
            OPENS_CASES,
            post(cases::api::create_case),
        ),
        api(
            M::GET,
            "/api/v1/cases/{id}",
            Rule::SignedIn,
            get(cases::api::case_detail),
        ),
        api(
            M::GET,
            "/api/v1/cases/{id}/members",
            Rule::SignedIn,
            get(cases::api::case_members),
        ),
        api(
            M::POST,
            "/api/v1/cases/{id}/members",
            MANAGES_MEMBERS,
            post(cases::api::add_case_member),
        ),
        api(
            M::DELETE,
            "/api/v1/cases/{id}/members/{user_id}",
            MANAGES_MEMBERS,
            delete(cases::api::remove_case_member),
        ),
        // Cooperation requests (membership of the case checked in handlers)
        api(
            M::POST,
            "/api/v1/cases/{id}/requests",
            HANDLES_REQUESTS,
            post(requests::api::api_create),
        ),
        api(
            M::GET,
            "/api/v1/requests",
            Rule::SignedIn,
            get(requests::api::api_list),
        ),
        api(
            M::GET,
            "/api/v1/counterparts/{country}",
            Rule::SignedIn,
            get(requests::api::api_counterpart),
        ),
        api(
            M::GET,
            "/api/v1/requests/{id}",
            Rule::SignedIn,
            get(requests::api::api_get),
        ),
        api(
            M::PUT,
            "/api/v1/requests/{id}/content",
            HANDLES_REQUESTS,
            put(requests::api::api_update),
        ),
        api(
            M::POST,
            "/api/v1/requests/{id}/transitions",
            HANDLES_REQUESTS,
            post(requests::api::api_transition),
        ),
        api(
            M::GET,
            "/api/v1/requests/{id}/document.pdf",
            Rule::SignedIn,
            get(requests::api::api_document),
        ),
        api(
            M::POST,
            "/api/v1/requests/{id}/send",
            HANDLES_REQUESTS,
            post(crate::requests::api_exchange::api_send),
        ),
        api(
            M::POST,
            "/api/v1/requests/{id}/extension",
            HANDLES_REQUESTS,
            post(requests::api::api_extension),
        ),
        api(
            M::GET,
            "/api/v1/statistics",
            STATISTICS,
            get(requests::api_statistics::api),
        ),
        api(
            M::GET,
            "/api/v1/statistics/export.csv",
            STATISTICS,
            get(requests::api_statistics::api_csv),
        ),
        api(
            M::GET,
            "/api/v1/statistics/export.xlsx",
            STATISTICS,
            get(requests::api_statistics::api_xlsx),
        ),
        // Evidence and chain of custody (membership checked in handlers)
        api(
            M::GET,
            "/api/v1/cases/{id}/evidence",
            Rule::SignedIn,
            get(evidence::api::list),
        ),
        api(
            M::POST,
            "/api/v1/cases/{id}/evidence/uploads",
            HANDLES_EVIDENCE,
            post(evidence::api::create_upload),
        ),
        api(
            M::GET,
            "/api/v1/evidence/uploads/{id}",
            HANDLES_EVIDENCE,
            get(evidence::api::upload_status),
        ),
        api(
            M::PATCH,
            "/api/v1/evidence/uploads/{id}",
            HANDLES_EVIDENCE,
            patch(evidence::api::upload_append),
        ),
        api(
            M::DELETE,
            "/api/v1/evidence/uploads/{id}",
            HANDLES_EVIDENCE,
            delete(evidence::api::delete_upload),
        ),
        api(
            M::GET,
            "/api/v1/evidence/{id}",
            Rule::SignedIn,
            get(evidence::api::detail),
        ),
        api(
            M::GET,
            "/api/v1/evidence/{id}/content",
            HANDLES_EVIDENCE,
            get(evidence::api::content),
        ),
        api(
            M::POST,
            "/api/v1/evidence/{id}/custody",
            KEEPS_EVIDENCE,
            post(evidence::api::change),
        ),
        api(
            M::GET,
            "/api/v1/evidence/{id}/custody/{leaf_index}/proof",
            Rule::SignedIn,
            get(evidence::api::inclusion_proof),
        ),
        api(
            M::POST,
            "/api/v1/cases/{id}/evidence/packages",
            HANDLES_EVIDENCE,
            post(evidence::api::export),
        ),
        api(
            M::POST,
            "/api/v1/cases/{id}/evidence/packages/send",
            HANDLES_EVIDENCE,
            post(crate::evidence::api_exchange::api_send_package),
        ),
        api(
            M::POST,
            "/api/v1/cases/{id}/evidence/packages/received",
            HANDLES_EVIDENCE,
            post(evidence::api::receive),
        ),
        api(
            M::GET,
            "/api/v1/custody/tree-head",
            Rule::SignedIn,
            get(evidence::api::tree_head),
        ),
        api(
            M::GET,
            "/api/v1/custody/consistency",
            Rule::SignedIn,
            get(evidence::api::consistency),
        ),
        // Audit
        api(M::GET, "/api/v1/audit", AUDITOR, get(admin::api::audit_entries)),
        api(
            M::GET,
            "/api/v1/audit/export.csv",
            AUDITOR,
            get(admin::api::audit_export),
        ),
        // Web pages
        page(M::GET, "/static/app.css", Rule::Public, get(assets::static_css)),
        page(M::GET, "/static/app.js", Rule::Public, get(assets::static_js)),
        page(
            M::GET,
            "/static/htmx.min.js",
            Rule::Public,
            get(assets::static_htmx),
        ),
        page(M::GET, "/signin", Rule::Public, get(account::pages::signin_form)),
        // The calendar feed authenticates by the secret in its address.
        page(M::GET, "/calendar/{key}", Rule::Public, get(requests::api_calendar::ics)),
        page(
            M::POST,
            "/account/calendar",
            Rule::SignedIn,
            post(account::pages::account_calendar),
        ),
        page(M::POST, "/signin", Rule::Public, post(account::pages::signin)),
        page(
            M::GET,
            "/signin/second-factor",
            Rule::Public,
            get(account::pages::second_factor_form),
        ),
        page(
            M::POST,
            "/signin/second-factor",
            Rule::Public,
            post(account::pages::second_factor),
        ),
        page(M::POST, "/signout", Rule::SignedIn, post(account::pages::signout)),
        page(M::POST, "/language", Rule::Public, post(account::pages::set_language)),
        page(M::GET, "/", Rule::SignedIn, get(dashboard::dashboard)),
        page(M::GET, "/account", Rule::SignedIn, get(account::pages::account)),
        page(
            M::POST,
            "/account/totp",
            Rule::SignedIn,
            post(account::pages::account_totp_start),
        ),
        page(
            M::POST,
            "/account/totp/confirm",
            Rule::SignedIn,
            post(account::pages::account_totp_confirm),
        ),
        page(
            M::POST,
            "/account/password",
            Rule::SignedIn,
            post(account::pages::account_password),
        ),
        page(M::GET, "/cases", Rule::SignedIn, get(cases::pages::cases)),
        page(M::GET, "/cases/new", OPENS_CASES, get(cases::pages::case_new_form)),
        page(M::POST, "/cases", OPENS_CASES, post(cases::pages::case_create)),
        page(M::GET, "/cases/{id}", Rule::SignedIn, get(case_page::case_detail)),
        page(
            M::POST,
            "/cases/{id}/members",
            MANAGES_MEMBERS,
            post(case_page::case_add_member),
        ),
        page(
            M::POST,
            "/cases/{id}/members/{user_id}/remove",
            MANAGES_MEMBERS,
            post(case_page::case_remove_member),
        ),
        page(M::GET, "/requests", Rule::SignedIn, get(requests::pages::list)),
        page(M::GET, "/directory", Rule::SignedIn, get(directory::pages::ui)),
        page(
            M::GET,
            "/knowledge",
            Rule::SignedIn,
            get(knowledge::pages::ui_search),
        ),
        page(
            M::GET,
            "/knowledge/documents/{id}",
            Rule::SignedIn,
            get(knowledge::pages::ui_document),
        ),
        page(
            M::GET,
            "/knowledge/compare",
            Rule::SignedIn,
            get(knowledge::pages::ui_compare),
        ),
        page(
            M::GET,
            "/knowledge/helper",
            Rule::SignedIn,
            get(knowledge::pages::ui_helper),
        ),
        page(
            M::GET,
            "/cases/{id}/requests/new",
            HANDLES_REQUESTS,
            get(requests::pages::new_form),
        ),
        page(
            M::POST,
            "/cases/{id}/requests",
            HANDLES_REQUESTS,
            post(requests::pages::create),
        ),
        page(
            M::GET,
            "/requests/{id}",
            Rule::SignedIn,
            get(requests::pages::detail),
        ),
        page(
            M::GET,
            "/requests/{id}/edit",
            HANDLES_REQUESTS,
            get(requests::pages::edit_form),
        ),
        page(
            M::POST,
            "/requests/{id}/edit",
            HANDLES_REQUESTS,
            post(requests::pages::update),
        ),
        page(
            M::POST,
            "/requests/{id}/transitions",
            HANDLES_REQUESTS,
            post(requests::pages::act),
        ),
        page(
            M::GET,
            "/requests/{id}/document.pdf",
            Rule::SignedIn,
            get(requests::api::api_document),
        ),
        page(
            M::GET,
            "/requests/{id}/print",
            Rule::SignedIn,
            get(requests::pages::print),
        ),
        page(
            M::POST,
            "/requests/{id}/send",
            HANDLES_REQUESTS,
            post(requests::pages::send_to_peer),
        ),
        page(
            M::POST,
            "/requests/{id}/extension",
            HANDLES_REQUESTS,
            post(requests::pages::extension),
        ),
        page(M::GET, "/statistics", STATISTICS, get(requests::pages_statistics::ui)),
        page(
            M::GET,
            "/statistics/export.csv",
            STATISTICS,
            get(requests::pages_statistics::ui_csv),
        ),
        page(
            M::GET,
            "/statistics/export.xlsx",
            STATISTICS,
            get(requests::api_statistics::api_xlsx),
        ),
        page(
            M::GET,
            "/cases/{id}/evidence",
            Rule::SignedIn,
            get(evidence::pages::list),
        ),
        page(
            M::POST,
            "/cases/{id}/evidence",
            HANDLES_EVIDENCE,
            post(evidence::pages::upload).layer(DefaultBodyLimit::disable()),
        ),
        page(
            M::POST,
            "/cases/{id}/evidence/package",
            HANDLES_EVIDENCE,
            post(evidence::pages::export),
        ),
        page(
            M::POST,
            "/cases/{id}/evidence/send",
            HANDLES_EVIDENCE,
            post(evidence::pages::send),
        ),
        page(
            M::POST,
            "/cases/{id}/evidence/received",
            HANDLES_EVIDENCE,
            post(evidence::pages::receive).layer(DefaultBodyLimit::disable()),
        ),
        page(
            M::GET,
            "/evidence/{id}",
            Rule::SignedIn,
            get(evidence::pages::detail),
        ),
        page(
            M::GET,
            "/evidence/{id}/content",
            HANDLES_EVIDENCE,
            get(evidence::api::content),
        ),
        page(
            M::POST,
            "/evidence/{id}/custody",
            KEEPS_EVIDENCE,
            post(evidence::pages::change),
        ),
        page(M::GET, "/admin/users", ADMIN, get(admin::pages::users)),
        page(M::GET, "/admin/users/new", ADMIN, get(admin::pages::user_new_form)),
        page(M::POST, "/admin/users", ADMIN, post(admin::pages::user_create)),
        page(M::POST, "/admin/users/{id}", ADMIN, post(admin::pages::user_update)),
        page(M::GET, "/admin/organisation", ADMIN, get(admin::pages::organisation)),
        page(
            M::POST,
            "/admin/organisation",
            ADMIN,
            post(admin::pages::organisation_update),
        ),
        page(M::POST, "/admin/peers", ADMIN, post(admin::pages::peer_add)),
        page(M::GET, "/admin/peers", ADMIN, get(admin::pages::peers_page)),
        page(M::GET, "/audit", AUDITOR, get(admin::pages::audit)),
        page(M::GET, "/audit/export.csv", AUDITOR, get(admin::pages::audit_csv)),
    ]
}

/// The table without handlers, for tests and documentation.
pub fn specs() -> Vec<RouteSpec> {
    table().into_iter().map(|(spec, _)| spec).collect()
}
