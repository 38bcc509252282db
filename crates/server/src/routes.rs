//! Every route of the node with its one authorisation rule. The router is
//! built from this table and the guard reads the same table, so a route
//! cannot exist without a rule; tests walk the table (and the OpenAPI
//! document) to check each role against each route.

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use entraide_domain::{Role, Rule};

use crate::state::AppState;
use crate::{
    api, calendar, directory, evidence_api, federated, knowledge_web, messaging, peers, requests,
    statistics, ui, ui_evidence, ui_requests,
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
        api(M::GET, "/healthz", Rule::Public, get(api::healthz)),
        api(M::GET, "/readyz", Rule::Public, get(api::readyz)),
        api(M::GET, "/metrics", Rule::Public, get(api::metrics)),
        api(
            M::GET,
            "/api/openapi.json",
            Rule::Public,
            get(api::openapi_json),
        ),
        // Federation: this node's signed document (public), its identity,
        // and its peers (administrators).
        api(
            M::GET,
            "/.well-known/entraide/node",
            Rule::Public,
            get(peers::well_known),
        ),
        api(M::GET, "/api/v1/node", Rule::SignedIn, get(peers::identity)),
        api(
            M::GET,
            "/api/v1/directory",
            Rule::SignedIn,
            get(directory::api),
        ),
        api(
            M::GET,
            "/api/v1/knowledge/search",
            Rule::SignedIn,
            get(knowledge_web::api_search),
        ),
        api(
            M::GET,
            "/api/v1/knowledge/documents/{id}",
            Rule::SignedIn,
            get(knowledge_web::api_document),
        ),
        api(
            M::GET,
            "/api/v1/knowledge/compare",
            Rule::SignedIn,
            get(knowledge_web::api_compare),
        ),
        api(
            M::GET,
            "/api/v1/knowledge/helper",
            Rule::SignedIn,
            get(knowledge_web::api_helper),
        ),
        api(M::GET, "/api/v1/peers", ADMIN, get(peers::list)),
        api(M::POST, "/api/v1/peers", ADMIN, post(peers::create)),
        api(
            M::PATCH,
            "/api/v1/peers/{node_id}",
            ADMIN,
            patch(peers::update),
        ),
        api(
            M::DELETE,
            "/api/v1/peers/{node_id}",
            ADMIN,
            delete(peers::delete),
        ),
        api(
            M::POST,
            "/federation/inbox",
            Rule::Public,
            post(messaging::inbox),
        ),
        api(
            M::POST,
            "/federation/inbox/batch",
            Rule::Public,
            post(messaging::inbox_batch),
        ),
        api(
            M::GET,
            "/federation/attachments/{id}",
            Rule::Public,
            get(crate::attachments::status),
        ),
        api(
            M::PUT,
            "/federation/attachments/{id}/{n}",
            Rule::Public,
            put(crate::attachments::put_chunk),
        ),
        api(
            M::POST,
            "/api/v1/peers/{node_id}/messages",
            ADMIN,
            post(messaging::api_send),
        ),
        api(
            M::GET,
            "/api/v1/outbox/{id}",
            ADMIN,
            get(messaging::api_outbox),
        ),
        api(M::GET, "/api/v1/inbox", ADMIN, get(messaging::api_inbox)),
        api(
            M::GET,
            "/api/v1/inbox/{id}",
            ADMIN,
            get(messaging::api_inbox_message),
        ),
        // Identity
        api(M::GET, "/api/v1/me", Rule::SignedIn, get(api::me)),
        api(
            M::POST,
            "/api/v1/me/totp",
            Rule::SignedIn,
            post(api::totp_start),
        ),
        api(
            M::POST,
            "/api/v1/me/totp/confirm",
            Rule::SignedIn,
            post(api::totp_confirm),
        ),
        api(
            M::GET,
            "/api/v1/organisation",
            Rule::SignedIn,
            get(api::organisation),
        ),
        api(
            M::PATCH,
            "/api/v1/organisation",
            ADMIN,
            patch(api::update_organisation),
        ),
        api(M::GET, "/api/v1/users", ADMIN, get(api::list_users)),
        api(M::POST, "/api/v1/users", ADMIN, post(api::create_user)),
        api(
            M::PATCH,
            "/api/v1/users/{id}",
            ADMIN,
            patch(api::update_user),
        ),
        api(
            M::GET,
            "/api/v1/tokens",
            Rule::SignedIn,
            get(api::list_tokens),
        ),
        api(
            M::POST,
            "/api/v1/tokens",
            Rule::SignedIn,
            post(api::create_token),
        ),
        api(
            M::DELETE,
            "/api/v1/tokens/{id}",
            Rule::SignedIn,
            delete(api::revoke_token),
        ),
        // Cases (need to know is checked per case in the handlers)
        api(
            M::GET,
            "/api/v1/cases",
            Rule::SignedIn,
            get(api::list_cases),
        ),
        api(
            M::POST,
            "/api/v1/cases",
            OPENS_CASES,
            post(api::create_case),
        ),
        api(
            M::GET,
            "/api/v1/cases/{id}",
            Rule::SignedIn,
            get(api::case_detail),
        ),
        api(
            M::GET,
            "/api/v1/cases/{id}/members",
            Rule::SignedIn,
            get(api::case_members),
        ),
        api(
            M::POST,
            "/api/v1/cases/{id}/members",
            MANAGES_MEMBERS,
            post(api::add_case_member),
        ),
        api(
            M::DELETE,
            "/api/v1/cases/{id}/members/{user_id}",
            MANAGES_MEMBERS,
            delete(api::remove_case_member),
        ),
        // Cooperation requests (membership of the case checked in handlers)
        api(
            M::POST,
            "/api/v1/cases/{id}/requests",
            HANDLES_REQUESTS,
            post(requests::api_create),
        ),
        api(
            M::GET,
            "/api/v1/requests",
            Rule::SignedIn,
            get(requests::api_list),
        ),
        api(
            M::GET,
            "/api/v1/counterparts/{country}",
            Rule::SignedIn,
            get(requests::api_counterpart),
        ),
        api(
            M::GET,
            "/api/v1/requests/{id}",
            Rule::SignedIn,
            get(requests::api_get),
        ),
        api(
            M::PUT,
            "/api/v1/requests/{id}/content",
            HANDLES_REQUESTS,
            put(requests::api_update),
        ),
        api(
            M::POST,
            "/api/v1/requests/{id}/transitions",
            HANDLES_REQUESTS,
            post(requests::api_transition),
        ),
        api(
            M::GET,
            "/api/v1/requests/{id}/document.pdf",
            Rule::SignedIn,
            get(requests::api_document),
        ),
        api(
            M::POST,
            "/api/v1/requests/{id}/send",
            HANDLES_REQUESTS,
            post(federated::api_send),
        ),
        api(
            M::POST,
            "/api/v1/requests/{id}/extension",
            HANDLES_REQUESTS,
            post(requests::api_extension),
        ),
        api(
            M::GET,
            "/api/v1/statistics",
            STATISTICS,
            get(statistics::api),
        ),
        api(
            M::GET,
            "/api/v1/statistics/export.csv",
            STATISTICS,
            get(statistics::api_csv),
        ),
        api(
            M::GET,
            "/api/v1/statistics/export.xlsx",
            STATISTICS,
            get(statistics::api_xlsx),
        ),
        // Evidence and chain of custody (membership checked in handlers)
        api(
            M::GET,
            "/api/v1/cases/{id}/evidence",
            Rule::SignedIn,
            get(evidence_api::list),
        ),
        api(
            M::POST,
            "/api/v1/cases/{id}/evidence/uploads",
            HANDLES_EVIDENCE,
            post(evidence_api::create_upload),
        ),
        api(
            M::GET,
            "/api/v1/evidence/uploads/{id}",
            HANDLES_EVIDENCE,
            get(evidence_api::upload_status),
        ),
        api(
            M::PATCH,
            "/api/v1/evidence/uploads/{id}",
            HANDLES_EVIDENCE,
            patch(evidence_api::upload_append),
        ),
        api(
            M::DELETE,
            "/api/v1/evidence/uploads/{id}",
            HANDLES_EVIDENCE,
            delete(evidence_api::delete_upload),
        ),
        api(
            M::GET,
            "/api/v1/evidence/{id}",
            Rule::SignedIn,
            get(evidence_api::detail),
        ),
        api(
            M::GET,
            "/api/v1/evidence/{id}/content",
            HANDLES_EVIDENCE,
            get(evidence_api::content),
        ),
        api(
            M::POST,
            "/api/v1/evidence/{id}/custody",
            KEEPS_EVIDENCE,
            post(evidence_api::change),
        ),
        api(
            M::GET,
            "/api/v1/evidence/{id}/custody/{leaf_index}/proof",
            Rule::SignedIn,
            get(evidence_api::inclusion_proof),
        ),
        api(
            M::POST,
            "/api/v1/cases/{id}/evidence/packages",
            HANDLES_EVIDENCE,
            post(evidence_api::export),
        ),
        api(
            M::POST,
            "/api/v1/cases/{id}/evidence/packages/send",
            HANDLES_EVIDENCE,
            post(federated::api_send_package),
        ),
        api(
            M::POST,
            "/api/v1/cases/{id}/evidence/packages/received",
            HANDLES_EVIDENCE,
            post(evidence_api::receive),
        ),
        api(
            M::GET,
            "/api/v1/custody/tree-head",
            Rule::SignedIn,
            get(evidence_api::tree_head),
        ),
        api(
            M::GET,
            "/api/v1/custody/consistency",
            Rule::SignedIn,
            get(evidence_api::consistency),
        ),
        // Audit
        api(M::GET, "/api/v1/audit", AUDITOR, get(api::audit_entries)),
        api(
            M::GET,
            "/api/v1/audit/export.csv",
            AUDITOR,
            get(api::audit_export),
        ),
        // Web pages
        page(M::GET, "/static/app.css", Rule::Public, get(ui::static_css)),
        page(M::GET, "/static/app.js", Rule::Public, get(ui::static_js)),
        page(
            M::GET,
            "/static/htmx.min.js",
            Rule::Public,
            get(ui::static_htmx),
        ),
        page(M::GET, "/signin", Rule::Public, get(ui::signin_form)),
        // The calendar feed authenticates by the secret in its address.
        page(M::GET, "/calendar/{key}", Rule::Public, get(calendar::ics)),
        page(
            M::POST,
            "/account/calendar",
            Rule::SignedIn,
            post(ui::account_calendar),
        ),
        page(M::POST, "/signin", Rule::Public, post(ui::signin)),
        page(
            M::GET,
            "/signin/second-factor",
            Rule::Public,
            get(ui::second_factor_form),
        ),
        page(
            M::POST,
            "/signin/second-factor",
            Rule::Public,
            post(ui::second_factor),
        ),
        page(M::POST, "/signout", Rule::SignedIn, post(ui::signout)),
        page(M::POST, "/language", Rule::Public, post(ui::set_language)),
        page(M::GET, "/", Rule::SignedIn, get(ui::dashboard)),
        page(M::GET, "/account", Rule::SignedIn, get(ui::account)),
        page(
            M::POST,
            "/account/totp",
            Rule::SignedIn,
            post(ui::account_totp_start),
        ),
        page(
            M::POST,
            "/account/totp/confirm",
            Rule::SignedIn,
            post(ui::account_totp_confirm),
        ),
        page(
            M::POST,
            "/account/password",
            Rule::SignedIn,
            post(ui::account_password),
        ),
        page(M::GET, "/cases", Rule::SignedIn, get(ui::cases)),
        page(M::GET, "/cases/new", OPENS_CASES, get(ui::case_new_form)),
        page(M::POST, "/cases", OPENS_CASES, post(ui::case_create)),
        page(M::GET, "/cases/{id}", Rule::SignedIn, get(ui::case_detail)),
        page(
            M::POST,
            "/cases/{id}/members",
            MANAGES_MEMBERS,
            post(ui::case_add_member),
        ),
        page(
            M::POST,
            "/cases/{id}/members/{user_id}/remove",
            MANAGES_MEMBERS,
            post(ui::case_remove_member),
        ),
        page(M::GET, "/requests", Rule::SignedIn, get(ui_requests::list)),
        page(M::GET, "/directory", Rule::SignedIn, get(directory::ui)),
        page(
            M::GET,
            "/knowledge",
            Rule::SignedIn,
            get(knowledge_web::ui_search),
        ),
        page(
            M::GET,
            "/knowledge/documents/{id}",
            Rule::SignedIn,
            get(knowledge_web::ui_document),
        ),
        page(
            M::GET,
            "/knowledge/compare",
            Rule::SignedIn,
            get(knowledge_web::ui_compare),
        ),
        page(
            M::GET,
            "/knowledge/helper",
            Rule::SignedIn,
            get(knowledge_web::ui_helper),
        ),
        page(
            M::GET,
            "/cases/{id}/requests/new",
            HANDLES_REQUESTS,
            get(ui_requests::new_form),
        ),
        page(
            M::POST,
            "/cases/{id}/requests",
            HANDLES_REQUESTS,
            post(ui_requests::create),
        ),
        page(
            M::GET,
            "/requests/{id}",
            Rule::SignedIn,
            get(ui_requests::detail),
        ),
        page(
            M::GET,
            "/requests/{id}/edit",
            HANDLES_REQUESTS,
            get(ui_requests::edit_form),
        ),
        page(
            M::POST,
            "/requests/{id}/edit",
            HANDLES_REQUESTS,
            post(ui_requests::update),
        ),
        page(
            M::POST,
            "/requests/{id}/transitions",
            HANDLES_REQUESTS,
            post(ui_requests::act),
        ),
        page(
            M::GET,
            "/requests/{id}/document.pdf",
            Rule::SignedIn,
            get(requests::api_document),
        ),
        page(
            M::GET,
            "/requests/{id}/print",
            Rule::SignedIn,
            get(ui_requests::print),
        ),
        page(
            M::POST,
            "/requests/{id}/send",
            HANDLES_REQUESTS,
            post(ui_requests::send_to_peer),
        ),
        page(
            M::POST,
            "/requests/{id}/extension",
            HANDLES_REQUESTS,
            post(ui_requests::extension),
        ),
        page(M::GET, "/statistics", STATISTICS, get(statistics::ui)),
        page(
            M::GET,
            "/statistics/export.csv",
            STATISTICS,
            get(statistics::ui_csv),
        ),
        page(
            M::GET,
            "/statistics/export.xlsx",
            STATISTICS,
            get(statistics::api_xlsx),
        ),
        page(
            M::GET,
            "/cases/{id}/evidence",
            Rule::SignedIn,
            get(ui_evidence::list),
        ),
        page(
            M::POST,
            "/cases/{id}/evidence",
            HANDLES_EVIDENCE,
            post(ui_evidence::upload).layer(DefaultBodyLimit::disable()),
        ),
        page(
            M::POST,
            "/cases/{id}/evidence/package",
            HANDLES_EVIDENCE,
            post(ui_evidence::export),
        ),
        page(
            M::POST,
            "/cases/{id}/evidence/send",
            HANDLES_EVIDENCE,
            post(ui_evidence::send),
        ),
        page(
            M::POST,
            "/cases/{id}/evidence/received",
            HANDLES_EVIDENCE,
            post(ui_evidence::receive).layer(DefaultBodyLimit::disable()),
        ),
        page(
            M::GET,
            "/evidence/{id}",
            Rule::SignedIn,
            get(ui_evidence::detail),
        ),
        page(
            M::GET,
            "/evidence/{id}/content",
            HANDLES_EVIDENCE,
            get(evidence_api::content),
        ),
        page(
            M::POST,
            "/evidence/{id}/custody",
            KEEPS_EVIDENCE,
            post(ui_evidence::change),
        ),
        page(M::GET, "/admin/users", ADMIN, get(ui::users)),
        page(M::GET, "/admin/users/new", ADMIN, get(ui::user_new_form)),
        page(M::POST, "/admin/users", ADMIN, post(ui::user_create)),
        page(M::POST, "/admin/users/{id}", ADMIN, post(ui::user_update)),
        page(M::GET, "/admin/organisation", ADMIN, get(ui::organisation)),
        page(
            M::POST,
            "/admin/organisation",
            ADMIN,
            post(ui::organisation_update),
        ),
        page(M::POST, "/admin/peers", ADMIN, post(ui::peer_add)),
        page(M::GET, "/admin/peers", ADMIN, get(ui::peers_page)),
        page(M::GET, "/audit", AUDITOR, get(ui::audit)),
        page(M::GET, "/audit/export.csv", AUDITOR, get(ui::audit_csv)),
    ]
}

/// The table without handlers, for tests and documentation.
pub fn specs() -> Vec<RouteSpec> {
    table().into_iter().map(|(spec, _)| spec).collect()
}
