//! `entraide demo`: two nodes with sample organisations, users and cases,
//! on SQLite and local files, in a temporary (or given) directory. The
//! sample data is written by the project: fictitious people and cases.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use clap::Args;
use entraide_domain::{
    CaseReference, CaseSummary, CaseTitle, DisplayName, Email, NewPassword, Role, RoleSet,
};
use entraide_server::admin::service::create_user;
use entraide_server::app::audit::{Actor, AuditEntryExt};
use entraide_server::app::config::{NodeConfig, CONFIG_FILE};
use entraide_server::cases::service::create_case;
use entraide_server::{open_store, Node, RunningNode};
use entraide_store::Store;

use crate::node::{create_node, init_logging, InitArgs, LogFormat};
use crate::DataDir;

#[derive(Args)]
pub struct DemoArgs {
    /// First port; the second node listens on the next one. 0 picks free ports.
    #[arg(long, default_value_t = 8080)]
    pub base_port: u16,
    /// Keep the demo nodes here instead of a temporary directory (reused if present).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print the URLs and exit once both nodes answer (for scripts and tests).
    #[arg(long, hide = true)]
    pub check: bool,
}

/// The password of every demo account. The demo listens on 127.0.0.1 only.
pub const DEMO_PASSWORD: &str = "entraide-demo-2026";

