//! Cooperation requests: what they must contain (with the treaty article
//! each requirement comes from), their life cycle and their deadlines.

pub mod checks;
pub mod clocks;
pub mod content;
pub mod counterparts;
pub mod deadline;
pub mod identifier;
pub mod kind;
pub mod lifecycle;
pub mod parse;
pub mod statistics;

pub use checks::{assess, has_errors, Finding, Severity};
pub use clocks::{
    EnforcingError, EventTimeError, ExtensionError, FollowError, FollowUp, ObjectionEffect,
};
pub use content::{Contact, DataRequested, Marking, Offence, RequestContent};
pub use counterparts::{counterpart, document_language, CounterpartInfo};
pub use deadline::{Deadline, DeadlineRules, Trigger};
pub use identifier::{Chain, Identifier};
pub use kind::{DataCategory, Direction, LegalBasis, RequestKind};
pub use lifecycle::{
    available_actions, next_state, Action, Authorship, Channel, Move, RefusalGround, RequestState,
    Side, TransitionError,
};
pub use parse::{
    parse_date_time, parse_instant, parse_request_content, ContentError, COLLECTION_DAYS_MAX,
    LONG_TEXT_MAX_CHARS,
};
pub use statistics::{
    compute as compute_statistics, from_aggregates, CountKey, Durations, Measure, StatRow,
    Statistics,
};

#[cfg(test)]
mod tests;
