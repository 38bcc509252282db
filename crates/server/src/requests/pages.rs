//! Web pages for cooperation requests: the list with the "expiring soon"
//! view, the drafting form (one page, sections per kind, checks shown beside
//! the fields), the request page with its history and actions.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::request::{
    assess, available_actions, Contact, DataCategory, DeadlineRules, Direction, LegalBasis,
    RefusalGround, RequestContent, RequestKind, Severity,
};
use entraide_domain::{CountryCode, Locale, Role, RoleSet};
use entraide_store::CooperationRequest;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::error::{AppError, AppResult};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::requests;
use crate::requests::pages_form::{
    parse_form, FormValues, DATA_ROWS, IDENTIFIER_ROWS, OFFENCE_ROWS,
};
use crate::web::forms::{check_csrf, see_other, FormErrors, PairsForm};
use crate::web::page::{fmt_time, page, render, render_status, Nav};

pub const IDENTIFIER_TYPES: [&str; 11] = [
    "ip_address",
    "email",
    "phone",
    "url",
    "domain",
    "account",
    "imei",
    "imsi",
    "crypto_address",
    "iban",
    "payment_card",
];

pub struct RequestRow {
    pub id: Uuid,
    pub reference: String,
    pub kind_label: String,
    pub direction_label: String,
    pub state: String,
    pub state_label: String,
    pub counterpart: String,
    pub deadline: String,
    pub due_soon: bool,
    pub past_due: bool,
    pub updated: String,
}

pub fn request_row(tr: &Tr, r: &CooperationRequest) -> RequestRow {
    let now = OffsetDateTime::now_utc();
    RequestRow {
        id: r.id,
        reference: r.reference.clone(),
        kind_label: tr.t(&format!("rq-kind-{}", r.kind.as_str())),
        direction_label: tr.t(&format!("rq-direction-{}", r.direction.as_str())),
        state: r.state.as_str().to_owned(),
        state_label: tr.t(&format!("rq-state-{}", r.state.as_str())),
        counterpart: r.counterpart.clone(),
        deadline: r.deadline_due.map(fmt_time).unwrap_or_default(),
        due_soon: r
            .deadline_due
            .is_some_and(|d| DeadlineRules::default().is_due_soon(d, now)),
        // Held in force by a request for its data pending (Budapest art.
        // 29(7)): not past due.
        past_due: r.deadline_due.is_some_and(|d| d <= now)
            && !r.state.is_final()
            && !r.pending_decision,
        updated: fmt_time(r.updated_at),
    }
}

pub fn kind_options(tr: &Tr) -> Vec<(String, String)> {
    RequestKind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str().to_owned(),
                tr.t(&format!("rq-kind-{}", k.as_str())),
            )
        })
        .collect()
}

fn options<T: Copy>(
    tr: &Tr,
    prefix: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|v| (name(*v).to_owned(), tr.t(&format!("{prefix}{}", name(*v)))))
        .collect()
}

/// Findings of the checks, as messages beside the fields (errors and
/// warnings), in the reader's language.
fn findings_by_field(
    tr: &Tr,
    kind: RequestKind,
    content: &RequestContent,
) -> (FormErrors, Vec<FindingRow>) {
    let mut errors = FormErrors::default();
    let mut rows = Vec::new();
    for f in assess(kind, content) {
        let message = finding_message(tr, f.code, &f.field, &f.message);
        if f.severity == Severity::Error {
            errors
                .by_field
                .entry(f.field.clone())
                .or_insert_with(|| message.clone());
        }
        rows.push(FindingRow {
            anchor: field_id(&f.field),
            label: field_label(tr, &f.field),
            message,
            source: f.source.to_owned(),
            error: f.severity == Severity::Error,
        });
    }
    (errors, rows)
}

pub struct FindingRow {
    pub anchor: String,
    pub label: String,
    pub message: String,
    pub source: String,
    pub error: bool,
}

fn finding_message(tr: &Tr, code: &str, _field: &str, fallback: &str) -> String {
    let id = format!("finding-{}", code.replace('_', "-"));
    let m = tr.t(&id);
    if m == id {
        fallback.to_owned()
    } else {
        m
    }
}

/// `identifiers[0].port` → `identifiers-0-port` (an HTML id).
pub fn field_id(path: &str) -> String {
    path.replace(['[', '.'], "-").replace(']', "")
}

