//! Forms: bodies that fail with a stable code, per-field messages, CSRF
//! checks (the session's token once signed in, a double-submit cookie
//! before), and the redirects that answer a form.

use std::collections::HashMap;

use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::app::credentials;
use crate::app::error::{AppError, AppResult};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::{cookie, Caller, Via, CSRF_COOKIE};

/// Per-field messages for a form shown again.
#[derive(Debug, Default)]
pub struct FormErrors {
    pub(crate) by_field: HashMap<String, String>,
    pub general: Option<String>,
}

impl FormErrors {
    pub fn get(&self, field: &str) -> Option<&String> {
        self.by_field.get(field)
    }

    pub fn has(&self, field: &str) -> bool {
        self.by_field.contains_key(field)
    }

    pub fn any(&self) -> bool {
        self.general.is_some() || !self.by_field.is_empty()
    }

    pub(crate) fn from_error(tr: &Tr, err: &AppError, field_for_conflict: &str) -> Option<Self> {
        let mut errors = FormErrors::default();
        match err {
            AppError::Validation(list) => {
                for e in list {
                    errors
                        .by_field
                        .entry(e.field.clone())
                        .or_insert_with(|| tr.error(&e.code, &e.message));
                }
            }
            AppError::Conflict { code, detail } => {
                errors
                    .by_field
                    .insert(field_for_conflict.to_owned(), tr.error(code, detail));
            }
            _ => return None,
        }
        Some(errors)
    }
}

/// A form body; a malformed one is a plain 400 with a stable code.
pub struct UiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for UiForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| UiForm(v))
            .map_err(|r| match r.status() {
                StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
                _ => AppError::BadRequest {
                    code: "malformed_form",
                    detail: r.body_text(),
                },
            })
    }
}

/// Forms with one checkbox per role (`role=officer&role=approver`) arrive as
/// repeated keys, so these forms are read as a list of pairs.
pub struct PairsForm(pub Vec<(String, String)>);

impl PairsForm {
    pub(crate) fn one(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for PairsForm {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let UiForm(pairs) = UiForm::<Vec<(String, String)>>::from_request(req, state).await?;
        Ok(PairsForm(pairs))
    }
}

/// A form that carries nothing but its CSRF token (a button).
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub(crate) fn check_csrf(caller: &Caller, submitted: &str) -> AppResult<()> {
    match &caller.via {
        Via::Session { csrf_token, .. }
            if credentials::constant_time_eq(csrf_token.as_bytes(), submitted.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(AppError::CsrfRejected),
    }
}

/// Double-submit check for forms shown before sign-in.
pub(crate) fn check_anonymous_csrf(headers: &HeaderMap, submitted: &str) -> AppResult<()> {
    match cookie(headers, CSRF_COOKIE) {
        Some(c)
            if !c.is_empty()
                && credentials::constant_time_eq(c.as_bytes(), submitted.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(AppError::CsrfRejected),
    }
}

/// The double-submit token for an anonymous page, and the cookie to set
/// when the browser does not have one yet.
pub(crate) fn anonymous_csrf(app: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, CSRF_COOKIE) {
        Some(c) if c.len() >= 32 && c.len() <= 64 => (c.to_owned(), None),
        _ => {
            let token = credentials::random_token(32);
            let secure = if app.secure_cookies { "; Secure" } else { "" };
            let value = format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}");
            (token, HeaderValue::from_str(&value).ok())
        }
    }
}

pub(crate) fn with_cookie(mut res: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// Where to go after a form (`next`): a path on this node, or `/`.
///
/// Browsers forgive a lot in a `Location`: they drop tabs and line breaks
/// (`/\t/evil.example` is `//evil.example`, another site), read `\` as
/// `/`, and a line break would split the header. So only a plain path
/// passes: printable ASCII, starting with one `/`, no backslash, and the
/// same once percent-decoded (no control character, no `//` or `/\`
/// start, which a server or proxy decoding it would follow). Anything
/// else is `/`; never an error.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_owned(),
        _ => "/".into(),
    }
}

fn is_local_path(n: &str) -> bool {
    let plain = |s: &[u8]| {
        s.first() == Some(&b'/')
            && !matches!(s.get(1), Some(b'/' | b'\\'))
            && !s.iter().any(|b| b.is_ascii_control() || *b == b'\\')
    };
    n.len() < 512
        && n.bytes().all(|b| b.is_ascii_graphic())
        && plain(n.as_bytes())
        && plain(&percent_decode(n.as_bytes()))
}

/// `%XX` sequences decoded (once); anything else kept as it is.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let decoded = match (
            s[i],
            s.get(i + 1).copied().and_then(hex),
            s.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => Some(h * 16 + l),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(s[i]);
                i += 1;
            }
        }
    }
    out
}

/// A 303 to a local path. The target is a header value: one that cannot be
/// (a line break) goes to `/` rather than failing the request.
pub(crate) fn see_other(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// Percent-encodes a value for a query string (`/` kept, for `next=`).
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_local_paths_are_redirect_targets() {
        for good in ["/", "/cases", "/cases/1?tab=evidence&x=%20y", "/a%2Fb"] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "%2F%2Fevil.example",
            "/%2F/evil.example",
            "/%2Fevil.example",
            "/%5Cevil.example",
            "/x\r\nSet-Cookie: a=b",
            "/x%0d%0aSet-Cookie:%20a=b",
            "/x y",
            "https://evil.example",
            "javascript:alert(1)",
            "/caf\u{e9}",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(600)))), "/");
    }

    #[test]
    fn a_redirect_never_fails() {
        let res = see_other("/x\r\ny");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[header::LOCATION], "/");
    }
}
