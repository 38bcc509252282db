//! Who is calling: resolved once per request from an API bearer token or a
//! session cookie, then handed to handlers as an extractor.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use entraide_domain::{AuditAction, AuditOutcome, Locale, RoleSet};
use entraide_store::{Session, User};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::credentials::{self as auth, TOKEN_PREFIX};
use crate::app::error::AppError;
use crate::app::principal::Principal;
pub use crate::app::principal::RequestContext;
use crate::app::state::AppState;

pub const SESSION_COOKIE: &str = "entraide_session";
pub const CSRF_COOKIE: &str = "entraide_csrf";
pub const LANG_COOKIE: &str = "entraide_lang";

#[derive(Clone)]
pub enum Via {
    Session {
        id_hash: String,
        csrf_token: String,
        /// The session passed the second factor (creating tokens needs it
        /// wherever one applies).
        second_factor_done: bool,
    },
    Token {
        id: Uuid,
    },
}

/// A signed-in user (second factor done, account enabled).
#[derive(Clone)]
pub struct Caller {
    pub user: User,
    pub via: Via,
    pub ctx: RequestContext,
}

impl Caller {
    pub fn roles(&self) -> RoleSet {
        self.user.roles
    }

    pub fn actor(&self) -> Actor {
        Actor {
            id: Some(self.user.id),
            label: self.user.email.to_string(),
            client_ip: self.ctx.client_ip.clone(),
            request_id: self.ctx.request_id.clone(),
        }
    }

    /// The user as the principal that services take.
    pub fn principal(&self) -> Principal {
        Principal::user(self.user.clone(), self.ctx.clone())
    }

    pub fn csrf_token(&self) -> &str {
        match &self.via {
            Via::Session { csrf_token, .. } => csrf_token,
            Via::Token { .. } => "",
        }
    }
}

/// Facts about the request, from its headers and connection.
pub fn request_context(
    headers: &HeaderMap,
    connect: Option<&ConnectInfo<SocketAddr>>,
) -> RequestContext {
    RequestContext {
        client_ip: connect.map(|c| c.0.ip().to_string()),
        request_id: headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        here: None,
    }
}

/// What the guard learnt about a caller who is not (fully) signed in.
#[derive(Clone)]
pub enum Anonymous {
    /// No credentials at all.
    Nobody,
    /// A session cookie that is unknown or past its lifetime.
    Expired,
    /// Password accepted, TOTP code (or enrolment) awaited.
    SecondFactorPending { session: Session, user: Box<User> },
    /// Signed in, but an administrator reset the password: nothing is
    /// admitted until the user has chosen a new one (API tokens, separate
    /// credentials, keep working).
    PasswordChangeRequired { session: Session, user: Box<User> },
}

