//! `entraide peer add|list|disable|enable|remove|refresh`: the other nodes
//! this node knows. Adding fetches the peer's signed node document and pins
//! its keys only if its signing key has the fingerprint given out of band;
//! refreshing reads it again (the peer moved, or rotated its keys) and
//! accepts it only if signed by the key pinned for it.

use anyhow::{anyhow, Context, Result};
use clap::Subcommand;
use entraide_federation::PeerStatus;
use entraide_server::app::audit::Actor;
use entraide_server::app::config::NodeConfig;
use entraide_server::federation::{peers, refresh};
use entraide_server::{open_store, Node};

use crate::DataDir;

#[derive(Subcommand)]
pub enum PeerCommand {
    /// Add a peer: fetch its node document from URL and pin its keys if its
    /// signing key has FINGERPRINT (obtained from its operator by another
    /// channel).
    Add {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        url: String,
        #[arg(long)]
        fingerprint: String,
    },
    /// List peers.
    List {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        json: bool,
    },
    /// Stop exchanging with a peer (its keys stay pinned).
    Disable {
        #[command(flatten)]
        dir: DataDir,
        node_id: String,
    },
    /// Exchange with a disabled peer again.
    Enable {
        #[command(flatten)]
        dir: DataDir,
        node_id: String,
    },
    /// Forget a peer and its keys.
    Remove {
        #[command(flatten)]
        dir: DataDir,
        node_id: String,
    },
    /// Read a peer's node document again and update its address,
    /// organisation and keys: from --url when the peer has moved, else from
    /// the address known for it. The document must be signed by the key
    /// pinned for the peer (or by the key it announced it moves to, signed
    /// by the pinned one) and describe the same node; anything else is
    /// refused and nothing changes. Messages waiting for the peer are tried
    /// again at once.
    Refresh {
        #[command(flatten)]
        dir: DataDir,
        node_id: String,
        /// The peer's new address (its `public_url`).
        #[arg(long)]
        url: Option<String>,
    },
    /// This node's identity: the fingerprints to give to peers, and the
    /// address its node document announces to them — `public_url` in
    /// entraide.toml (or ENTRAIDE_PUBLIC_URL), else the address it listens
    /// on. Peers record that address when they add this node and send to it
    /// from then on: set `public_url` to the address they can reach (behind
    /// a reverse proxy, the proxy's https:// address).
    Identity {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Replace the node's signing key: the old one keeps signing towards
    /// peers for the overlap while every active peer is told the new one
    /// (signed by the old key, proven by the new); restart the node after.
    RotateKey {
        #[command(flatten)]
        dir: DataDir,
        /// How long peers have to learn the new key.
        #[arg(long, default_value_t = 72)]
        overlap_hours: u32,
    },
}

fn one_line(e: entraide_server::app::error::AppError) -> anyhow::Error {
    use entraide_server::app::error::AppError;
    let join = |lines: Vec<String>| lines.join("; ");
    match &e {
        AppError::Validation(errors) => anyhow!(
            "{}",
            join(
                errors
                    .iter()
                    .map(|f| format!("--{}: {}", f.field, f.message))
                    .collect()
            )
        ),
        // Each field of the peer's document refused, as the document names it.
        AppError::PeerDocumentInvalid(errors) => anyhow!(
            "{e}: {}",
            join(
                errors
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect()
            )
        ),
        _ => anyhow!("{e}"),
    }
}

pub async fn run(cmd: PeerCommand) -> Result<()> {
    let dir = match &cmd {
        PeerCommand::Add { dir, .. }
        | PeerCommand::List { dir, .. }
        | PeerCommand::Disable { dir, .. }
        | PeerCommand::Enable { dir, .. }
        | PeerCommand::Remove { dir, .. }
        | PeerCommand::Refresh { dir, .. }
        | PeerCommand::Identity { dir }
        | PeerCommand::RotateKey { dir, .. } => dir.data_dir.clone(),
    };
    if let PeerCommand::RotateKey { overlap_hours, .. } = &cmd {
        if !(1..=24 * 30).contains(overlap_hours) {
            anyhow::bail!("--overlap-hours must be between 1 and 720");
        }
        entraide_federation::NodeIdentity::rotate(
            &dir,
            time::Duration::hours(i64::from(*overlap_hours)),
        )?;
    }
    let settings = NodeConfig::load(&dir, std::env::vars())?.settings(&dir)?;
    let store = open_store(&settings.database_url)
        .await
        .context("cannot open the database")?;
    let app = Node::with_store(settings, store)?.state;
    let actor = Actor::command_line();
    match cmd {
        PeerCommand::Add {
            url, fingerprint, ..
        } => {
            let peer = peers::add_peer(&app, &actor, &url, &fingerprint)
                .await
                .map_err(one_line)?;
            println!(
                "peer {} added: {} ({}, {}), {}",
                peer.node_id, peer.organisation, peer.country, peer.kind, peer.base_url
            );
            println!("pinned signing key {}", peer.signing_fingerprint);
        }
        PeerCommand::List { json, .. } => {
            for p in app.store.peers().await? {
                if json {
                    println!("{}", serde_json::to_string(&peers::peer_view(&p))?);
                } else {
                    println!(
                        "{:<20} {:<9} {:<3} {:<28} {}  {}",
                        p.node_id, p.status, p.country, p.kind, p.base_url, p.signing_fingerprint
                    );
                }
            }
        }
        PeerCommand::Disable { node_id, .. } => {
            peers::set_status(&app, &actor, &node_id, PeerStatus::Disabled)
                .await
                .map_err(one_line)?;
            println!("peer {node_id} disabled");
        }
        PeerCommand::Enable { node_id, .. } => {
            peers::set_status(&app, &actor, &node_id, PeerStatus::Active)
                .await
                .map_err(one_line)?;
            println!("peer {node_id} enabled");
        }
        PeerCommand::Remove { node_id, .. } => {
            peers::remove(&app, &actor, &node_id)
                .await
                .map_err(one_line)?;
            println!("peer {node_id} removed");
        }
        PeerCommand::Refresh { node_id, url, .. } => {
            let done = refresh::refresh_peer(&app, &actor, &node_id, url.as_deref())
                .await
                .map_err(one_line)?;
            let p = &done.peer;
            println!(
                "peer {} refreshed: {} ({}, {}), {}",
                p.node_id, p.organisation, p.country, p.kind, p.base_url
            );
            if done.previous_url != p.base_url {
                println!("address changed from {}", done.previous_url);
            }
            if done.previous_fingerprint != p.signing_fingerprint {
                println!(
                    "signing key {} (it replaces {}, as the peer announced)",
                    p.signing_fingerprint, done.previous_fingerprint
                );
            } else {
                println!("pinned signing key {}", p.signing_fingerprint);
            }
        }
        PeerCommand::RotateKey { .. } => {
            let told = peers::announce_rotation(&app, &actor)
                .await
                .map_err(one_line)?;
            println!(
                "new signing key {} (the previous one signs towards peers until the overlap ends)",
                app.identity.signing_public().fingerprint()
            );
            println!("{told} peers are being told; restart the node to load the new key");
        }
        PeerCommand::Identity { .. } => {
            println!("node {}", app.settings.node_id);
            println!(
                "address peers use          {}{}",
                peers::base_url(&app),
                if app.settings.public_url.is_some() {
                    ""
                } else {
                    " (public_url is not set: the address the node listens on)"
                }
            );
            println!(
                "signing key fingerprint    {}",
                app.identity
                    .federation_key(time::OffsetDateTime::now_utc())
                    .fingerprint()
            );
            if let Some((_, until)) = app.identity.rotation(time::OffsetDateTime::now_utc()) {
                println!(
                    "rotating: from {until} the key of fingerprint {} signs",
                    app.identity.signing_public().fingerprint()
                );
            }
            println!(
                "encryption key fingerprint {}",
                app.identity.encryption_fingerprint()
            );
        }
    }
    Ok(())
}