struct DemoNode {
    node_id: &'static str,
    org_name: &'static str,
    org_kind: &'static str,
    country: &'static str,
    domain: &'static str,
    people: [(&'static str, &'static str, &'static [Role]); 6],
    cases: &'static [DemoCase],
}

struct DemoCase {
    reference: &'static str,
    title: &'static str,
    summary: &'static str,
    /// Local parts of the members' e-mails; the first opens the case.
    members: &'static [&'static str],
}

const FRANCE: DemoNode = DemoNode {
    node_id: "fr-pc247",
    org_name: "Point de contact 24/7 — Police nationale (démo)",
    org_kind: "point-of-contact-24-7",
    country: "FR",
    domain: "pc247.demo.example",
    people: [
        ("admin", "Claire Admin", &[Role::Administrator]),
        ("officer", "Julien Martin", &[Role::Officer]),
        ("approver", "Sophie Bernard (parquet)", &[Role::Approver]),
        ("custodian", "Karim Haddad", &[Role::Custodian]),
        ("analyst", "Léa Petit", &[Role::Analyst]),
        ("auditor", "Marc Durand", &[Role::Auditor]),
    ],
    cases: &[
        DemoCase {
            reference: "PC247-2026-0117",
            title: "Rançongiciel contre un centre hospitalier régional",
            summary: "Affaire fictive de démonstration. Fichiers d'un groupe hospitalier chiffrés le 2026-11-20 \
                      vers 03:10 UTC ; la demande de rançon renvoie à un site de fuite. Les journaux montrent un \
                      accès distant depuis une adresse hébergée à l'étranger. La conservation des données \
                      d'abonné et de trafic est urgente.",
            members: &["officer", "approver", "custodian"],
        },
        DemoCase {
            reference: "PC247-2026-0142",
            title: "Kit d'hameçonnage visant des clients bancaires",
            summary: "Affaire fictive de démonstration. Campagne de SMS renvoyant vers un faux site bancaire ; \
                      214 victimes déclarées. Le nom de domaine a été enregistré auprès d'un bureau \
                      d'enregistrement étranger.",
            members: &["officer", "analyst"],
        },
    ],
};

const ARGENTINA: DemoNode = DemoNode {
    node_id: "ar-ufeci",
    org_name: "Unidad Fiscal Especializada en Ciberdelincuencia (demo)",
    org_kind: "prosecution-service",
    country: "AR",
    domain: "ufeci.demo.example",
    people: [
        ("admin", "Martín Admin", &[Role::Administrator]),
        ("officer", "Lucía Fernández", &[Role::Officer]),
        ("approver", "Diego Romero (fiscal)", &[Role::Approver]),
        ("custodian", "Valentina Sosa", &[Role::Custodian]),
        ("analyst", "Tomás Acosta", &[Role::Analyst]),
        ("auditor", "Paula Medina", &[Role::Auditor]),
    ],
    cases: &[
        DemoCase {
            reference: "UFECI-2026-0031",
            title: "Red de sextorsión mediante cuentas de redes sociales",
            summary: "Caso ficticio de demostración. Varios menores contactados desde las mismas cuentas; \
                      pagos exigidos en criptomonedas. Los datos de las cuentas los conserva un proveedor \
                      extranjero.",
            members: &["officer", "approver"],
        },
        DemoCase {
            reference: "UFECI-2026-0045",
            title: "Fraude del CEO (BEC) contra una empresa exportadora",
            summary: "Caso ficticio de demostración. Factura desviada a una cuenta en el extranjero tras la \
                      toma de control de un buzón; USD 180.000 transferidos el 2026-10-02.",
            members: &["officer", "custodian", "analyst"],
        },
    ],
};

async fn prepare(base: &Path, demo: &DemoNode, port: u16) -> Result<PathBuf> {
    let dir = base.join(demo.node_id);
    if !dir.join(CONFIG_FILE).exists() {
        let password_file = base.join(format!("{}.password", demo.node_id));
        std::fs::write(&password_file, DEMO_PASSWORD)?;
        let created = create_node(&InitArgs {
            dir: DataDir {
                data_dir: dir.clone(),
            },
            node_id: demo.node_id.into(),
            org_name: demo.org_name.into(),
            org_kind: demo.org_kind.into(),
            country: demo.country.into(),
            database_url: None,
            admin_email: Some(format!("admin@{}", demo.domain)),
            admin_name: demo.people[0].1.into(),
            admin_password_file: Some(password_file.clone()),
        })
        .await;
        let _ = std::fs::remove_file(&password_file);
        created?;
        let settings = NodeConfig::load(&dir, std::iter::empty())?.settings(&dir)?;
        let store = open_store(&settings.database_url).await?;
        seed(store.as_ref(), demo).await?;
        let state = Node::with_store(settings, store)?.state;
        seed_requests(&state, demo).await?;
        seed_knowledge(&state).await?;
    }
    let config = NodeConfig::load(&dir, std::iter::empty())?;
    let mut config = config;
    config.listen = format!("127.0.0.1:{port}");
    // What the node document tells the other node.
    let (language, zone) = if demo.country == "FR" {
        ("fr", "Europe/Paris")
    } else {
        ("es", "America/Argentina/Buenos_Aires")
    };
    config.federation.languages = vec![language.into(), "en".into()];
    config.federation.time_zone = zone.into();
    std::fs::write(dir.join(CONFIG_FILE), config.to_toml()?)?;
    Ok(dir)
}

async fn seed(store: &dyn Store, demo: &DemoNode) -> Result<()> {
    let actor = Actor::command_line();
    let email =
        |local: &str| Email::parse(&format!("{local}@{}", demo.domain)).map_err(|e| anyhow!(e));
    for (local, name, roles) in demo.people.iter().skip(1) {
        create_user(
            store,
            &actor,
            email(local)?,
            DisplayName::parse(name).map_err(|e| anyhow!(e))?,
            NewPassword::parse(DEMO_PASSWORD).map_err(|e| anyhow!(e))?,
            RoleSet::of(roles),
        )
        .await?;
    }
    for case in demo.cases {
        let opener = store
            .user_by_email(&email(case.members[0])?)
            .await?
            .ok_or_else(|| anyhow!("demo user missing"))?;
        let opener_actor = Actor {
            id: Some(opener.id),
            label: opener.email.to_string(),
            client_ip: None,
            request_id: None,
        };
        let created = create_case(
            store,
            &opener_actor,
            opener.id,
            CaseReference::parse(case.reference).map_err(|e| anyhow!(e))?,
            CaseTitle::parse(case.title).map_err(|e| anyhow!(e))?,
            CaseSummary::parse(case.summary).map_err(|e| anyhow!(e))?,
        )
        .await?;
        for local in &case.members[1..] {
            let member = store
                .user_by_email(&email(local)?)
                .await?
                .ok_or_else(|| anyhow!("demo user missing"))?;
            let entry = opener_actor.entry(
                entraide_domain::AuditAction::CaseMemberAdded,
                entraide_domain::AuditOutcome::Success,
            );
            let entry = AuditEntryExt::target(
                AuditEntryExt::on_case(entry, created.id),
                member.email.as_str(),
            );
            store
                .add_case_member(
                    created.id,
                    member.id,
                    opener.id,
                    time::OffsetDateTime::now_utc(),
                    &entry,
                )
                .await?;
        }
    }
    Ok(())
}

async fn start(dir: &Path) -> Result<RunningNode> {
    let settings = NodeConfig::load(dir, std::env::vars())?.settings(dir)?;
    let listen = settings.listen;
    Node::new(settings).await?.start().await.with_context(|| {
        format!("cannot start the node on {listen} (is the port free? try --base-port)")
    })
}

pub async fn run(args: DemoArgs) -> Result<()> {
    if !args.check {
        init_logging(LogFormat::Text);
    }
    let temp;
    let base = match &args.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("entraide-demo-")
                .tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let second_port = if args.base_port == 0 {
        0
    } else {
        args.base_port
            .checked_add(1)
            .ok_or_else(|| anyhow!("--base-port is too high"))?
    };
    println!("Preparing the demo nodes in {} ...", base.display());
    let fr = prepare(&base, &FRANCE, args.base_port).await?;
    let ar = prepare(&base, &ARGENTINA, second_port).await?;
    let package = seed_evidence(&base, &fr, &ar).await?;
    let fr_node = start(&fr).await?;
    let ar_node = start(&ar).await?;
    peer_demo_nodes(&fr, &ar, fr_node.addr, ar_node.addr).await?;
    send_demo_request(&fr).await?;
    println!();
    println!("Entraide demo: two nodes are running.");
    for (demo, node) in [(&FRANCE, &fr_node), (&ARGENTINA, &ar_node)] {
        println!();
        println!("  {} ({}, {})", demo.org_name, demo.country, demo.node_id);
        println!("    http://{}/", node.addr);
        for (local, name, roles) in demo.people.iter() {
            let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            println!(
                "    {:<34} {:<12} {}",
                format!("{local}@{}", demo.domain),
                roles.join(","),
                name
            );
        }
    }
    println!();
    println!("  Password for every demo account: {DEMO_PASSWORD}");
    println!("  The two nodes are peers: each pinned the other's keys (Administration > Organisation, `entraide peer list`).");
    println!(
        "  A preservation request from {} has arrived at {} (officer@{}); another, approved, waits",
        FRANCE.node_id, ARGENTINA.node_id, ARGENTINA.domain
    );
    println!(
        "  to be sent from its page (officer@{}): acknowledge and answer it on the other side.",
        FRANCE.domain
    );
    println!(
        "  Evidence: case {} holds two files with their chain of custody; the package",
        FRANCE.cases[0].reference
    );
    println!(
        "  exported from it was received and verified by {} (case {}).",
        ARGENTINA.node_id, ARGENTINA.cases[1].reference
    );
    println!("  Check it offline yourself:");
    println!(
        "    entraide evidence verify {} --expect-key {}",
        package.0.display(),
        package.1
    );
    println!("  Interface in English, French and Spanish (language menu, top right).");
    if args.check {
        fr_node.stop();
        ar_node.stop();
        return Ok(());
    }
    println!("  Press Ctrl-C to stop.");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    fr_node.stop();
    ar_node.stop();
    Ok(())
}

/// Sample requests of several kinds, in several states, one due soon.
async fn seed_requests(
    state: &entraide_server::app::state::AppState,
    demo: &DemoNode,
) -> Result<()> {
    use entraide_domain::request::{Action, Direction, RequestKind};
    use entraide_server::app::principal::{Principal, RequestContext};
    use entraide_server::requests;
    let store = state.store.as_ref();
    let caller = |local: &str| {
        let email = Email::parse(&format!("{local}@{}", demo.domain)).map_err(|e| anyhow!(e));
        async move {
            let user = store
                .user_by_email(&email?)
                .await?
                .ok_or_else(|| anyhow!("demo user missing"))?;
            Ok::<_, anyhow::Error>(Principal::user(user, RequestContext::default()))
        }
    };
    let officer = caller("officer").await?;
    let approver = caller("approver").await?;
    let cases = store.cases_for_member(officer.signed_in()?.id).await?;
    let (Some(first), Some(second)) = (
        cases
            .iter()
            .find(|c| c.reference.as_str() == demo.cases[0].reference),
        cases
            .iter()
            .find(|c| c.reference.as_str() == demo.cases[1].reference),
    ) else {
        return Ok(());
    };
    let content = |v: serde_json::Value| -> Result<entraide_domain::request::RequestContent> {
        Ok(serde_json::from_value(v)?)
    };
    let fr = demo.country == "FR";
    let (other_org, other_country) = if fr {
        (
            "Unidad Fiscal Especializada en Ciberdelincuencia (demo)",
            "AR",
        )
    } else {
        ("Point de contact 24/7 — Police nationale (démo)", "FR")
    };
    let base = serde_json::json!({
        "case_number": first.reference.as_str(),
        "requesting": {
            "organisation": demo.org_name, "country": demo.country, "person": officer.signed_in()?.display_name.as_str(),
            "email": officer.signed_in()?.email.as_str(), "phones": [if fr { "+33100000000" } else { "+541100000000" }],
            "office_hours": "24/7", "time_zone": if fr { "Europe/Paris" } else { "America/Argentina/Buenos_Aires" }
        },
        "requested": {"organisation": other_org, "country": other_country},
        "domestic_legal_basis": if fr { "Code de procédure pénale, art. 60-1 et 694 et s." } else { "Código Procesal Penal Federal, art. 143" },
        "legal_basis": "budapest_convention",
        "offences": [{"description": if fr { "Accès frauduleux et extorsion" } else { "Acceso ilegítimo a sistema informático" },
                      "provision": if fr { "Code pénal, art. 323-1 et 312-1" } else { "Código Penal, art. 153 bis" }}],
        "facts": demo.cases[0].summary,
        "data": [{"category": "traffic", "description": if fr { "Journaux de connexion du compte d'hébergement" } else { "Registros de conexión de la cuenta" },
                  "relationship_to_offence": if fr { "L'adresse a servi à l'accès distant" } else { "La dirección se usó para el acceso" }}],
        "identifiers": [{"type": "ip_address", "address": "203.0.113.5", "port": 51000, "at": "2026-11-20T03:10:00Z"}],
        "period_from": "2026-11-18T00:00:00Z",
        "period_to": "2026-11-21T00:00:00Z",
        "custodian": "ExampleHost S.A.",
        "necessity": if fr { "Le fournisseur ne conserve les journaux que 30 jours." } else { "El proveedor conserva los registros 30 días." },
        "mla_to_follow": true
    });
    // A preservation that went all the way to "data preserved".
    let r = requests::create(
        state,
        &officer,
        first.id,
        RequestKind::ExpeditedPreservation,
        Direction::Outgoing,
        content(base.clone())?,
    )
    .await?;
    requests::transition(state, &officer, r.id, Action::SubmitForApproval, None).await?;
    requests::transition(state, &approver, r.id, Action::Approve, None).await?;
    for a in [
        Action::MarkSent,
        Action::Acknowledge,
        Action::ConfirmPreservation,
    ] {
        requests::transition(state, &officer, r.id, a, None).await?;
    }
    // Two approved preservations for the other demo node: one is sent when
    // the nodes start (it arrives there), one waits for you to send it.
    if fr {
        for _ in 0..2 {
            let r = requests::create(
                state,
                &officer,
                first.id,
                RequestKind::ExpeditedPreservation,
                Direction::Outgoing,
                content(base.clone())?,
            )
            .await?;
            requests::transition(state, &officer, r.id, Action::SubmitForApproval, None).await?;
            requests::transition(state, &approver, r.id, Action::Approve, None).await?;
        }
    }
    // An MLA request awaiting the approver.
    let mut mla = base.clone();
    mla["mla_to_follow"] = serde_json::Value::Null;
    mla["necessity"] = serde_json::Value::String(String::new());
    let r = requests::create(
        state,
        &officer,
        first.id,
        RequestKind::MlaStoredData,
        Direction::Outgoing,
        content(mla)?,
    )
    .await?;
    requests::transition(state, &officer, r.id, Action::SubmitForApproval, None).await?;
    // A draft still missing content: the checks show what.
    let draft = serde_json::json!({"facts": demo.cases[1].summary, "requested": {"organisation": "ExampleSocial Inc."}});
    requests::create(
        state,
        &officer,
        second.id,
        RequestKind::SubscriberInformation,
        Direction::Outgoing,
        content(draft)?,
    )
    .await?;
    // A received emergency request: eight hours to answer.
    let emergency = serde_json::json!({
        "requesting": {"organisation": if fr { "Police fédérale belge (démo)" } else { "Policía Federal de Brasil (demo)" },
                       "country": if fr { "BE" } else { "BR" }, "time_zone": if fr { "Europe/Brussels" } else { "America/Sao_Paulo" }},
        "legal_basis": if fr { "eu_regulation_2023_1543" } else { "second_additional_protocol" },
        "emergency_facts": if fr { "Menace de passage à l'acte suicidaire publiée cette nuit." } else { "Amenaza de suicidio publicada esta noche." },
        "emergency_link": if fr { "Les données d'abonné permettent de localiser la personne." } else { "Los datos del suscriptor permiten ubicar a la persona." }
    });
    let r = requests::create(
        state,
        &officer,
        second.id,
        RequestKind::EmergencyDisclosure,
        Direction::Incoming,
        content(emergency)?,
    )
    .await?;
    requests::transition(state, &officer, r.id, Action::Acknowledge, None).await?;
    Ok(())
}

/// Demo evidence: two files written by the project, ingested into the first
/// French case with their acquisition details, downloaded once, exported as
/// a package kept in the demo directory, and received (verified) by the
/// Argentine node. Done once; returns the package and the key fingerprint.
async fn seed_evidence(base: &Path, fr: &Path, ar: &Path) -> Result<(PathBuf, String)> {
    use entraide_domain::evidence::CustodyEventKind;
    use entraide_server::app::principal::{Principal, RequestContext};
    use entraide_server::evidence::{self, CustodyActor, EvidenceInput};

    let package = base.join("demo-evidence-package.zip");
    let state = |dir: PathBuf| async move {
        let settings = NodeConfig::load(&dir, std::iter::empty())?.settings(&dir)?;
        let store = open_store(&settings.database_url).await?;
        Ok::<_, anyhow::Error>(Node::with_store(settings, store)?.state)
    };
    let fr_state = state(fr.to_path_buf()).await?;
    let fingerprint = fr_state.custody.key().fingerprint();
    if package.exists() {
        return Ok((package, fingerprint));
    }
    let ar_state = state(ar.to_path_buf()).await?;
    let actor = |st: &entraide_server::app::state::AppState, email: String| {
        let store = st.store.clone();
        async move {
            let user = store
                .user_by_email(&Email::parse(&email).map_err(|e| anyhow!(e))?)
                .await?
                .ok_or_else(|| anyhow!("demo user missing"))?;
            Ok::<_, anyhow::Error>(Principal::user(user, RequestContext::default()))
        }
    };
    let case_of = |st: &entraide_server::app::state::AppState, reference: &'static str| {
        let store = st.store.clone();
        async move {
            store
                .all_cases()
                .await?
                .into_iter()
                .find(|c| c.reference.as_str() == reference)
                .ok_or_else(|| anyhow!("demo case {reference} missing"))
        }
    };
    let custodian = actor(&fr_state, format!("custodian@{}", FRANCE.domain)).await?;
    let case = case_of(&fr_state, FRANCE.cases[0].reference).await?;
    let files: [(&str, &str, &str, &str, String); 2] = [
        (
            "note-de-rancon.txt",
            "Note de rançon trouvée sur le serveur de fichiers (texte fictif de démonstration)",
            "seized_device",
            "PC247-117-S1",
            "VOS FICHIERS SONT CHIFFRÉS.\nTexte fictif écrit pour la démonstration d'Entraide.\n\
             Identifiant de victime : DEMO-0000-0000.\n"
                .repeat(20),
        ),
        (
            "journal-vpn-extrait.csv",
            "Extrait des journaux de la passerelle VPN, 18-20 novembre 2026 (données fictives)",
            "provider_production",
            "PC247-117-S2",
            (0..400)
                .map(|i| {
                    format!(
                        "2026-11-{:02}T{:02}:{:02}:00Z,203.0.113.{},51000,compte-demo-{},{}\n",
                        18 + i % 3,
                        i % 24,
                        i % 60,
                        i % 250,
                        i % 7,
                        if i % 11 == 0 { "refused" } else { "accepted" }
                    )
                })
                .collect(),
        ),
    ];
    for (name, description, source, exhibit, content) in files {
        let details = EvidenceInput {
            file_name: name.into(),
            description: description.into(),
            source: source.into(),
            acquired_at: Some(time::macros::datetime!(2026-11-20 09:30 UTC)),
            acquired_place: "Centre hospitalier régional (démo), salle serveurs".into(),
            performer: "Karim Haddad, technicien en investigation criminelle".into(),
            authorisation: "Réquisition judiciaire 2026/117-R3 (démo)".into(),
            exhibit_number: exhibit.into(),
            legacy_hashes: true,
        }
        .parse()
        .map_err(|e| anyhow!("demo evidence: {e}"))?;
        let ingested =
            evidence::ingest_blocking(&fr_state, std::io::Cursor::new(content.into_bytes()), true)
                .await
                .map_err(|e| anyhow!("demo evidence: {e}"))?;
        let item = evidence::record_new_item(
            &fr_state,
            &case,
            &CustodyActor::of(&custodian),
            details,
            &ingested,
        )
        .await
        .map_err(|e| anyhow!("demo evidence: {e}"))?;
        evidence::open_content(&fr_state, &custodian, item.id, CustodyEventKind::Downloaded)
            .await
            .map_err(|e| anyhow!("demo evidence: {e}"))?;
    }
    let built = evidence::export_package(&fr_state, &case, &CustodyActor::of(&custodian), &[])
        .await
        .map_err(|e| anyhow!("demo evidence: {e}"))?;
    std::fs::copy(&built.path, &package)?;
    let _ = std::fs::remove_file(&built.path);
    let ar_custodian = actor(&ar_state, format!("custodian@{}", ARGENTINA.domain)).await?;
    let ar_case = case_of(&ar_state, ARGENTINA.cases[1].reference).await?;
    let (report, _) = evidence::import_package(
        &ar_state,
        &ar_case,
        &CustodyActor::of(&ar_custodian),
        &package,
        "demo-evidence-package.zip",
    )
    .await
    .map_err(|e| anyhow!("demo evidence: {e}"))?;
    if !report.holds() {
        return Err(anyhow!(
            "the demo package does not verify:\n{}",
            report.to_text()
        ));
    }
    fr_state
        .custody
        .sign_tree_head(&fr_state.store, false)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    Ok((package, fingerprint))
}

