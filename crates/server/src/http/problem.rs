//! The one place where errors become HTTP responses: RFC 9457
//! `application/problem+json` with the error's stable `code`, and an
//! `ErrorInfo` extension from which the web layer renders a page instead.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use entraide_proto::{FieldError, Problem};

use crate::app::error::{AppError, ErrorInfo};

pub fn problem(
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
) -> Problem {
    Problem {
        problem_type: format!("urn:entraide:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: Some(detail),
        code: code.to_owned(),
        instance: None,
        errors,
        current_state: None,
        limit: None,
    }
}

pub fn problem_response(status: StatusCode, body: &Problem) -> Response {
    let json = serde_json::to_vec(body).unwrap_or_default();
    let mut res = (status, json).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        } else {
            tracing::debug!(code, "request refused");
        }
        let errors = match &self {
            AppError::Validation(errors)
            | AppError::Incomplete(errors)
            | AppError::PackageRefused(errors)
            | AppError::PeerDocumentInvalid(errors) => errors.clone(),
            AppError::LimitExceeded {
                code,
                field,
                detail,
                ..
            } => vec![FieldError {
                field: (*field).to_owned(),
                code: (*code).to_owned(),
                message: detail.clone(),
            }],
            AppError::InvalidParameter {
                code,
                field,
                detail,
            } => vec![FieldError {
                field: field.clone(),
                code: (*code).to_owned(),
                message: detail.clone(),
            }],
            _ => Vec::new(),
        };
        let detail = self.public_detail();
        let mut body = problem(status, code, detail.clone(), errors.clone());
        if let AppError::Transition { current_state, .. } = &self {
            body.current_state = Some(current_state.clone());
        }
        if let AppError::LimitExceeded { limit, .. } = &self {
            body.limit = Some(*limit);
        }
        let mut res = problem_response(status, &body);
        if let AppError::TooManyAttempts { retry_after } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if let AppError::MethodNotAllowed { allow } = &self {
            if let Ok(v) = HeaderValue::from_str(allow) {
                res.headers_mut().insert(header::ALLOW, v);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"entraide\""),
            );
        }
        res.extensions_mut().insert(ErrorInfo {
            status,
            code,
            detail,
            field_errors: errors,
        });
        res
    }
}