pub enum Resolved {
    SignedIn(Box<Caller>),
    Anonymous(Anonymous),
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Resolves the caller. A presented bearer token that is unknown, revoked
/// or belongs to a disabled user is an error (and audited), never a silent
/// downgrade to anonymous.
///
/// `audit`: whether a refused token is audited. On a public route (and on
/// the not-found page) a garbage token is ignored, never written down: a
/// stranger must not be able to fill the audit log by sending them.
pub async fn resolve(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &RequestContext,
    audit: bool,
) -> Result<Resolved, AppError> {
    if let Some(secret) = bearer(headers) {
        return resolve_token(state, secret, headers, ctx, audit).await;
    }
    let Some(raw) = cookie(headers, SESSION_COOKIE) else {
        return Ok(Resolved::Anonymous(Anonymous::Nobody));
    };
    let id_hash = auth::sha256_hex(raw);
    let Some(session) = state.store.session(&id_hash).await? else {
        return Ok(Resolved::Anonymous(Anonymous::Expired));
    };
    let now = OffsetDateTime::now_utc();
    if !state
        .settings
        .sessions
        .is_alive(session.created_at, session.last_seen_at, now)
    {
        state.store.delete_session(&id_hash).await?;
        return Ok(Resolved::Anonymous(Anonymous::Expired));
    }
    let Some(user) = state.store.user_by_id(session.user_id).await? else {
        return Ok(Resolved::Anonymous(Anonymous::Expired));
    };
    if user.disabled {
        state.store.delete_session(&id_hash).await?;
        return Ok(Resolved::Anonymous(Anonymous::Expired));
    }
    if session.second_factor_pending {
        return Ok(Resolved::Anonymous(Anonymous::SecondFactorPending {
            session,
            user: Box::new(user),
        }));
    }
    if user.must_change_password {
        return Ok(Resolved::Anonymous(Anonymous::PasswordChangeRequired {
            session,
            user: Box::new(user),
        }));
    }
    // Write the activity time at most once a minute per session.
    if state.session_touch.due(&id_hash) {
        state.store.touch_session(&id_hash, now).await?;
    }
    Ok(Resolved::SignedIn(Box::new(Caller {
        user,
        via: Via::Session {
            id_hash,
            csrf_token: session.csrf_token,
            second_factor_done: session.second_factor_done,
        },
        ctx: ctx.clone(),
    })))
}

async fn resolve_token(
    state: &AppState,
    secret: &str,
    headers: &HeaderMap,
    ctx: &RequestContext,
    audit: bool,
) -> Result<Resolved, AppError> {
    // Refused tokens are audited in summary, like refused federation
    // requests: the first of an address and reason at once, the rest
    // counted and written once per interval — a stranger trying tokens
    // cannot have the node write a row per attempt.
    let refuse = |reason: &'static str| async move {
        if audit {
            let refusal = crate::app::refusals::Refusal {
                action: AuditAction::TokenRefused,
                address: ctx.client_ip.as_deref().and_then(|ip| ip.parse().ok()),
                code: reason,
                keyid: "",
                detail: reason,
            };
            let interval = state.settings.federation.refusal_summary_interval;
            for entry in state.refusals.note(&refusal, interval) {
                state.store.append_audit(&entry).await?;
            }
        }
        Err::<Resolved, AppError>(AppError::InvalidToken)
    };
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
        return refuse("malformed").await;
    }
    let Some(found) = state
        .store
        .token_with_user(&auth::sha256_hex(secret))
        .await?
    else {
        return refuse("unknown").await;
    };
    let (token, user) = (found.token, found.user);
    if token.revoked_at.is_some() {
        return refuse("revoked").await;
    }
    // Defence in depth: revoking a token revokes its descendants, but one
    // whose ancestor is revoked is refused here even if that was missed.
    if !found.lineage_live {
        return refuse("lineage revoked").await;
    }
    if user.disabled {
        return refuse("user disabled").await;
    }
    let caller = Caller {
        user,
        via: Via::Token { id: token.id },
        ctx: ctx.clone(),
    };
    // Token use is audited once per token and address per window (see
    // state.rs), with `last_used_*` written at the same time: a token used
    // from a new address shows at once, a busy script costs one write per
    // window.
    let from = ctx
        .client_ip
        .as_deref()
        .map(|ip| bounded(ip, MAX_FROM_CHARS));
    let use_key = format!("{}|{}", token.id, from.as_deref().unwrap_or(""));
    if state.token_use.due(&use_key) {
        let agent = user_agent(headers);
        let entry = caller
            .actor()
            .entry(AuditAction::TokenUsed, AuditOutcome::Success)
            .target(token.name.clone())
            .detail(serde_json::json!({ "token_id": token.id, "user_agent": agent }));
        state.store.append_audit(&entry).await?;
        state
            .store
            .touch_token(
                token.id,
                OffsetDateTime::now_utc(),
                from.as_deref(),
                agent.as_deref(),
            )
            .await?;
    }
    Ok(Resolved::SignedIn(Box::new(caller)))
}

/// What is kept of a client's address (an IPv6 address takes at most 45).
const MAX_FROM_CHARS: usize = 64;
/// What is kept of a `User-Agent`: enough to recognise a client, not a
/// place for a caller to store text.
const MAX_AGENT_CHARS: usize = 200;

/// The request's `User-Agent`, without control characters, bounded; `None`
/// when absent or blank.
fn user_agent(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::USER_AGENT)?;
    let agent = bounded(&String::from_utf8_lossy(raw.as_bytes()), MAX_AGENT_CHARS);
    (!agent.trim().is_empty()).then(|| agent.trim().to_owned())
}

/// At most `max` characters of `s`, control characters dropped.
fn bounded(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The interface language: the user's preference, then the language
/// cookie, then `Accept-Language`, then English.
pub fn pick_locale(headers: &HeaderMap, user: Option<&User>) -> Locale {
    user.and_then(|u| u.locale.as_deref())
        .and_then(Locale::parse)
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(Locale::parse))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Locale::negotiate)
        })
        .unwrap_or_default()
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(AppError::Unauthenticated)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .unwrap_or_default())
    }
}