/// Each demo node adds the other as a peer over HTTP, checking the other's
/// signing-key fingerprint, as operators would (once).
async fn peer_demo_nodes(
    fr: &Path,
    ar: &Path,
    fr_addr: std::net::SocketAddr,
    ar_addr: std::net::SocketAddr,
) -> Result<()> {
    let state = |dir: PathBuf| async move {
        let settings = NodeConfig::load(&dir, std::iter::empty())?.settings(&dir)?;
        let store = open_store(&settings.database_url).await?;
        Ok::<_, anyhow::Error>(Node::with_store(settings, store)?.state)
    };
    let fr_state = state(fr.to_path_buf()).await?;
    let ar_state = state(ar.to_path_buf()).await?;
    for (me, other, other_addr) in [
        (&fr_state, &ar_state, ar_addr),
        (&ar_state, &fr_state, fr_addr),
    ] {
        let other_id = other.settings.node_id.to_string();
        if me.store.peer(&other_id).await?.is_some() {
            continue;
        }
        entraide_server::federation::peers::add_peer(
            me,
            &Actor::command_line(),
            &format!("http://{other_addr}"),
            &other
                .identity
                .federation_key(time::OffsetDateTime::now_utc())
                .fingerprint(),
        )
        .await
        .map_err(|e| anyhow!("demo peering: {e}"))?;
    }
    Ok(())
}

