//! The JSON API of cooperation requests: thin handlers over `service` and
//! `document`, described in the OpenAPI document.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::request::{Direction, RequestKind};
use entraide_proto as proto;
use entraide_store::RequestFilter;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::document::*;
use super::preservation::prepare_extension;
use super::service::*;
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::http::{json_response, ApiJson};
use crate::http::{ApiPath, ApiQuery};

/// Drafts the extension of a preservation, prefilled from it.
#[utoipa::path(post, path = "/api/v1/requests/{id}/extension", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 201, body = proto::RequestView, description = "the extension, a draft"), (status = 404, body = proto::Problem, description = "no such request, or not in one of your cases"),
              (status = 409, body = proto::Problem, description = "`extension_not_possible`: not a preservation in force")))]
pub async fn api_extension(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    let r = prepare_extension(&app, &caller.principal(), id).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &full_view(&app, &r).await?,
    ))
}

/// Drafts an outgoing request in a case, or registers an incoming one.
#[utoipa::path(post, path = "/api/v1/cases/{id}/requests", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the case")), request_body = proto::schema::NewRequestBody,
    responses((status = 201, body = proto::RequestView, description = "the request, with its `findings` (what approval still needs)"),
              (status = 403, body = proto::Problem, description = "`not_case_member`: only members of the case draft in it"),
              (status = 404, body = proto::Problem, description = "no such case"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: an unknown `kind` or `direction`, or a content value refused by its checks (`errors[].field` is `content.<path>`, e.g. `content.identifiers[0].at`); `follows[i]`: `follows_not_in_case`, `follows_kind_mismatch`, `follows_direction_mismatch`, `duplicate`; `follows`: `extension_follows_one_preservation`, `too_many`; `occurred_at`: `invalid_datetime`, `event_time_in_future`, `event_time_not_applicable` (an outgoing draft is drafted now)")))]
pub async fn api_create(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(case_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::NewRequest>,
) -> AppResult<Response> {
    let kind: RequestKind = body
        .kind
        .parse()
        .map_err(|e: entraide_domain::ParseError| {
            AppError::Validation(vec![AppError::field("kind", e)])
        })?;
    let direction = match body.direction.as_deref() {
        None => Direction::Outgoing,
        Some(d) => d.parse().map_err(|e: entraide_domain::ParseError| {
            AppError::Validation(vec![AppError::field("direction", e)])
        })?,
    };
    let content = parse_content(body.content)?;
    let clocks = NewRequestClocks {
        follows: body.follows,
        occurred_at: super::clocks::parse_occurred_at(body.occurred_at.as_deref())?,
    };
    let r = create_with(
        &app,
        &caller.principal(),
        case_id,
        kind,
        direction,
        content,
        clocks,
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &full_view(&app, &r).await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    pub case_id: Option<Uuid>,
    #[param(schema_with = proto::schema::filter_of::<proto::schema::RequestStateName>)]
    pub state: Option<String>,
    #[param(schema_with = proto::schema::filter_of::<proto::schema::RequestKindName>)]
    pub kind: Option<String>,
    #[param(schema_with = proto::schema::filter_of::<proto::schema::DirectionName>)]
    pub direction: Option<String>,
    /// Only requests whose deadline falls within this many days (the
    /// "expiring soon" view), soonest first.
    pub due_within_days: Option<u32>,
    /// 1 to 1000, default 200.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl RequestQuery {
    pub fn filter(&self) -> AppResult<RequestFilter> {
        let mut f = crate::app::error::Fields::default();
        let state = self
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| f.check("state", s.parse()));
        let kind = self
            .kind
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| f.check("kind", s.parse()));
        let direction = self
            .direction
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| f.check("direction", s.parse()));
        let filter = RequestFilter {
            case_id: self.case_id,
            state,
            kind,
            direction,
            due_before: self
                .due_within_days
                .map(|d| OffsetDateTime::now_utc() + time::Duration::days(i64::from(d.min(3650)))),
            limit: self.limit.unwrap_or(200),
        };
        if !(1..=1000).contains(&filter.limit) {
            f.push("limit", "invalid_limit", "use a limit between 1 and 1000");
        }
        f.finish(Some(filter))
    }
}

/// Requests in your cases, with filters.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests", security(("bearer" = [])),
    params(RequestQuery),
    responses((status = 200, body = [proto::RequestView], description = "without their history (`events` is empty)"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: an unknown state, kind or direction, or a `limit` out of range (`invalid_limit`)")))]
pub async fn api_list(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RequestQuery>,
) -> AppResult<Response> {
    let filter = q.filter()?;
    let now = OffsetDateTime::now_utc();
    let list: Vec<_> = app
        .store
        .requests_for_member(caller.user.id, &filter)
        .await?
        .iter()
        .map(|r| request_view(r, &[], now))
        .collect();
    Ok(json_response(StatusCode::OK, &list))
}

/// A request with its checks, available actions and history.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = proto::RequestView), (status = 404, body = proto::Problem, description = "no such request, or not in one of your cases")))]
pub async fn api_get(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    let r = member_request(&app, &caller.principal(), id).await?;
    audit_read(&app, &caller.principal(), &r).await?;
    Ok(json_response(StatusCode::OK, &full_view(&app, &r).await?))
}

/// Replaces the content of a draft (incomplete drafts are fine; checks
/// apply at approval).
#[utoipa::path(put, path = "/api/v1/requests/{id}/content", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body(content = proto::schema::RequestContent, description = "the whole new content (a draft may be incomplete; see the per-kind `<Kind>Content` schemas for what approval requires)"),
    responses((status = 200, body = proto::RequestView), (status = 404, body = proto::Problem, description = "no such request, or not in one of your cases"),
              (status = 409, body = proto::Problem, description = "`not_editable`: only a draft (or a request returned to draft) changes"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: a content value refused by its checks, or a body that is not a JSON object (`null`, a list...: `errors[0].code` is `content_required`; the draft is left as it was)")))]
pub async fn api_update(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> AppResult<Response> {
    // The whole new content: `null` (or a string, a list...) would replace
    // the draft with an empty one. Refused before anything is read or kept.
    if !body.is_object() {
        return Err(AppError::Validation(vec![proto::FieldError {
            field: "content".into(),
            code: "content_required".into(),
            message: "the content must be a JSON object (send {} for an empty draft)".into(),
        }]));
    }
    let content = parse_content(body)?;
    let r = update_content(&app, &caller.principal(), id, content).await?;
    Ok(json_response(StatusCode::OK, &full_view(&app, &r).await?))
}

/// Moves the request: submit, approve (not by its drafter), send,
/// acknowledge, answer, refuse, withdraw... A move not open from the
/// current state is a 409 carrying `current_state`.
#[utoipa::path(post, path = "/api/v1/requests/{id}/transitions", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::RequestTransition,
    responses((status = 200, body = proto::RequestView), (status = 403, body = proto::Problem, description = "`forbidden_role`: this action needs another role (e.g. `approve` an approver, not the drafter)"),
              (status = 404, body = proto::Problem, description = "no such request, or not in one of your cases"),
              (status = 409, body = proto::Problem, description = "the action is not open from the current state (`current_state` says which it is), or `content_changed_since_approval`; for an extension taking effect, `preservation_already_ended` or `preservation_not_in_force`"),
              (status = 422, body = proto::Problem, description = "`request_incomplete`: approval refused, `errors` lists each missing field (the findings of severity `error`); or `validation_failed`: an unknown action, `refuse` without a valid `ground`, or `occurred_at` refused (`invalid_datetime`, `event_time_in_future`, `event_time_before_previous`, `event_time_not_applicable`)")))]
pub async fn api_transition(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::RequestTransition>,
) -> AppResult<Response> {
    let action = parse_action(&body.action, body.ground.as_deref())?;
    let occurred_at = super::clocks::parse_occurred_at(body.occurred_at.as_deref())?;
    let r = transition_at(
        &app,
        &caller.principal(),
        id,
        action,
        body.note.as_deref(),
        occurred_at,
    )
    .await?;
    Ok(json_response(StatusCode::OK, &full_view(&app, &r).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DocumentQuery {
    /// The document's language (`fr-BE`, `es_AR` are read as `fr`, `es`);
    /// default: the language the requested country accepts.
    #[param(schema_with = proto::schema::document_language)]
    pub lang: Option<String>,
}

pub fn pdf_response(pdf: Vec<u8>, digest: &str, reference: &str) -> Response {
    use axum::response::IntoResponse;
    let name: String = reference
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!("inline; filename=\"{name}.pdf\"");
    let mut res = (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/pdf".to_owned(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        pdf,
    )
        .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(digest) {
        res.headers_mut().insert("x-content-sha256", v);
    }
    res
}

/// The request as a formal PDF document; its SHA-256 (also in the
/// `X-Content-SHA256` header) is recorded in the request's history.
#[utoipa::path(get, path = "/api/v1/requests/{id}/document.pdf", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path), DocumentQuery),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>, description = "the PDF; `X-Content-SHA256` has its SHA-256",
               headers(("x-content-sha256" = String, description = "SHA-256 of the PDF, hex"))),
              (status = 400, body = proto::Problem, description = "`unsupported_language`: `lang` is not en, fr or es"),
              (status = 404, body = proto::Problem, description = "no such request, or not in one of your cases")))]
pub async fn api_document(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DocumentQuery>,
) -> AppResult<Response> {
    let (pdf, digest, _) =
        render_document(&app, &caller.principal(), id, q.lang.as_deref()).await?;
    let reference = app
        .store
        .request_by_id(id)
        .await?
        .map(|r| r.reference)
        .unwrap_or_default();
    Ok(pdf_response(pdf, &digest, &reference))
}

/// What drafting needs to know about a requested country, from our own
/// (languages, channels, instruments both are bound by).
#[utoipa::path(get, path = "/api/v1/counterparts/{country}", tag = "requests", security(("bearer" = [])),
    params(("country" = proto::schema::CountryCodeName, Path, description = "ISO 3166-1 alpha-2")),
    responses((status = 200, body = proto::CounterpartView, description = "languages, channels and shared legal bases"),
              (status = 422, body = proto::Problem, description = "`validation_failed` (`invalid_country`): not an assigned ISO 3166-1 alpha-2 code")))]
pub async fn api_counterpart(
    State(app): State<AppState>,
    _caller: Caller,
    ApiPath(country): ApiPath<String>,
) -> AppResult<Response> {
    let requested = entraide_domain::CountryCode::parse(&country)
        .map_err(|e| AppError::Validation(vec![AppError::field("country", e)]))?;
    let org = app.store.own_organisation().await?;
    Ok(json_response(
        StatusCode::OK,
        &entraide_domain::request::counterpart(org.country, requested),
    ))
}
