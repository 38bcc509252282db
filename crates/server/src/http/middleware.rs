//! Cross-cutting HTTP concerns: the authorisation guard, security headers,
//! metrics, JSON bodies that fail as problem+json, fallbacks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use entraide_domain::{AuditAction, AuditOutcome, Rule};
use serde::de::DeserializeOwned;

use crate::app::audit::AuditEntryExt;
use crate::app::error::AppError;
use crate::app::metrics::{
    is_standard_method, method_label, RequestLabels, RouteLabels, UNMATCHED,
};
use crate::app::state::AppState;
use crate::http::caller::{pick_locale, resolve, Anonymous, Resolved};

/// The authorisation rule of every route, keyed by method and template.
pub type RuleBook = Arc<HashMap<(Method, &'static str), Rule>>;

#[derive(Clone)]
pub struct GuardState {
    pub app: AppState,
    pub rules: RuleBook,
}

/// Authenticates the caller and applies the route's rule. A route missing
/// from the rule book is refused (fail closed); a test checks there is none.
pub async fn guard(State(g): State<GuardState>, mut req: Request, next: Next) -> Response {
    let connect = req.extensions().get::<ConnectInfo<SocketAddr>>().cloned();
    let mut ctx = crate::http::caller::request_context(req.headers(), connect.as_ref());
    if req.method() == Method::GET {
        ctx.here = req.uri().path_and_query().map(|p| p.as_str().to_owned());
    }
    req.extensions_mut().insert(ctx.clone());
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let method = if req.method() == Method::HEAD {
        Method::GET
    } else {
        req.method().clone()
    };
    let rule = template
        .as_deref()
        .and_then(|t| g.rules.iter().find(|((m, p), _)| *m == method && *p == t))
        .map(|(_, rule)| *rule);
    let Some(rule) = rule else {
        return no_rule(&g.rules, template.as_deref(), &method);
    };
    let resolved = match resolve(&g.app, req.headers(), &ctx, rule != Rule::Public).await {
        Ok(r) => r,
        Err(e) if rule == Rule::Public => {
            tracing::debug!(error = %e, "credentials ignored on a public route");
            Resolved::Anonymous(Anonymous::Nobody)
        }
        Err(e) => return e.into_response(),
    };
    let (caller, anonymous) = match resolved {
        Resolved::SignedIn(c) => (Some(*c), None),
        Resolved::Anonymous(a) => (None, Some(a)),
    };
    let locale = pick_locale(req.headers(), caller.as_ref().map(|c| &c.user));
    req.extensions_mut().insert(locale);
    if !rule.admits(caller.as_ref().map(|c| c.roles())) {
        let err = match (&caller, &anonymous) {
            (Some(c), _) => {
                let entry = c
                    .actor()
                    .entry(AuditAction::AccessDenied, AuditOutcome::Denied)
                    .target(format!("{method} {}", template.as_deref().unwrap_or("?")));
                if let Err(e) = g.app.store.append_audit(&entry).await {
                    return AppError::from(e).into_response();
                }
                AppError::ForbiddenRole
            }
            (None, Some(Anonymous::Expired)) => AppError::SessionExpired,
            (None, Some(Anonymous::PasswordChangeRequired { .. })) => {
                AppError::PasswordChangeRequired
            }
            _ => AppError::Unauthenticated,
        };
        let mut res = err.into_response();
        res.extensions_mut().insert(locale);
        if let Some(c) = caller {
            res.extensions_mut().insert(c);
        }
        return res;
    }
    if let Some(c) = caller.clone() {
        req.extensions_mut().insert(c);
    }
    if let Some(a) = anonymous {
        req.extensions_mut().insert(a);
    }
    let mut res = next.run(req).await;
    res.extensions_mut().insert(locale);
    if let Some(c) = caller {
        // Lets the UI error pages keep the signed-in layout.
        res.extensions_mut().insert(c);
    }
    res
}

/// A request the rule book has no rule for. The path exists with other
/// methods (axum's own 405 fallback passes through here, for any method,
/// invented ones like `FOO` included): 405 with `Allow` listing them. A
/// template with no rule at all is a route added without one: refused (fail
/// closed; a test checks there is none).
fn no_rule(rules: &RuleBook, template: Option<&str>, method: &Method) -> Response {
    let mut allowed: Vec<&str> = rules
        .keys()
        .filter(|(_, p)| Some(*p) == template)
        .map(|(m, _)| m.as_str())
        .collect();
    if allowed.is_empty() {
        tracing::error!(path = ?template, %method, "route has no authorisation rule: refused");
        return AppError::ForbiddenRole.into_response();
    }
    if allowed.contains(&"GET") {
        allowed.push("HEAD");
    }
    allowed.sort_unstable();
    allowed.dedup();
    AppError::MethodNotAllowed {
        allow: allowed.join(", "),
    }
    .into_response()
}

/// Headers sent with every response.
pub async fn security_headers(State(tls): State<bool>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: &'static str, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    set(h, "x-frame-options", "DENY");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    if tls {
        set(
            h,
            "strict-transport-security",
            "max-age=63072000; includeSubDomains",
        );
    }
    res
}

