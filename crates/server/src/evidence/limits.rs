//! How much evidence may come in: the largest file the node accepts, and
//! what the case's and the node's quotas leave (`[limits]`). Checked
//! before any byte is read when the size is announced (resumable uploads,
//! a request's `Content-Length`), and while reading when it is not (the
//! upload form).

use uuid::Uuid;

use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// What may still be added to one case, measured when it was asked for.
#[derive(Debug, Clone, Copy)]
pub struct Allowance {
    max_upload: u64,
    /// (quota, bytes already held or promised)
    case: Option<(u64, u64)>,
    node: Option<(u64, u64)>,
}

impl Allowance {
    /// The allowance of `case_id` now. The store is asked only for the
    /// quotas that are configured.
    pub async fn of_case(app: &AppState, case_id: Uuid) -> AppResult<Self> {
        let edge = &app.settings.edge;
        let case = match edge.case_quota_bytes {
            Some(quota) => Some((quota, app.store.evidence_bytes(Some(case_id)).await?)),
            None => None,
        };
        let node = match edge.node_quota_bytes {
            Some(quota) => Some((quota, app.store.evidence_bytes(None).await?)),
            None => None,
        };
        Ok(Self {
            max_upload: edge.max_upload_bytes,
            case,
            node,
        })
    }

    /// The most bytes one file may still have.
    pub fn bytes(&self) -> u64 {
        let room =
            |q: Option<(u64, u64)>| q.map_or(u64::MAX, |(quota, used)| quota.saturating_sub(used));
        self.max_upload.min(room(self.case)).min(room(self.node))
    }

    /// Refuses a file of `size` bytes with the limit it exceeds:
    /// `upload_too_large` (the largest file), or `quota_exceeded` (the
    /// case's, then the node's quota). `field` names what carried the size.
    pub fn admit(&self, size: u64, field: &'static str) -> AppResult<()> {
        if size > self.max_upload {
            return Err(AppError::LimitExceeded {
                code: "upload_too_large",
                field,
                limit: self.max_upload,
                detail: format!(
                    "{size} bytes is more than the {} bytes this node accepts in one file",
                    self.max_upload
                ),
            });
        }
        for (quota, whose) in [(self.case, "case"), (self.node, "node")] {
            let Some((quota, used)) = quota else {
                continue;
            };
            if used.saturating_add(size) > quota {
                return Err(AppError::LimitExceeded {
                    code: "quota_exceeded",
                    field,
                    limit: quota,
                    detail: format!(
                        "the {whose} holds {used} of its {quota} bytes of evidence: \
                         {size} more bytes would exceed its quota"
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: AppResult<()>) -> (&'static str, u64) {
        match r {
            Err(AppError::LimitExceeded { code, limit, .. }) => (code, limit),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_tightest_limit_refuses_and_is_named() {
        let a = Allowance {
            max_upload: 1000,
            case: Some((500, 200)),
            node: Some((10_000, 9_900)),
        };
        assert_eq!(a.bytes(), 100);
        assert!(a.admit(100, "size").is_ok());
        assert_eq!(code(a.admit(1 << 63, "size")), ("upload_too_large", 1000));
        assert_eq!(code(a.admit(301, "size")), ("quota_exceeded", 500));
        assert_eq!(code(a.admit(101, "size")), ("quota_exceeded", 10_000));
        let open = Allowance {
            max_upload: u64::MAX,
            case: None,
            node: Some((10, 20)),
        };
        assert_eq!(open.bytes(), 0);
        assert_eq!(code(open.admit(u64::MAX, "size")), ("quota_exceeded", 10));
    }
}