/// Sends the first approved, unsent demo request to the Argentine node
/// (once: later runs find it sent).
async fn send_demo_request(fr: &Path) -> Result<()> {
    use entraide_domain::request::{Direction, RequestState};
    use entraide_server::app::principal::{Principal, RequestContext};
    let settings = NodeConfig::load(fr, std::iter::empty())?.settings(fr)?;
    let store = open_store(&settings.database_url).await?;
    let state = Node::with_store(settings, store)?.state;
    let user = state
        .store
        .user_by_email(
            &Email::parse(&format!("officer@{}", FRANCE.domain)).map_err(|e| anyhow!(e))?,
        )
        .await?
        .ok_or_else(|| anyhow!("demo officer missing"))?;
    let filter = entraide_store::RequestFilter {
        limit: 100,
        ..Default::default()
    };
    let mut approved: Vec<_> = state
        .store
        .all_requests(&filter)
        .await?
        .into_iter()
        .filter(|r| r.direction == Direction::Outgoing && r.state == RequestState::Approved)
        .collect();
    approved.sort_by_key(|r| r.created_at);
    let sent_before = state
        .store
        .outbox(100)
        .await?
        .iter()
        .any(|m| m.message_type == entraide_federation::MessageKind::Request);
    if sent_before {
        return Ok(());
    }
    if let Some(r) = approved.first() {
        let officer = Principal::user(user, RequestContext::default());
        entraide_server::requests::exchange::send_request(
            &state,
            &officer,
            r.id,
            ARGENTINA.node_id,
        )
        .await
        .map_err(|e| anyhow!("demo request: {e}"))?;
    }
    Ok(())
}