/// The translated label of a content path.
fn field_label(tr: &Tr, path: &str) -> String {
    let generic: String = path
        .split('.')
        .map(|p| p.split('[').next().unwrap_or(p))
        .collect::<Vec<_>>()
        .join("-")
        .replace('_', "-");
    let row = path
        .split('[')
        .nth(1)
        .and_then(|s| s.split(']').next())
        .and_then(|n| n.parse::<usize>().ok());
    let label = tr.t(&format!("rq-field-{generic}"));
    match row {
        Some(n) => format!("{label} ({})", n + 1),
        None => label,
    }
}

// ------------------------------------------------------------------ pages

#[derive(Template)]
#[template(path = "requests/requests.html")]
struct RequestsPage {
    tr: Tr,
    nav: Nav,
    rows: Vec<RequestRow>,
    expiring: bool,
    state: String,
    kind: String,
    direction: String,
    states: Vec<(String, String)>,
    kinds: Vec<(String, String)>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    expiring: Option<String>,
    state: Option<String>,
    kind: Option<String>,
    direction: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/requests").await?;
    let expiring = q.expiring.is_some();
    let query = requests::api::RequestQuery {
        state: q.state.clone(),
        kind: q.kind.clone(),
        direction: q.direction.clone(),
        due_within_days: expiring.then_some(7),
        ..Default::default()
    };
    let filter = query.filter()?;
    let list = app
        .store
        .requests_for_member(caller.user.id, &filter)
        .await?;
    let view = RequestsPage {
        rows: list
            .iter()
            .filter(|r| !expiring || !r.state.is_final())
            .map(|r| request_row(&p.tr, r))
            .collect(),
        expiring,
        state: q.state.unwrap_or_default(),
        kind: q.kind.unwrap_or_default(),
        direction: q.direction.unwrap_or_default(),
        states: options(
            &p.tr,
            "rq-state-",
            &entraide_domain::request::RequestState::ALL,
            |s| s.as_str(),
        ),
        kinds: kind_options(&p.tr),
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

#[derive(Template)]
#[template(path = "requests/request_form.html")]
struct RequestFormPage {
    tr: Tr,
    nav: Nav,
    /// Where the form posts.
    action: String,
    kind_label: String,
    article: String,
    title: String,
    v: FormValues,
    errors: FormErrors,
    legal_bases: Vec<(String, String)>,
    categories: Vec<(String, String)>,
    identifier_types: Vec<(String, String)>,
    offence_rows: Vec<usize>,
    data_rows: Vec<usize>,
    identifier_rows: Vec<usize>,
    show_preservation: bool,
    show_emergency: bool,
    show_collection: bool,
    /// Earlier requests of the case a new one may follow: (id, label,
    /// chosen). Empty when editing (what it follows is set at creation).
    follow_options: Vec<(String, String, bool)>,
    /// A request received: when it was received (its deadlines run from
    /// then).
    show_received_at: bool,
    received_at: String,
}

impl RequestFormPage {
    fn row_id(&self, list: &str, i: &usize, field: &str) -> String {
        field_id(&format!("{list}[{i}].{field}"))
    }

    fn row_legend(&self, key: &str, i: &usize) -> String {
        self.tr.tn(key, "n", i64::try_from(*i).unwrap_or(0) + 1)
    }

    fn row_error(&self, list: &str, i: &usize, field: &str) -> Option<&String> {
        self.errors.get(&format!("{list}[{i}].{field}"))
    }
}

fn form_page(
    p: crate::web::page::Page,
    action: String,
    kind: RequestKind,
    direction: Direction,
    v: FormValues,
    errors: FormErrors,
) -> RequestFormPage {
    let tr = &p.tr;
    RequestFormPage {
        action,
        kind_label: tr.t(&format!("rq-kind-{}", kind.as_str())),
        article: kind.article().to_owned(),
        title: tr.t(if direction == Direction::Outgoing {
            "rq-new-outgoing"
        } else {
            "rq-new-incoming"
        }),
        v,
        errors,
        legal_bases: options(tr, "rq-basis-", &LegalBasis::ALL, |b| b.as_str()),
        categories: options(tr, "rq-category-", &DataCategory::ALL, |c| c.as_str()),
        identifier_types: IDENTIFIER_TYPES
            .iter()
            .map(|t| ((*t).to_owned(), tr.t(&format!("rq-identifier-{t}"))))
            .collect(),
        offence_rows: (0..OFFENCE_ROWS).collect(),
        data_rows: (0..DATA_ROWS).collect(),
        identifier_rows: (0..IDENTIFIER_ROWS).collect(),
        show_preservation: kind.is_preservation()
            || matches!(
                kind,
                RequestKind::MlaRealTimeTraffic | RequestKind::MlaInterception
            ),
        show_emergency: kind == RequestKind::EmergencyDisclosure,
        show_collection: matches!(
            kind,
            RequestKind::MlaRealTimeTraffic | RequestKind::MlaInterception
        ),
        follow_options: Vec::new(),
        show_received_at: false,
        received_at: String::new(),
        tr: p.tr,
        nav: p.nav,
    }
}

#[derive(Deserialize)]
pub struct NewQuery {
    kind: Option<String>,
    direction: Option<String>,
}

fn kind_and_direction(
    kind: Option<&str>,
    direction: Option<&str>,
) -> AppResult<(RequestKind, Direction)> {
    let kind = kind
        .unwrap_or("")
        .parse::<RequestKind>()
        .map_err(|e| AppError::BadRequest {
            code: e.code,
            detail: e.message,
        })?;
    let direction = match direction {
        Some("incoming") => Direction::Incoming,
        _ => Direction::Outgoing,
    };
    Ok((kind, direction))
}

pub async fn new_form(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(case_id): Path<Uuid>,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    let (kind, direction) = kind_and_direction(q.kind.as_deref(), q.direction.as_deref())?;
    let (case, access) =
        crate::cases::service::case_access(&app, &caller.principal(), case_id).await?;
    if !access.reads_content() {
        return Err(AppError::NotCaseMember);
    }
    let mut content = RequestContent {
        case_number: case.reference.to_string(),
        ..RequestContent::default()
    };
    if direction == Direction::Outgoing {
        let org = app.store.own_organisation().await?;
        content.requesting.organisation = org.name.to_string();
        content.requesting.country = Some(org.country);
        content.requesting.person = caller.user.display_name.to_string();
        content.requesting.email = caller.user.email.to_string();
    }
    let p = page(&app, &caller, locale.0, "/requests").await?;
    let action = format!(
        "/cases/{case_id}/requests?kind={}&direction={}",
        kind.as_str(),
        direction.as_str()
    );
    let mut view = form_page(
        p,
        action,
        kind,
        direction,
        FormValues::from_content(&content),
        FormErrors::default(),
    );
    view.follow_options = crate::requests::pages_clocks::follow_options(
        &app,
        &caller,
        &view.tr,
        case_id,
        kind,
        direction,
        &[],
    )
    .await?;
    view.show_received_at = direction == Direction::Incoming;
    Ok(render(&view))
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(case_id): Path<Uuid>,
    Query(q): Query<NewQuery>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let (kind, direction) = kind_and_direction(q.kind.as_deref(), q.direction.as_deref())?;
    let v = FormValues::from_pairs(&form);
    let tr = Tr::new(app.i18n.clone(), locale.0);
    let chosen = form.all("follows");
    let received_at = form.one("occurred_at");
    let errors = match parse_form(&tr, &v) {
        Ok(content) => {
            let created = match crate::requests::pages_clocks::clocks_of_form(&chosen, &received_at)
            {
                Ok(clocks) => {
                    requests::create_with(
                        &app,
                        &caller.principal(),
                        case_id,
                        kind,
                        direction,
                        content,
                        clocks,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            match created {
                Ok(r) => return Ok(see_other(&format!("/requests/{}", r.id))),
                // What it follows, or when it was received, refused.
                Err(e) => FormErrors::from_error(&tr, &e, "follows").ok_or(e)?,
            }
        }
        Err(errors) => errors,
    };
    let p = page(&app, &caller, locale.0, "/requests").await?;
    let action = format!(
        "/cases/{case_id}/requests?kind={}&direction={}",
        kind.as_str(),
        direction.as_str()
    );
    let mut view = form_page(p, action, kind, direction, v, errors);
    view.follow_options = crate::requests::pages_clocks::follow_options(
        &app, &caller, &view.tr, case_id, kind, direction, &chosen,
    )
    .await?;
    view.show_received_at = direction == Direction::Incoming;
    view.received_at = received_at;
    Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
}

pub async fn edit_form(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let r = requests::member_request(&app, &caller.principal(), id).await?;
    let p = page(&app, &caller, locale.0, "/requests").await?;
    let (errors, _) = findings_by_field(&p.tr, r.kind, &r.content);
    let mut view = form_page(
        p,
        format!("/requests/{id}/edit"),
        r.kind,
        r.direction,
        FormValues::from_content(&r.content),
        errors,
    );
    view.title = view.tr.t1("rq-edit-title", "reference", &r.reference);
    Ok(render(&view))
}

pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let v = FormValues::from_pairs(&form);
    let tr = Tr::new(app.i18n.clone(), locale.0);
    match parse_form(&tr, &v) {
        Ok(content) => {
            requests::update_content(&app, &caller.principal(), id, content).await?;
            Ok(see_other(&format!("/requests/{id}")))
        }
        Err(errors) => {
            let r = requests::member_request(&app, &caller.principal(), id).await?;
            let p = page(&app, &caller, locale.0, "/requests").await?;
            let mut view = form_page(
                p,
                format!("/requests/{id}/edit"),
                r.kind,
                r.direction,
                v,
                errors,
            );
            view.title = view.tr.t1("rq-edit-title", "reference", &r.reference);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

#[derive(Template)]
#[template(path = "requests/request.html")]
struct RequestPage {
    tr: Tr,
    nav: Nav,
    r: RequestRow,
    case_id: Uuid,
    article: String,
    editable: bool,
    findings: Vec<FindingRow>,
    has_errors: bool,
    actions: Vec<(String, String)>,
    can_refuse: bool,
    grounds: Vec<(String, String)>,
    sections: Vec<(String, Vec<(String, String)>)>,
    events: Vec<EventRow>,
    approved_digest: String,
    deadline_source: String,
    message: Option<String>,
    can_extend: bool,
    incoming: bool,
    counterpart: Option<CounterpartBox>,
    /// Peers accepting this kind, when the request can be sent to one.
    send_peers: Vec<(String, String)>,
    /// The peer holding the other side, once exchanged.
    linked_peer: String,
    clocks: crate::requests::pages_clocks::ClocksBox,
}

/// The requested country as drafting sees it.
pub struct CounterpartBox {
    country: String,
    known: bool,
    languages: String,
    channels: Vec<String>,
    bases: Vec<String>,
    /// From the knowledge repository: instruments binding both States
    /// today, what to check, the central authority, and the full helper.
    kn_instruments: Vec<String>,
    kn_warnings: Vec<String>,
    kn_authority: String,
    helper_href: String,
}

fn counterpart_box(tr: &Tr, ours: CountryCode, theirs: CountryCode) -> CounterpartBox {
    let info = entraide_domain::request::counterpart(ours, theirs);
    CounterpartBox {
        country: theirs.to_string(),
        known: info.known,
        languages: info
            .languages
            .iter()
            .map(|l| {
                let id = format!("language-{l}");
                if tr.has(&id) {
                    tr.t(&id)
                } else {
                    l.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        channels: info
            .channels
            .iter()
            .map(|c| tr.t(&format!("rq-channel-{c}")))
            .collect(),
        bases: info
            .shared_bases
            .iter()
            .map(|b| tr.t(&format!("rq-basis-{}", b.as_str())))
            .collect(),
        kn_instruments: Vec::new(),
        kn_warnings: Vec::new(),
        kn_authority: String::new(),
        helper_href: String::new(),
    }
}

/// The legal-basis helper's answer for a request being drafted.
async fn with_legal_basis(
    app: &AppState,
    tr: &Tr,
    mut b: CounterpartBox,
    ours: CountryCode,
    theirs: CountryCode,
    kind: &str,
) -> AppResult<CounterpartBox> {
    let measure = crate::knowledge::measure_for(kind);
    let q = entraide_knowledge::helper::HelperQuestion {
        requesting: ours.as_str().to_owned(),
        requested: theirs.as_str().to_owned(),
        offence: None,
        measure,
        on: time::OffsetDateTime::now_utc().date(),
    };
    let a = crate::knowledge::legal_basis(app, &q).await?;
    let lang = tr.locale.as_str();
    b.kn_instruments = a
        .instruments
        .iter()
        .filter(|i| i.binds_both)
        .map(|i| entraide_knowledge::pick(&i.title, lang).to_owned())
        .collect();
    b.kn_warnings = a
        .warnings
        .iter()
        .filter(|w| **w != "dual-criminality-unknown")
        .map(|w| tr.t(&format!("kn-warning-{w}")))
        .collect();
    b.kn_authority = a.mla.map(|m| m.central_authority).unwrap_or_default();
    b.helper_href = format!(
        "/knowledge/helper?requesting={}&requested={}&measure={}",
        ours.as_str(),
        theirs.as_str(),
        measure.map(|m| m.as_str()).unwrap_or_default()
    );
    Ok(b)
}

pub struct EventRow {
    at: String,
    /// When it really happened, when a time was given for it.
    occurred: Option<String>,
    actor: String,
    action: String,
    /// The other side's reply recorded by hand (not exchanged through
    /// Entraide).
    other_channel: Option<String>,
}

fn describe(tr: &Tr, r: &CooperationRequest) -> Vec<(String, Vec<(String, String)>)> {
    let c = &r.content;
    let contact = |x: &Contact| {
        let mut parts = vec![x.organisation.clone()];
        if let Some(cc) = x.country {
            parts.push(cc.to_string());
        }
        for s in [
            &x.person,
            &x.address,
            &x.email,
            &x.office_hours,
            &x.time_zone,
        ] {
            if !s.is_empty() {
                parts.push(s.clone());
            }
        }
        if !x.phones.is_empty() {
            parts.push(x.phones.join(", "));
        }
        parts.retain(|p| !p.is_empty());
        parts.join(" · ")
    };
    let f = |k: &str| tr.t(&format!("rq-field-{k}"));
    let mut header = vec![
        (f("case-number"), c.case_number.clone()),
        (f("requesting"), contact(&c.requesting)),
        (f("requested"), contact(&c.requested)),
        (f("domestic-legal-basis"), c.domestic_legal_basis.clone()),
        (
            f("legal-basis"),
            c.legal_basis
                .map(|b| tr.t(&format!("rq-basis-{}", b.as_str())))
                .unwrap_or_default(),
        ),
        (f("previous-reference"), c.previous_reference.clone()),
        (
            f("investigative-authority"),
            c.investigative_authority.clone(),
        ),
        (f("prosecution-office"), c.prosecution_office.clone()),
    ];
    header.retain(|(_, v)| !v.is_empty());
    let mut body = vec![
        (
            f("offences"),
            c.offences
                .iter()
                .map(|o| format!("{} ({})", o.description, o.provision))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (f("facts"), c.facts.clone()),
        (
            f("data"),
            c.data
                .iter()
                .map(|d| {
                    format!(
                        "[{}] {} — {}",
                        tr.t(&format!("rq-category-{}", d.category.as_str())),
                        d.description,
                        d.relationship_to_offence
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        (
            f("identifiers"),
            c.identifiers
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        (
            f("period-from"),
            match (c.period_from, c.period_to) {
                (None, None) => String::new(),
                (a, b) => format!(
                    "{} → {}",
                    a.map(fmt_time).unwrap_or_else(|| "…".into()),
                    b.map(fmt_time).unwrap_or_else(|| "…".into())
                ),
            },
        ),
        (f("custodian"), c.custodian.clone()),
        (f("necessity"), c.necessity.clone()),
        (
            f("mla-to-follow"),
            match c.mla_to_follow {
                Some(true) => tr.t("yes"),
                Some(false) => tr.t("no"),
                None => String::new(),
            },
        ),
        (f("emergency-facts"), c.emergency_facts.clone()),
        (f("emergency-link"), c.emergency_link.clone()),
        (
            f("collection-days"),
            c.collection_days.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (f("special-instructions"), c.special_instructions.clone()),
    ];
    body.retain(|(_, v)| !v.is_empty());
    vec![
        (tr.t("rq-section-header"), header),
        (tr.t("rq-section-body"), body),
    ]
}

async fn request_page(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    id: Uuid,
    message: Option<String>,
) -> AppResult<RequestPage> {
    let r = requests::member_request(app, &caller.principal(), id).await?;
    requests::audit_read(app, &caller.principal(), &r).await?;
    let p = page(app, caller, locale, "/requests").await?;
    let (_, findings) = findings_by_field(&p.tr, r.kind, &r.content);
    let events = app.store.request_events(id).await?;
    let roles = caller.roles();
    let link = app.store.request_link(r.id).await?;
    let send_peers: Vec<(String, String)> = if link.is_none()
        && r.direction == entraide_domain::request::Direction::Outgoing
        && r.state == entraide_domain::request::RequestState::Approved
        && roles.intersects(entraide_domain::request::Action::MarkSent.roles())
    {
        app.store
            .peers()
            .await?
            .into_iter()
            .filter(|p| p.status == entraide_federation::PeerStatus::Active)
            .filter(|p| {
                serde_json::from_str::<entraide_federation::NodeDocument>(&p.document)
                    .is_ok_and(|d| d.request_types.iter().any(|t| t == r.kind.as_str()))
            })
            .map(|p| {
                (
                    p.node_id.clone(),
                    format!("{} ({}, {})", p.organisation, p.country, p.node_id),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    // Once exchanged, only this side's own actions (the other side's reach
    // this register from its node); before, the other side's replies can
    // be recorded by hand.
    let offered = available_actions(r.kind, r.direction, r.state, r.channel());
    let actions: Vec<(String, String)> = offered
        .iter()
        .copied()
        .filter(|a| roles.intersects(a.roles()))
        .filter(|a| !matches!(a, entraide_domain::request::Action::Refuse { .. }))
        .map(|a| {
            (
                a.name().to_owned(),
                p.tr.t(&format!("rq-action-{}", a.name())),
            )
        })
        .collect();
    let can_refuse = offered
        .iter()
        .any(|a| matches!(a, entraide_domain::request::Action::Refuse { .. }))
        && roles.intersects(RoleSet::of(&[Role::Officer, Role::Approver]));
    let handles = roles.intersects(RoleSet::of(&requests::HANDLES_REQUESTS));
    let allowed: Vec<_> = offered
        .iter()
        .copied()
        .filter(|a| roles.intersects(a.roles()))
        .collect();
    let clocks =
        crate::requests::pages_clocks::clocks_box(app, &p.tr, &r, &allowed, handles).await?;
    Ok(RequestPage {
        r: request_row(&p.tr, &r),
        case_id: r.case_id,
        article: r.kind.article().to_owned(),
        editable: r.state.is_editable()
            && roles.intersects(RoleSet::of(&requests::HANDLES_REQUESTS)),
        has_errors: findings.iter().any(|f| f.error),
        findings,
        actions,
        can_refuse,
        grounds: RefusalGround::ALL
            .iter()
            .filter(|g| g.open_to(r.kind))
            .map(|g| {
                (
                    g.as_str().to_owned(),
                    p.tr.t(&format!("rq-ground-{}", g.as_str())),
                )
            })
            .collect(),
        sections: describe(&p.tr, &r),
        events: events
            .iter()
            .map(|e| EventRow {
                at: fmt_time(e.at),
                occurred: e.occurred_at.map(fmt_time),
                actor: e.actor.clone(),
                action: p.tr.t(&format!("rq-event-{}", e.action)),
                other_channel: crate::requests::service::recorded_from_other_channel(e)
                    .then(|| p.tr.t("rq-event-other-channel")),
            })
            .collect(),
        approved_digest: r.approved_digest.clone().unwrap_or_default(),
        deadline_source: r.deadline_source.clone().unwrap_or_default(),
        message,
        incoming: r.direction == Direction::Incoming,
        counterpart: match (r.direction, r.requested_country) {
            (Direction::Outgoing, Some(theirs)) => {
                let ours = app.store.own_organisation().await?.country;
                let b = counterpart_box(&p.tr, ours, theirs);
                Some(with_legal_basis(app, &p.tr, b, ours, theirs, r.kind.as_str()).await?)
            }
            _ => None,
        },
        send_peers,
        linked_peer: link.map(|(p, _)| p).unwrap_or_default(),
        can_extend: r.state.allows_extension(r.kind)
            && roles.intersects(RoleSet::of(&requests::HANDLES_REQUESTS)),
        clocks,
        tr: p.tr,
        nav: p.nav,
    })
}

pub async fn detail(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(render(
        &request_page(&app, &caller, locale.0, id, None).await?,
    ))
}

pub async fn act(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let ground = form.one("ground");
    let note = form.one("note");
    let occurred_at = form.one("occurred_at");
    let result = match requests::parse_action(
        &form.one("action"),
        Some(ground.as_str()).filter(|g| !g.is_empty()),
    )
    .and_then(|action| {
        crate::requests::clocks::parse_occurred_at(Some(occurred_at.as_str()))
            .map(|at| (action, at))
    }) {
        Ok((action, at)) => {
            requests::transition_at(
                &app,
                &caller.principal(),
                id,
                action,
                Some(note.as_str()).filter(|n| !n.is_empty()),
                at,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/requests/{id}"))),
        Err(
            err @ (AppError::Transition { .. } | AppError::Incomplete(_) | AppError::Validation(_)),
        ) => request_page_with_error(&app, &caller, locale.0, id, err).await,
        Err(e) => Err(e),
    }
}

/// The request page again, with why what was asked was refused: the
/// refused field's own message when one is named (an event time in the
/// future...), else the error's.
pub(crate) async fn request_page_with_error(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    id: Uuid,
    err: AppError,
) -> AppResult<Response> {
    let tr = Tr::new(app.i18n.clone(), locale);
    let (status, code) = err.status_and_code();
    let message = match &err {
        AppError::Validation(fields) if !fields.is_empty() => fields
            .iter()
            .map(|f| tr.error(&f.code, &f.message))
            .collect::<Vec<_>>()
            .join(" "),
        _ => tr.error(code, &err.to_string()),
    };
    Ok(render_status(
        status,
        &request_page(app, caller, locale, id, Some(message)).await?,
    ))
}

#[derive(Template)]
#[template(path = "requests/print.html")]
struct PrintPage {
    tr: Tr,
    nav: Nav,
    doc_lang: String,
    blocks: Vec<crate::requests::pdf::Block>,
}

impl PrintPage {
    fn kind(&self, b: &crate::requests::pdf::Block) -> &'static str {
        use crate::requests::pdf::Block;
        match b {
            Block::Title(_) => "title",
            Block::Subtitle(_) => "subtitle",
            Block::Heading(_) => "heading",
            Block::Field(..) => "field",
            Block::Paragraph(_) => "paragraph",
        }
    }

    fn label<'a>(&self, b: &'a crate::requests::pdf::Block) -> &'a str {
        match b {
            crate::requests::pdf::Block::Field(l, _) => l,
            _ => "",
        }
    }

    fn text<'a>(&self, b: &'a crate::requests::pdf::Block) -> &'a str {
        use crate::requests::pdf::Block;
        match b {
            Block::Title(t) | Block::Subtitle(t) | Block::Heading(t) | Block::Paragraph(t) => t,
            Block::Field(_, v) => v,
        }
    }
}

/// Sends an approved request to a peer node.
pub async fn send_to_peer(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    crate::requests::exchange::send_request(&app, &caller.principal(), id, &form.one("peer"))
        .await?;
    Ok(see_other(&format!("/requests/{id}")))
}

pub async fn extension(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let r = requests::prepare_extension(&app, &caller.principal(), id).await?;
    Ok(see_other(&format!("/requests/{}/edit", r.id)))
}

/// The formal document as a print-friendly page.
pub async fn print(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::extract::Extension<Locale>,
    Path(id): Path<Uuid>,
    Query(q): Query<requests::api::DocumentQuery>,
) -> AppResult<Response> {
    let r = requests::member_request(&app, &caller.principal(), id).await?;
    requests::audit_read(&app, &caller.principal(), &r).await?;
    let doc_locale = q
        .lang
        .as_deref()
        .and_then(Locale::parse)
        .unwrap_or_else(|| requests::document_language(r.requested_country));
    let doc_tr = Tr::new(app.i18n.clone(), doc_locale);
    let doc = requests::formal_document(&app, &doc_tr, &r).await?;
    let p = page(&app, &caller, locale.0, "/requests").await?;
    Ok(render(&PrintPage {
        doc_lang: doc_locale.as_str().to_owned(),
        blocks: doc.blocks,
        tr: p.tr,
        nav: p.nav,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use entraide_domain::request::{Action, RequestState};

    /// Every message the request pages build at run time exists in English
    /// (and therefore, by the i18n test, in French and Spanish).
    #[test]
    fn every_dynamic_message_exists() {
        let i18n = crate::app::i18n::I18n::load().unwrap();
        let mut ids: Vec<String> = Vec::new();
        ids.extend(
            RequestKind::ALL
                .iter()
                .map(|k| format!("rq-kind-{}", k.as_str())),
        );
        ids.extend(
            RequestState::ALL
                .iter()
                .map(|s| format!("rq-state-{}", s.as_str())),
        );
        ids.extend(
            RequestState::ALL
                .iter()
                .map(|s| format!("rq-state-{}", s.as_str())),
        );
        ids.extend(
            LegalBasis::ALL
                .iter()
                .map(|b| format!("rq-basis-{}", b.as_str())),
        );
        ids.extend(
            DataCategory::ALL
                .iter()
                .map(|c| format!("rq-category-{}", c.as_str())),
        );
        ids.extend(
            IDENTIFIER_TYPES
                .iter()
                .map(|t| format!("rq-identifier-{t}")),
        );
        ids.extend(
            RefusalGround::ALL
                .iter()
                .map(|g| format!("rq-ground-{}", g.as_str())),
        );
        let actions = Action::ALL;
        ids.extend(actions.iter().map(|a| format!("rq-action-{}", a.name())));
        ids.extend(actions.iter().map(|a| format!("rq-event-{}", a.name())));
        ids.extend(
            ["rq-event-drafted", "rq-event-registered", "rq-event-edited"].map(String::from),
        );
        // The clocks: what starts a deadline, the enforcing authority's
        // records and answers, and every code their refusals carry.
        use entraide_domain::request::clocks as c;
        ids.extend(
            entraide_domain::request::Trigger::ALL
                .iter()
                .map(|t| format!("rq-trigger-{}", t.as_str())),
        );
        ids.extend(
            entraide_domain::request::ObjectionEffect::ALL
                .iter()
                .map(|e| format!("rq-objection-{}", e.as_str())),
        );
        ids.extend(
            [
                "extended",
                c::NOTIFY_ENFORCING_AUTHORITY,
                c::RECORD_OBJECTION,
            ]
            .map(|a| format!("rq-event-{a}")),
        );
        let codes = [
            c::EventTimeError::NotApplicable.code(),
            c::EventTimeError::InFuture {
                at: OffsetDateTime::UNIX_EPOCH,
            }
            .code(),
            c::EventTimeError::BeforePrevious {
                at: OffsetDateTime::UNIX_EPOCH,
                previous: OffsetDateTime::UNIX_EPOCH,
            }
            .code(),
            c::FollowError::DirectionMismatch.code(),
            c::FollowError::ExtensionNeedsOnePreservation.code(),
            c::FollowError::KindMismatch {
                follower: RequestKind::MlaStoredData,
                earlier: RequestKind::MlaStoredData,
            }
            .code(),
            c::ExtensionError::NotInForce.code(),
            c::ExtensionError::Ended {
                ended: OffsetDateTime::UNIX_EPOCH,
            }
            .code(),
            c::EnforcingError::NotAnOrder.code(),
            c::EnforcingError::NotSent.code(),
            c::EnforcingError::AlreadyNotified.code(),
            c::EnforcingError::NotNotified.code(),
            c::EnforcingError::AlreadyAnswered.code(),
            "follows_not_in_case",
            "invalid_objection_effect",
        ];
        ids.extend(
            codes
                .iter()
                .map(|c| format!("error-{}", c.replace('_', "-"))),
        );
        ids.extend(
            [
                "network_24_7",
                "central_authority",
                "eu_decentralised_it_system",
            ]
            .map(|c| format!("rq-channel-{c}")),
        );
        // Labels of every field a check can name, and every check's message.
        let tr = Tr::new(std::sync::Arc::new(i18n), Locale::En);
        for kind in RequestKind::ALL {
            for f in assess(kind, &RequestContent::default()) {
                let label = field_label(&tr, &f.field);
                assert!(!label.starts_with("rq-field-"), "no label for {}", f.field);
                ids.push(format!("finding-{}", f.code.replace('_', "-")));
            }
        }
        for id in ids {
            assert_ne!(tr.t(&id), id, "missing message {id}");
        }
    }
}
