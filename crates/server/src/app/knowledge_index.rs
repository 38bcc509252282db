//! The knowledge repository's search index and its cache of reference
//! tables: a runtime handle held in the state.

use std::sync::{Arc, RwLock};

use entraide_knowledge::bundle::{CountryProfile, OffenceCategory, Treaty};
use entraide_knowledge::taxonomy::Taxonomy;
use entraide_search::{KnowledgeIndex, SearchError};

use crate::app::error::AppError;

/// The index and a cache of the small reference tables (treaties, country
/// profiles, offence categories), both tied to a database generation.
pub struct Knowledge {
    pub index: KnowledgeIndex,
    pub(crate) reference: RwLock<Option<Arc<Reference>>>,
    pub(crate) rebuilding: tokio::sync::Mutex<()>,
}

/// Treaties, profiles and offence categories of one generation.
pub struct Reference {
    pub generation: i64,
    pub treaties: Vec<Treaty>,
    pub profiles: Vec<CountryProfile>,
    pub offences: Vec<OffenceCategory>,
    pub taxonomy: Taxonomy,
}

impl Knowledge {
    pub fn open(dir: &std::path::Path) -> Result<Self, SearchError> {
        Ok(Self {
            index: KnowledgeIndex::open(dir)?,
            reference: RwLock::new(None),
            rebuilding: tokio::sync::Mutex::new(()),
        })
    }
}

impl From<SearchError> for AppError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Syntax(s) => AppError::BadRequest {
                code: "query_syntax",
                detail: s.to_string(),
            },
            SearchError::NotReady => AppError::Upstream {
                code: "index_not_ready",
                detail: "the search index is being built; retry in a moment".into(),
            },
            SearchError::Index(m) => AppError::Internal(format!("search index: {m}")),
        }
    }
}