/// Counts requests and their latency per route template. Labels come from
/// fixed sets (`app::metrics`): an invented method is `other`.
pub async fn record_metrics(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.into());
    let res = next.run(req).await;
    app.metrics
        .latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(start.elapsed().as_secs_f64());
    app.metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: res.status().as_u16(),
        })
        .inc();
    res
}

/// An invented method (`FOOBAR`, or 50 KB of letters) on a path no route
/// matches: 501 `method_not_implemented`, before any other work. On a path
/// that exists, the guard answers 405 with `Allow` (it does so before
/// looking at credentials).
pub async fn refuse_unknown_methods(req: Request, next: Next) -> Response {
    if is_standard_method(req.method()) || req.extensions().get::<MatchedPath>().is_some() {
        return next.run(req).await;
    }
    // Built here rather than as an `AppError`: a 5xx error is logged as a
    // failure of the node, and strangers must not be able to fill the log.
    let status = StatusCode::NOT_IMPLEMENTED;
    let body = crate::http::problem::problem(
        status,
        "method_not_implemented",
        "this method is not implemented by this node".into(),
        vec![],
    );
    crate::http::problem::problem_response(status, &body)
}

/// A JSON body whose every failure is a problem+json with a stable code:
/// malformed JSON (400), unknown fields or wrong types (422), wrong content
/// type (415), too large (413).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Read as JSON first, then as `T`: serde builds a struct from an
        // array too (`[null, null]` would read as "no fields given"), so an
        // array is refused here — except where the route takes raw JSON and
        // names what it wants itself (a request's content: `content_required`).
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        let invalid = |message: String| {
            AppError::Validation(vec![entraide_proto::FieldError {
                field: "body".into(),
                code: "invalid_body".into(),
                message,
            }])
        };
        let raw = std::any::TypeId::of::<T>() == std::any::TypeId::of::<serde_json::Value>();
        if value.is_array() && !raw {
            return Err(invalid("the body must be a JSON object".into()));
        }
        serde_json::from_value::<T>(value)
            .map(ApiJson)
            .map_err(|e| invalid(e.to_string()))
    }
}

fn json_rejection(r: JsonRejection) -> AppError {
    match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => {
            AppError::Validation(vec![entraide_proto::FieldError {
                field: "body".into(),
                code: "invalid_body".into(),
                message: r.body_text(),
            }])
        }
        _ => AppError::BadRequest {
            code: "malformed_json",
            detail: r.body_text(),
        },
    }
}

pub async fn api_not_found() -> AppError {
    AppError::NotFound { what: "route" }
}

pub fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => AppError::Internal(format!("serialisation failed: {e}")).into_response(),
    }
}

pub use crate::app::csv::csv_field;

/// A request id as a client may give it: short and plain. Anything else is
/// dropped so that the node makes its own (`SetRequestIdLayer`): a client
/// must not be able to have 50 KB stored with every audit entry.
pub fn well_formed_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Drops a client's `X-Request-Id` that is not `well_formed_request_id`.
pub async fn sanitise_request_id(mut req: Request, next: Next) -> Response {
    let keep = req.headers().get_all("x-request-id").iter().count() <= 1
        && req
            .headers()
            .get("x-request-id")
            .is_none_or(|v| well_formed_request_id(v.as_bytes()));
    if !keep {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}
