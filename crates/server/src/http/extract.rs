//! Path and query extractors whose every failure is a problem+json with a
//! stable code naming the parameter, like `ApiJson` for bodies: a path
//! parameter that does not parse (`/api/v1/cases/not-a-uuid`) is a 400
//! `invalid_path_parameter`, a query that does not (an unknown parameter, a
//! value of the wrong type) a 400 `invalid_query_parameter`; `errors[0].field`
//! names the parameter (`query` when the query as a whole is refused).

use axum::extract::path::ErrorKind;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::app::error::AppError;

/// `axum::extract::Path`, refusing as problem+json.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rejection) => {
                let keys: Vec<String> = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|raw| raw.iter().map(|(k, _)| k.to_owned()).collect())
                    .unwrap_or_default();
                Err(path_rejection(rejection, &keys))
            }
        }
    }
}

fn path_rejection(r: PathRejection, keys: &[String]) -> AppError {
    let PathRejection::FailedToDeserializePathParams(failed) = r else {
        return AppError::Internal(format!("path parameters: {}", r.body_text()));
    };
    let detail = failed.body_text();
    let key = match failed.into_kind() {
        ErrorKind::ParseErrorAtKey { key, .. }
        | ErrorKind::InvalidUtf8InPathParam { key }
        | ErrorKind::DeserializeError { key, .. } => key,
        ErrorKind::ParseErrorAtIndex { index, .. } => keys.get(index).cloned().unwrap_or_default(),
        ErrorKind::ParseError { .. } | ErrorKind::Message(_) if keys.len() == 1 => keys[0].clone(),
        ErrorKind::ParseError { .. } | ErrorKind::Message(_) => String::new(),
        // The handler's type does not fit its route: a bug, not the caller's.
        other => return AppError::Internal(format!("path parameters: {other}")),
    };
    AppError::InvalidParameter {
        code: "invalid_path_parameter",
        field: if key.is_empty() { "path".into() } else { key },
        detail,
    }
}

/// `axum::extract::Query`, refusing as problem+json.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(r: QueryRejection) -> AppError {
    let detail = r.body_text();
    // serde_urlencoded names an unknown or missing field in backticks.
    let field = detail
        .split('`')
        .nth(1)
        .filter(|_| detail.contains("field `"))
        .unwrap_or("query")
        .to_owned();
    AppError::InvalidParameter {
        code: "invalid_query_parameter",
        field,
        detail,
    }
}