/// The project's own starter content (treaties and their parties, country
/// profiles, offence taxonomy, case law, good practices), built in.
const STARTER: [(&str, &str); 5] = [
    (
        "treaties.json",
        include_str!("../../../data/knowledge/treaties.json"),
    ),
    (
        "countries.json",
        include_str!("../../../data/knowledge/countries.json"),
    ),
    (
        "offences.json",
        include_str!("../../../data/knowledge/offences.json"),
    ),
    (
        "case-law.json",
        include_str!("../../../data/knowledge/case-law.json"),
    ),
    (
        "practices.json",
        include_str!("../../../data/knowledge/practices.json"),
    ),
];

/// Laws from `shared/corpus/` loaded by the demo when it is beside the
/// repository (third-party texts: read from there, never copied here).
const DEMO_LAWS: [&str; 9] = [
    "fr/LEGITEXT000006070719.md",
    "fr/LEGITEXT000006071154.md",
    "fr/LEGITEXT000006070987.md",
    "uk/ukpga-1990-18.md",
    "us/USC-T18-S1030.md",
    "eu/32023R1543.md",
    "intl/ets185-budapest-convention.md",
    "ar/LEY-11179.md",
    "ar/LEY-27411.md",
];

fn corpus_dir() -> Option<PathBuf> {
    [
        PathBuf::from("../shared/corpus"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
}

async fn seed_knowledge(state: &entraide_server::app::state::AppState) -> Result<()> {
    use entraide_server::knowledge::{self, ImportFile};
    let mut files: Vec<ImportFile> = STARTER
        .iter()
        .map(|(name, text)| ImportFile {
            name: (*name).to_owned(),
            text: (*text).to_owned(),
        })
        .collect();
    if let Some(corpus) = corpus_dir() {
        for law in DEMO_LAWS {
            let path = corpus.join(law);
            if let Ok(text) = std::fs::read_to_string(&path) {
                files.push(ImportFile {
                    name: law.to_owned(),
                    text,
                });
            }
        }
    }
    knowledge::import(state, files, knowledge::operator_audit)
        .await
        .map_err(|e| anyhow!("demo knowledge: {e}"))?;
    Ok(())
}
