//! Who acts: a signed-in user, a peer node, the node itself, or an operator
//! at the command line. Services take a `Principal` (never the HTTP
//! caller), and every audit entry and request mover is built from it here,
//! so that work done by the node or a peer is never disguised as a user.

use entraide_domain::{AuditAction, AuditOutcome, RoleSet};
use entraide_store::{NewAuditEntry, User};
use uuid::Uuid;

use crate::app::audit::Actor;
use crate::app::error::{AppError, AppResult};

/// Facts about the request for logs and the audit trail.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    /// Path and query of a GET request: where the language switcher returns.
    pub here: Option<String>,
}

impl RequestContext {
    pub fn anonymous_actor(&self) -> Actor {
        Actor::anonymous(self.client_ip.clone(), self.request_id.clone())
    }
}

#[derive(Clone, Debug)]
pub enum Principal {
    /// A signed-in user (second factor done, account enabled), through a
    /// session or an API token, or a stored user an operator acts as.
    User {
        user: Box<User>,
        ctx: RequestContext,
    },
    /// Another node, through a signed federation message.
    Peer { node_id: String },
    /// The node itself: the deadline sweep, reminders, intake of messages.
    Node,
    /// An operator at the node's command line.
    CommandLine { label: String },
}

impl Principal {
    pub fn user(user: User, ctx: RequestContext) -> Self {
        Self::User {
            user: Box::new(user),
            ctx,
        }
    }

    pub fn peer(node_id: impl Into<String>) -> Self {
        Self::Peer {
            node_id: node_id.into(),
        }
    }

    /// An operator at the command line, named by the login running it.
    pub fn command_line() -> Self {
        Self::CommandLine {
            label: Actor::command_line().label,
        }
    }

    /// The user acting, for operations only a user may do.
    pub fn signed_in(&self) -> AppResult<&User> {
        match self {
            Self::User { user, .. } => Ok(user),
            _ => Err(AppError::Unauthenticated),
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Self::User { user, .. } => Some(user.id),
            _ => None,
        }
    }

    /// A user's roles; a node, a peer or the command line holds none (what
    /// they may do is decided by the operation, not by roles).
    pub fn roles(&self) -> RoleSet {
        match self {
            Self::User { user, .. } => user.roles,
            _ => RoleSet::default(),
        }
    }

    pub fn context(&self) -> RequestContext {
        match self {
            Self::User { ctx, .. } => ctx.clone(),
            _ => RequestContext::default(),
        }
    }

    /// The label and address recorded in the audit log.
    pub fn actor(&self) -> Actor {
        match self {
            Self::User { user, ctx } => Actor {
                id: Some(user.id),
                label: user.email.to_string(),
                client_ip: ctx.client_ip.clone(),
                request_id: ctx.request_id.clone(),
            },
            Self::Peer { node_id } => Actor::labelled(format!("node:{node_id}")),
            Self::Node => Actor::labelled("node".into()),
            Self::CommandLine { label } => Actor::labelled(label.clone()),
        }
    }

    /// An audit entry for an action by this principal.
    pub fn entry(&self, action: AuditAction, outcome: AuditOutcome) -> NewAuditEntry {
        self.actor().entry(action, outcome)
    }
}
