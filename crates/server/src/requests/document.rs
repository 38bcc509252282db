//! The request as a formal document (the T-CY header and body in the
//! requested authority's language), and its PDF with the digest recorded.

use entraide_domain::{AuditAction, AuditOutcome};
use entraide_store::CooperationRequest;
use time::OffsetDateTime;
use uuid::Uuid;

use super::service::{event, member_request};
use crate::app::audit::AuditEntryExt;
use crate::app::error::{AppError, AppResult};
use crate::app::principal::Principal;
use crate::app::state::AppState;

// ------------------------------------------------------------------ formal document

/// The language a requested authority accepts by default (one table, in
/// the domain, serves drafting help and documents).
pub use entraide_domain::request::document_language;

/// The request as a formal document, in `tr`'s language.
pub async fn formal_document(
    app: &AppState,
    tr: &crate::app::i18n::Tr,
    r: &CooperationRequest,
) -> AppResult<crate::requests::pdf::FormalDocument> {
    use crate::requests::pdf::Block;
    let c = &r.content;
    let f = |k: &str| tr.t(&format!("rq-field-{k}"));
    let date = |t: OffsetDateTime| {
        let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
        t.to_offset(time::UtcOffset::UTC)
            .format(&fmt)
            .unwrap_or_default()
    };
    let contact = |x: &entraide_domain::request::Contact| {
        let mut lines = vec![x.organisation.clone()];
        if let Some(cc) = x.country {
            lines.push(cc.to_string());
        }
        for (k, v) in [
            ("person", &x.person),
            ("address", &x.address),
            ("office-hours", &x.office_hours),
            ("time-zone", &x.time_zone),
            ("reply-channel", &x.reply_channel),
        ] {
            if !v.is_empty() {
                lines.push(format!("{}: {v}", f(k)));
            }
        }
        if !x.phones.is_empty() {
            lines.push(format!("{}: {}", f("phones"), x.phones.join(", ")));
        }
        if !x.email.is_empty() {
            lines.push(x.email.clone());
        }
        lines.retain(|l| !l.is_empty());
        lines.join("\n")
    };
    let mut blocks = vec![
        Block::Title(tr.t(&format!("rq-kind-{}", r.kind.as_str()))),
        Block::Subtitle(format!(
            "{} — {} {}",
            r.kind.article(),
            tr.t("rq-reference"),
            r.reference
        )),
        Block::Heading(tr.t("rq-section-header")),
        Block::Field(tr.t("doc-date"), date(r.sent_at.unwrap_or(r.updated_at))),
        Block::Field(f("case-number"), c.case_number.clone()),
        Block::Field(
            f("marking"),
            tr.t(match c.marking {
                entraide_domain::request::Marking::New => "rq-marking-new",
                entraide_domain::request::Marking::Extension => "rq-marking-extension",
                entraide_domain::request::Marking::FollowUp => "rq-marking-follow-up",
            }),
        ),
    ];
    let optional = |blocks: &mut Vec<Block>, label: String, value: &str| {
        if !value.trim().is_empty() {
            blocks.push(Block::Field(label, value.to_owned()));
        }
    };
    optional(&mut blocks, f("previous-reference"), &c.previous_reference);
    blocks.push(Block::Field(f("requesting"), contact(&c.requesting)));
    blocks.push(Block::Field(f("requested"), contact(&c.requested)));
    optional(
        &mut blocks,
        f("confirmation-contact"),
        &c.confirmation_contact,
    );
    optional(
        &mut blocks,
        f("investigative-authority"),
        &c.investigative_authority,
    );
    optional(&mut blocks, f("prosecution-office"), &c.prosecution_office);
    if let Some(b) = c.legal_basis {
        blocks.push(Block::Field(
            f("legal-basis"),
            tr.t(&format!("rq-basis-{}", b.as_str())),
        ));
    }
    optional(
        &mut blocks,
        f("domestic-legal-basis"),
        &c.domestic_legal_basis,
    );
    blocks.push(Block::Heading(tr.t("rq-section-offence")));
    let offences = c
        .offences
        .iter()
        .map(|o| {
            let mut s = o.description.clone();
            if !o.provision.is_empty() {
                s.push_str(&format!(" ({})", o.provision));
            }
            if !o.penalty.is_empty() {
                s.push_str(&format!(" — {}: {}", f("offence-penalty"), o.penalty));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("\n");
    blocks.push(Block::Field(f("offences"), offences));
    blocks.push(Block::Field(f("facts"), c.facts.clone()));
    blocks.push(Block::Heading(tr.t("rq-section-data")));
    let data = c
        .data
        .iter()
        .map(|d| {
            format!(
                "[{}] {}\n{}: {}",
                tr.t(&format!("rq-category-{}", d.category.as_str())),
                d.description,
                f("data-relationship-to-offence"),
                d.relationship_to_offence
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    blocks.push(Block::Field(f("data"), data));
    let ids = c
        .identifiers
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    optional(&mut blocks, f("identifiers"), &ids);
    if c.period_from.is_some() || c.period_to.is_some() {
        let p = format!(
            "{} - {}",
            c.period_from.map(date).unwrap_or_default(),
            c.period_to.map(date).unwrap_or_default()
        );
        blocks.push(Block::Field(f("period-from"), p));
    }
    optional(&mut blocks, f("custodian"), &c.custodian);
    optional(&mut blocks, f("necessity"), &c.necessity);
    if let Some(m) = c.mla_to_follow {
        blocks.push(Block::Field(
            f("mla-to-follow"),
            tr.t(if m { "yes" } else { "no" }),
        ));
    }
    optional(&mut blocks, f("emergency-facts"), &c.emergency_facts);
    optional(&mut blocks, f("emergency-link"), &c.emergency_link);
    if let Some(d) = c.collection_days {
        blocks.push(Block::Field(f("collection-days"), d.to_string()));
    }
    optional(
        &mut blocks,
        f("special-instructions"),
        &c.special_instructions,
    );
    if c.confidential {
        blocks.push(Block::Paragraph(f("confidential")));
    }
    blocks.push(Block::Heading(tr.t("doc-attachments")));
    blocks.push(Block::Paragraph(tr.t("doc-no-attachments")));
    blocks.push(Block::Heading(tr.t("doc-approval")));
    match (r.approved_by, &r.approved_digest) {
        (Some(approver), Some(digest)) => {
            let name = app
                .store
                .user_by_id(approver)
                .await?
                .map(|u| format!("{} <{}>", u.display_name, u.email))
                .unwrap_or_default();
            let events = app.store.request_events(r.id).await?;
            let when = events
                .iter()
                .rev()
                .find(|e| e.action == "approve")
                .map(|e| date(e.at))
                .unwrap_or_default();
            blocks.push(Block::Field(
                tr.t("doc-approved-by"),
                format!("{name}\n{when}"),
            ));
            blocks.push(Block::Field(tr.t("rq-approved-digest"), digest.clone()));
        }
        _ if r.direction == entraide_domain::request::Direction::Incoming => {
            blocks.push(Block::Paragraph(tr.t("doc-received")))
        }
        _ => blocks.push(Block::Paragraph(tr.t("doc-not-approved"))),
    }
    Ok(crate::requests::pdf::FormalDocument {
        title: format!(
            "{} {}",
            tr.t(&format!("rq-kind-{}", r.kind.as_str())),
            r.reference
        ),
        blocks,
        page_label: tr.t("doc-page"),
        footer: format!("Entraide — {}", r.reference),
    })
}

/// Renders the PDF and records its SHA-256 with the request (once per
/// distinct document).
pub async fn render_document(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
    lang: Option<&str>,
) -> AppResult<(Vec<u8>, String, entraide_domain::Locale)> {
    let r = member_request(app, principal, id).await?;
    let locale = match lang {
        Some(l) if !l.is_empty() => {
            entraide_domain::Locale::parse(l).ok_or(AppError::BadRequest {
                code: "unsupported_language",
                detail: "choose en, fr or es".into(),
            })?
        }
        _ => document_language(r.requested_country),
    };
    let tr = crate::app::i18n::Tr::new(app.i18n.clone(), locale);
    let doc = formal_document(app, &tr, &r).await?;
    let pdf = crate::requests::pdf::render_pdf(&doc);
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pdf));
    let events = app.store.request_events(id).await?;
    let seen = events
        .iter()
        .any(|e| e.action == "document_rendered" && e.detail.contains(&digest));
    if !seen {
        let ev = event(
            &r,
            principal,
            "document_rendered",
            Some(r.state),
            serde_json::json!({ "sha256": digest, "language": locale.as_str(), "bytes": pdf.len() }),
        );
        let audit = principal
            .actor()
            .entry(AuditAction::RequestRead, AuditOutcome::Success)
            .on_case(r.case_id)
            .target(r.reference.clone())
            .detail(serde_json::json!({ "document": digest }));
        app.store
            .update_request(&r, &r, &ev, &audit, &entraide_store::Effects::default())
            .await?;
    }
    Ok((pdf, digest, locale))
}
