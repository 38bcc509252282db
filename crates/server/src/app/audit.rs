//! Who did something, as the audit log records it, and the small builders
//! that fill in an audit entry's case, target and detail.

use entraide_domain::{AuditAction, AuditOutcome};
use entraide_store::NewAuditEntry;
use time::OffsetDateTime;
use uuid::Uuid;

/// Who does something, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub label: String,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    /// An operator at the node's command line.
    pub fn command_line() -> Self {
        let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
        Self {
            id: None,
            label: format!("cli:{who}"),
            client_ip: None,
            request_id: None,
        }
    }

    /// The node itself, a peer node or an operator: no user id, no address.
    pub fn labelled(label: String) -> Self {
        Self {
            id: None,
            label,
            client_ip: None,
            request_id: None,
        }
    }

    pub fn anonymous(client_ip: Option<String>, request_id: Option<String>) -> Self {
        Self {
            id: None,
            label: "anonymous".into(),
            client_ip,
            request_id,
        }
    }

    pub fn entry(&self, action: AuditAction, outcome: AuditOutcome) -> NewAuditEntry {
        NewAuditEntry {
            at: OffsetDateTime::now_utc(),
            actor_id: self.id,
            actor: self.label.clone(),
            action,
            outcome,
            case_id: None,
            target: None,
            client_ip: self.client_ip.clone(),
            request_id: self.request_id.clone(),
            detail: "{}".into(),
        }
    }
}

pub trait AuditEntryExt {
    fn on_case(self, case_id: Uuid) -> Self;
    fn target(self, target: impl Into<String>) -> Self;
    fn detail(self, detail: serde_json::Value) -> Self;
}

impl AuditEntryExt for NewAuditEntry {
    fn on_case(mut self, case_id: Uuid) -> Self {
        self.case_id = Some(case_id);
        self
    }
    fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail.to_string();
        self
    }
}
