//! The chain of custody as CASE/UCO 1.5 JSON-LD (`case.jsonld` in a
//! package), for forensic tools that speak CASE:
//!
//! - each evidence file is a `uco-observable:File` with a `FileFacet` (name,
//!   size) and a `ContentDataFacet` holding its hashes (`uco-types:Hash`);
//! - each file has a `case-investigation:ProvenanceRecord` with its exhibit
//!   number;
//! - each custody event is a `case-investigation:InvestigativeAction` with
//!   its performer (a `uco-identity:Person`), its time, the file as object
//!   and the provenance record as result; the exporting node's organisation
//!   is a `uco-identity:Organization` and Entraide a `uco-tool:Tool` used as
//!   instrument.
//!
//! Identifiers are `kb:` IRIs ending in a UUID, derived from the item and
//! event identifiers so that the same package always yields the same graph.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::package::Manifest;
use crate::record::CustodyRecord;

/// A stable UUID for a node of the graph: SHA-256 of a name, shaped as a
/// version 4 UUID (UCO expects identifiers ending in a UUID of version 0
/// to 5, so the version 7 identifiers of the node are not used as such).
fn derived(name: &str) -> Uuid {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn kb(kind: &str, name: &str) -> String {
    format!("kb:{kind}-{}", derived(name))
}

fn typed(datatype: &str, value: impl Into<Value>) -> Value {
    json!({ "@type": datatype, "@value": value.into() })
}

fn hash(method: &str, value: &str, id: String) -> Value {
    json!({
        "@id": id,
        "@type": "uco-types:Hash",
        // A plain string from HashNameVocab, as UCO 1.4 and later expect.
        "uco-types:hashMethod": method,
        "uco-types:hashValue": typed("xsd:hexBinary", value.to_ascii_uppercase()),
    })
}

/// The JSON-LD document for a package's items and custody events.
pub fn chain_of_custody(manifest: &Manifest, events: &[CustodyRecord]) -> String {
    let mut graph: Vec<Value> = Vec::new();
    let tool_id = kb("tool", "entraide");
    graph.push(json!({
        "@id": tool_id,
        "@type": "uco-tool:Tool",
        "uco-core:name": "Entraide",
        "uco-tool:toolType": "evidence custody and exchange",
        "uco-tool:version": env!("CARGO_PKG_VERSION"),
    }));
    let org_id = kb("organization", &manifest.node.public_key);
    graph.push(json!({
        "@id": org_id,
        "@type": "uco-identity:Organization",
        "uco-core:name": manifest.node.organisation,
        "uco-core:description": format!("Entraide node {} ({})", manifest.node.id, manifest.node.country),
    }));

    let mut people: BTreeMap<String, String> = BTreeMap::new();
    let mut person = |graph: &mut Vec<Value>, actor: &str, name: &str| -> String {
        if let Some(id) = people.get(actor) {
            return id.clone();
        }
        let id = kb("person", &format!("{}/{actor}", manifest.node.id));
        graph.push(json!({
            "@id": id,
            "@type": "uco-identity:Person",
            "uco-core:name": if name.is_empty() { actor } else { name },
            "uco-core:description": actor,
        }));
        people.insert(actor.to_owned(), id.clone());
        id
    };

    let mut files: BTreeMap<Uuid, (String, String)> = BTreeMap::new();
    for item in &manifest.items {
        let key = item.id.to_string();
        let file_id = kb("file", &key);
        let mut hashes = vec![hash(
            "SHA256",
            &item.sha256,
            kb("hash", &format!("{key}/sha256")),
        )];
        if let Some(md5) = &item.md5 {
            hashes.push(hash("MD5", md5, kb("hash", &format!("{key}/md5"))));
        }
        if let Some(sha1) = &item.sha1 {
            hashes.push(hash("SHA1", sha1, kb("hash", &format!("{key}/sha1"))));
        }
        graph.push(json!({
            "@id": file_id,
            "@type": "uco-observable:File",
            "uco-core:description": item.description,
            "uco-core:hasFacet": [
                {
                    "@id": kb("file-facet", &key),
                    "@type": "uco-observable:FileFacet",
                    "uco-observable:fileName": item.file_name,
                    "uco-observable:sizeInBytes": typed("xsd:integer", item.size),
                },
                {
                    "@id": kb("content-data-facet", &key),
                    "@type": "uco-observable:ContentDataFacet",
                    "uco-observable:sizeInBytes": typed("xsd:integer", item.size),
                    "uco-observable:hash": hashes,
                },
            ],
        }));
        let record_id = kb("provenance-record", &key);
        let mut record = Map::new();
        record.insert("@id".into(), json!(record_id));
        record.insert("@type".into(), json!("case-investigation:ProvenanceRecord"));
        record.insert(
            "uco-core:description".into(),
            json!(format!(
                "{} — case {} ({})",
                item.description, manifest.case.reference, manifest.case.title
            )),
        );
        if let Some(exhibit) = &item.exhibit_number {
            record.insert("case-investigation:exhibitNumber".into(), json!(exhibit));
        }
        record.insert("uco-core:object".into(), json!([{ "@id": file_id }]));
        graph.push(Value::Object(record));
        files.insert(item.id, (file_id, record_id));
    }

    for event in events {
        let Some((file_id, record_id)) = event.item.and_then(|i| files.get(&i)) else {
            continue;
        };
        let performer = person(&mut graph, &event.actor, &event.actor_name);
        let description = if event.details.is_empty() {
            format!("{} recorded by node {}", event.kind, event.node)
        } else {
            format!(
                "{} recorded by node {}: {}",
                event.kind,
                event.node,
                event
                    .details
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        graph.push(json!({
            "@id": kb("investigative-action", &event.event.to_string()),
            "@type": "case-investigation:InvestigativeAction",
            "uco-core:name": format!("custody: {}", event.kind),
            "uco-core:description": description,
            "uco-action:startTime": typed("xsd:dateTime", event.at.clone()),
            "uco-action:endTime": typed("xsd:dateTime", event.at.clone()),
            "uco-action:performer": { "@id": performer },
            "uco-action:instrument": [{ "@id": tool_id }],
            "uco-action:object": [{ "@id": file_id }],
            "uco-action:result": [{ "@id": record_id }],
        }));
    }

    let doc = json!({
        "@context": {
            "kb": "http://example.org/kb/",
            "case-investigation": "https://ontology.caseontology.org/case/investigation/",
            "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
            "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
            "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
            "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
            "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
            "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@graph": graph,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
