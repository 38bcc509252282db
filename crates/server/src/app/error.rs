//! The node's errors, each with its HTTP status and stable `code`. They
//! become responses in one place (`http::problem`): API callers get RFC 9457
//! `application/problem+json`; the web layer turns the same errors into
//! pages in the reader's language.

use ::http::StatusCode;
use entraide_domain::ParseError;
use entraide_proto::FieldError;
use entraide_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("sign-in required")]
    Unauthenticated,
    #[error("the session has expired")]
    SessionExpired,
    #[error("the API token is unknown or revoked")]
    InvalidToken,
    #[error("wrong e-mail or password")]
    InvalidCredentials,
    #[error("wrong or reused second-factor code")]
    InvalidSecondFactor,
    #[error("too many failed sign-ins: the account is locked for a while")]
    AccountLocked,
    #[error("too many attempts from this address; retry in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    /// An administrator reset the password: the session admits nothing
    /// until the user has chosen a new one.
    #[error("choose a new password first")]
    PasswordChangeRequired,
    #[error("your roles do not allow this")]
    ForbiddenRole,
    #[error("only members of this case may read its content")]
    NotCaseMember,
    #[error("you may not manage the members of this case")]
    CannotManageMembers,
    #[error("{detail}")]
    ForbiddenSender { detail: String },
    #[error("the form has expired or did not come from this site; reload the page")]
    CsrfRejected,
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("some fields are missing or invalid")]
    Validation(Vec<FieldError>),
    #[error("the request is incomplete: it cannot be approved until every error is fixed")]
    Incomplete(Vec<FieldError>),
    #[error("{detail}")]
    Transition {
        code: &'static str,
        detail: String,
        current_state: String,
    },
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// A path or query parameter that does not parse; `field` names it.
    #[error("{detail}")]
    InvalidParameter {
        code: &'static str,
        field: String,
        detail: String,
    },
    /// The path exists, not with this method; `allow` lists those it has.
    #[error("this method is not allowed here (allowed: {allow})")]
    MethodNotAllowed { allow: String },
    /// Refused by a configured limit (`upload_too_large`, `quota_exceeded`):
    /// `limit` is the limit in bytes, `field` what exceeded it.
    #[error("{detail}")]
    LimitExceeded {
        code: &'static str,
        field: &'static str,
        limit: u64,
        detail: String,
    },
    /// Refused for a reason particular to the route (not a role of the
    /// route's rule), with its own code.
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    /// Another node could not be reached or answered badly.
    #[error("{detail}")]
    Upstream { code: &'static str, detail: String },
    /// A peer's node document holds fields that are not what they must be
    /// (a node id that is a path, an unknown country or kind...): each
    /// field refused, with its code.
    #[error("the peer's node document was refused: some of its fields are invalid")]
    PeerDocumentInvalid(Vec<FieldError>),
    #[error("the evidence package failed verification and was refused")]
    PackageRefused(Vec<FieldError>),
    #[error("the body is larger than this route accepts")]
    PayloadTooLarge,
    /// A request's body did not arrive within the time allowed (requests
    /// from other nodes).
    #[error("the request body did not arrive in time")]
    BodyReadTimeout,
    /// Too many requests from one client address are being read at once
    /// (requests from other nodes).
    #[error("{detail}")]
    TooManyConnections { detail: String },
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("storage failure")]
    Store(#[from] StoreError),
    #[error("internal error")]
    Internal(String),
}

/// Attached to every error response so the UI layer can render it.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub field_errors: Vec<FieldError>,
}

impl AppError {
    pub fn field(field: &str, e: ParseError) -> FieldError {
        FieldError {
            field: field.to_owned(),
            code: e.code.to_owned(),
            message: e.message,
        }
    }

    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::SessionExpired => (StatusCode::UNAUTHORIZED, "session_expired"),
            Self::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Self::InvalidSecondFactor => (StatusCode::UNAUTHORIZED, "invalid_second_factor"),
            Self::AccountLocked => (StatusCode::LOCKED, "account_locked"),
            Self::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            Self::PasswordChangeRequired => (StatusCode::FORBIDDEN, "password_change_required"),
            Self::ForbiddenRole => (StatusCode::FORBIDDEN, "forbidden_role"),
            Self::NotCaseMember => (StatusCode::FORBIDDEN, "not_case_member"),
            Self::CannotManageMembers => (StatusCode::FORBIDDEN, "cannot_manage_members"),
            Self::CsrfRejected => (StatusCode::FORBIDDEN, "csrf_rejected"),
            Self::ForbiddenSender { .. } => (StatusCode::FORBIDDEN, "unknown_sender"),
            Self::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::Incomplete(_) => (StatusCode::UNPROCESSABLE_ENTITY, "request_incomplete"),
            Self::PackageRefused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "package_verification_failed",
            ),
            Self::Transition { code, .. } => (StatusCode::CONFLICT, code),
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::InvalidParameter { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::LimitExceeded { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            Self::Upstream { code, .. } => (StatusCode::BAD_GATEWAY, code),
            Self::PeerDocumentInvalid(_) => (StatusCode::BAD_GATEWAY, "peer_document_invalid"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::BodyReadTimeout => (StatusCode::REQUEST_TIMEOUT, "body_read_timeout"),
            Self::TooManyConnections { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_connections")
            }
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Store(StoreError::Conflict(_)) => (StatusCode::CONFLICT, "already_exists"),
            Self::Store(StoreError::NotFound) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Store(_) | Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    pub fn public_detail(&self) -> String {
        match self {
            // Never leak database messages to callers; they are logged.
            Self::Store(StoreError::Conflict(what)) => format!("this {what} is already in use"),
            Self::Store(StoreError::NotFound) => "not found".into(),
            Self::Store(_) | Self::Internal(_) => {
                "an internal error occurred; it has been logged".into()
            }
            other => other.to_string(),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Collects field errors while parsing a request into domain types.
#[derive(Default)]
pub struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn check<T>(&mut self, field: &str, result: Result<T, ParseError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(AppError::field(field, e));
                None
            }
        }
    }

    pub fn push(&mut self, field: &str, code: &str, message: &str) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// Fails with every collected error, or returns the parsed values.
    pub fn finish<T>(self, value: Option<T>) -> AppResult<T> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(AppError::Validation(self.errors)),
        }
    }
}
