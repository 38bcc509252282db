//! `init`, `serve`, `user` and `token`: thin wrappers over the operations
//! of the server's `account` and `admin` services.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use entraide_domain::{
    CountryCode, DisplayName, Email, NewPassword, NodeId, OrganisationKind, OrganisationName,
    RoleSet,
};
use entraide_server::account::service as account;
use entraide_server::admin::service::{self as admin, NewNode};
use entraide_server::app::audit::Actor;
use entraide_server::app::config::{resolve_database_url, NodeConfig, Settings, CONFIG_FILE};
use entraide_server::{open_store, Node};
use entraide_store::Store;

use crate::DataDir;

#[derive(Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub dir: DataDir,
    /// Identifier of this node: lower-case letters, digits, hyphens (e.g. fr-pc247).
    #[arg(long)]
    pub node_id: String,
    /// Official name of the organisation running the node.
    #[arg(long)]
    pub org_name: String,
    /// central-authority, point-of-contact-24-7, prosecution-service, police-cyber-unit,
    /// court, forensic-laboratory, service-provider, cert, international-organisation,
    /// reporting-hotline.
    #[arg(long)]
    pub org_kind: String,
    /// ISO 3166-1 alpha-2 country code (FR, AR, GB...).
    #[arg(long)]
    pub country: String,
    /// sqlite://FILE (default: entraide.db in the data directory) or postgres://...
    #[arg(long)]
    pub database_url: Option<String>,
    /// E-mail of the first administrator (default: admin@NODE-ID.invalid).
    #[arg(long)]
    pub admin_email: Option<String>,
    /// Name of the first administrator.
    #[arg(long, default_value = "Administrator")]
    pub admin_name: String,
    /// File holding the administrator's password; one is generated and printed once if absent.
    #[arg(long)]
    pub admin_password_file: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub dir: DataDir,
    /// Address to listen on (overrides the configuration), e.g. 127.0.0.1:8080.
    #[arg(long)]
    pub listen: Option<String>,
    #[arg(long, value_enum, default_value = "text", env = "ENTRAIDE_LOG_FORMAT")]
    pub log_format: LogFormat,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user; a password is generated and printed once if no file is given.
    Add {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Comma-separated: administrator, officer, approver, custodian, analyst, auditor.
        #[arg(long)]
        roles: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List users.
    List {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Disable a user and end their sessions.
    Disable {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled user.
    Enable {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        email: String,
    },
    /// Reset a user's password: a temporary one is generated and printed
    /// once (or read from a file); the user must choose a new one at next
    /// sign-in. Ends their sessions; their API tokens keep working.
    ResetPassword {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        email: String,
        /// File holding the password to set (first line).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Remove a user's second factor: they enrol again at next sign-in
    /// where the organisation requires one. Ends their sessions.
    ResetSecondFactor {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API bearer token for a user; the secret is printed once.
    Create {
        #[command(flatten)]
        dir: DataDir,
        /// E-mail of the user the token acts for.
        #[arg(long)]
        user: String,
        /// A label to recognise the token by.
        #[arg(long)]
        name: String,
    },
    /// List a user's tokens.
    List {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        user: String,
    },
    /// Revoke a token by its id.
    Revoke {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        id: uuid::Uuid,
    },
}

pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn read_password(file: Option<&Path>) -> Result<(NewPassword, bool)> {
    match file {
        Some(path) => {
            let text = fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let line = text.lines().next().unwrap_or_default();
            Ok((
                NewPassword::parse(line).map_err(|e| anyhow!("{}: {}", path.display(), e))?,
                false,
            ))
        }
        None => Ok((
            NewPassword::parse(&generate_password()).map_err(|e| anyhow!(e))?,
            true,
        )),
    }
}

fn load_settings(dir: &Path) -> Result<Settings> {
    let config = NodeConfig::load(dir, std::env::vars())?;
    Ok(config.settings(dir)?)
}

async fn open(dir: &Path) -> Result<(Settings, Arc<dyn Store>)> {
    let settings = load_settings(dir)?;
    let store = open_store(&settings.database_url)
        .await
        .context("cannot open the database")?;
    Ok((settings, store))
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set permissions on {}", path.display()))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

pub struct Initialised {
    pub admin_email: Email,
    pub admin_password: Option<String>,
}

/// Creates a node in `dir`. On failure, whatever this call created is
/// removed again: a failed `init` leaves no half-made node behind.
pub async fn create_node(args: &InitArgs) -> Result<Initialised> {
    let node_id = NodeId::parse(&args.node_id).map_err(|e| anyhow!("--node-id: {e}"))?;
    let org_name =
        OrganisationName::parse(&args.org_name).map_err(|e| anyhow!("--org-name: {e}"))?;
    let org_kind: OrganisationKind = args
        .org_kind
        .parse()
        .map_err(|e| anyhow!("--org-kind: {e}"))?;
    let country = CountryCode::parse(&args.country).map_err(|e| anyhow!("--country: {e}"))?;
    let admin_email = match &args.admin_email {
        Some(e) => Email::parse(e).map_err(|e| anyhow!("--admin-email: {e}"))?,
        None => Email::parse(&format!("admin@{node_id}.invalid")).map_err(|e| anyhow!(e))?,
    };
    let admin_name =
        DisplayName::parse(&args.admin_name).map_err(|e| anyhow!("--admin-name: {e}"))?;
    let (password, generated) = read_password(args.admin_password_file.as_deref())?;
    let shown = generated.then(|| password.expose().to_owned());

    let dir = &args.dir.data_dir;
    let config_path = dir.join(CONFIG_FILE);
    if config_path.exists() {
        bail!(
            "{} already holds a node ({} exists); refusing to overwrite it",
            dir.display(),
            CONFIG_FILE
        );
    }
    let created_dir = !dir.exists();
    let mut created: Vec<PathBuf> = Vec::new();
    let result = async {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        restrict(dir, 0o700)?;
        let config = NodeConfig::new(&node_id, args.database_url.clone());
        let database_url = resolve_database_url(&config.database_url, dir)?;
        for sub in ["keys", "blobs"] {
            let path = dir.join(sub);
            if !path.exists() {
                fs::create_dir_all(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                created.push(path.clone());
            }
            restrict(&path, 0o700)?;
        }
        // The node's Ed25519 signing key (custody tree heads, packages).
        let key_path = dir.join(entraide_server::evidence::NODE_KEY_FILE);
        if !key_path.exists() {
            created.push(key_path.clone());
        }
        entraide_evidence::NodeKey::load_or_create(&key_path)?;
        if let Some(db) = database_url.strip_prefix("sqlite://") {
            for suffix in ["", "-wal", "-shm"] {
                created.push(PathBuf::from(format!("{db}{suffix}")));
            }
        }
        let store = open_store(&database_url)
            .await
            .context("cannot open the database")?;
        admin::initialise_node(
            store.as_ref(),
            NewNode {
                node_id: node_id.clone(),
                org_name,
                org_kind,
                country,
                admin_email: admin_email.clone(),
                admin_name,
                admin_password: password,
            },
        )
        .await?;
        // The configuration is written last, atomically: its presence
        // means the node is complete.
        let tmp = dir.join(format!("{CONFIG_FILE}.tmp"));
        created.push(tmp.clone());
        {
            let mut f = fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            f.write_all(config.to_toml()?.as_bytes())?;
            f.sync_all()?;
        }
        restrict(&tmp, 0o600)?;
        fs::rename(&tmp, &config_path)
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        Ok::<(), anyhow::Error>(())
    }
    .await;
    if let Err(e) = result {
        if created_dir {
            let _ = fs::remove_dir_all(dir);
        } else {
            for path in created.iter().rev() {
                let _ = if path.is_dir() {
                    fs::remove_dir_all(path)
                } else {
                    fs::remove_file(path)
                };
            }
        }
        return Err(e);
    }
    Ok(Initialised {
        admin_email,
        admin_password: shown,
    })
}

pub async fn init(args: InitArgs) -> Result<()> {
    let done = create_node(&args).await?;
    println!(
        "Node {} created in {}",
        args.node_id,
        args.dir.data_dir.display()
    );
    println!("Administrator: {}", done.admin_email);
    if let Ok(key) = entraide_evidence::NodeKey::load(
        &args
            .dir
            .data_dir
            .join(entraide_server::evidence::NODE_KEY_FILE),
    ) {
        println!(
            "Signing key fingerprint (give it to your peers by another channel): {}",
            key.fingerprint()
        );
    }
    if let Some(p) = done.admin_password {
        println!("Password (shown once, write it down): {p}");
    }
    println!(
        "Start it with: entraide serve --data-dir {}",
        args.dir.data_dir.display()
    );
    Ok(())
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ENTRAIDE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tantivy=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

pub async fn serve(args: ServeArgs) -> Result<()> {
    init_logging(args.log_format);
    let dir = &args.dir.data_dir;
    let mut settings = load_settings(dir)?;
    if let Some(listen) = &args.listen {
        settings.listen = listen
            .parse()
            .map_err(|_| anyhow!("--listen: '{listen}' is not an address like 127.0.0.1:8080"))?;
    }
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let node = Node::new(settings).await?;
    let running = node.start().await?;
    tracing::info!(address = %running.addr, "node listening");
    println!("Entraide node listening on {scheme}://{}", running.addr);
    if let Some(metrics) = running.metrics_addr {
        tracing::info!(address = %metrics, "metrics listening");
        println!("Metrics on http://{metrics}/metrics");
    }
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    println!("Stopping.");
    running.stop();
    Ok(())
}

pub async fn user(cmd: UserCommand) -> Result<()> {
    match cmd {
        UserCommand::Add {
            dir,
            email,
            name,
            roles,
            password_file,
        } => {
            let email = Email::parse(&email).map_err(|e| anyhow!("--email: {e}"))?;
            let name = DisplayName::parse(&name).map_err(|e| anyhow!("--name: {e}"))?;
            let roles = RoleSet::parse_list(&roles).map_err(|e| anyhow!("--roles: {e}"))?;
            if roles.is_empty() {
                bail!("--roles: give at least one role");
            }
            let (password, generated) = read_password(password_file.as_deref())?;
            let shown = generated.then(|| password.expose().to_owned());
            let (_, store) = open(&dir.data_dir).await?;
            admin::create_user(
                store.as_ref(),
                &Actor::command_line(),
                email.clone(),
                name,
                password,
                roles,
            )
            .await?;
            println!("User {email} added with roles {}", roles.to_list());
            if let Some(p) = shown {
                println!("Password (shown once): {p}");
            }
        }
        UserCommand::List { dir } => {
            let (_, store) = open(&dir.data_dir).await?;
            println!("{:<36}  {:<32}  {:<40}  STATUS", "EMAIL", "NAME", "ROLES");
            for u in store.list_users().await? {
                let status = match (u.disabled, u.must_change_password) {
                    (true, _) => "disabled",
                    (false, true) => "active, must choose a new password",
                    (false, false) => "active",
                };
                println!(
                    "{:<36}  {:<32}  {:<40}  {status}",
                    u.email,
                    u.display_name,
                    u.roles.to_list()
                );
            }
        }
        UserCommand::Disable { dir, email } => set_disabled(&dir, &email, true).await?,
        UserCommand::Enable { dir, email } => set_disabled(&dir, &email, false).await?,
        UserCommand::ResetPassword {
            dir,
            email,
            password_file,
        } => {
            let chosen = match password_file.as_deref() {
                Some(path) => Some(read_password(Some(path))?.0),
                None => None,
            };
            let (_, store) = open(&dir.data_dir).await?;
            let user = find_user(store.as_ref(), &email).await?;
            let temporary = entraide_server::admin::resets::reset_password(
                store.as_ref(),
                &Actor::command_line(),
                user.id,
                chosen,
            )
            .await?;
            println!(
                "Password of {} reset: a new one must be chosen at next sign-in; sessions ended",
                user.email
            );
            if let Some(p) = temporary {
                println!("Temporary password (shown once): {p}");
            }
        }
        UserCommand::ResetSecondFactor { dir, email } => {
            let (_, store) = open(&dir.data_dir).await?;
            let user = find_user(store.as_ref(), &email).await?;
            entraide_server::admin::resets::reset_second_factor(
                store.as_ref(),
                &Actor::command_line(),
                user.id,
            )
            .await?;
            println!(
                "Second factor of {} removed: they enrol again at next sign-in where one is required; sessions ended",
                user.email
            );
        }
    }
    Ok(())
}

async fn find_user(store: &dyn Store, email: &str) -> Result<entraide_store::User> {
    let email = Email::parse(email).map_err(|e| anyhow!("{e}"))?;
    store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| anyhow!("no user with e-mail {email}"))
}

async fn set_disabled(dir: &DataDir, email: &str, disabled: bool) -> Result<()> {
    let (_, store) = open(&dir.data_dir).await?;
    let user = find_user(store.as_ref(), email).await?;
    admin::set_disabled(store.as_ref(), &Actor::command_line(), user.id, disabled).await?;
    println!(
        "{} is now {}",
        user.email,
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(())
}

pub async fn token(cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Create { dir, user, name } => {
            let (_, store) = open(&dir.data_dir).await?;
            let user = find_user(store.as_ref(), &user).await?;
            let (token, secret) =
                account::create_token(store.as_ref(), &Actor::command_line(), user.id, &name)
                    .await?;
            println!(
                "Token {} ({}) created for {}",
                token.id, token.name, user.email
            );
            println!("Secret (shown once): {secret}");
        }
        TokenCommand::List { dir, user } => {
            let (_, store) = open(&dir.data_dir).await?;
            let user = find_user(store.as_ref(), &user).await?;
            println!(
                "{:<36}  {:<30}  {:<7}  {:<20}  FROM",
                "ID", "NAME", "STATUS", "LAST USED (UTC)"
            );
            for t in store.tokens_for_user(user.id).await? {
                let status = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let last_used = t
                    .last_used_at
                    .map(|at| {
                        format!(
                            "{} {:02}:{:02}",
                            at.date(),
                            at.time().hour(),
                            at.time().minute()
                        )
                    })
                    .unwrap_or_else(|| "never".into());
                let from = [t.last_used_from, t.last_used_agent]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                println!(
                    "{:<36}  {:<30}  {status:<7}  {last_used:<20}  {from}",
                    t.id, t.name
                );
            }
        }
        TokenCommand::Revoke { dir, id } => {
            let (_, store) = open(&dir.data_dir).await?;
            let token = store
                .token_by_id(id)
                .await?
                .ok_or_else(|| anyhow!("no token with id {id}"))?;
            let derived =
                account::revoke_token(store.as_ref(), &Actor::command_line(), &token).await?;
            println!("Token {id} revoked");
            if !derived.is_empty() {
                println!(
                    "Revoked with it, as created with it: {}",
                    derived
                        .iter()
                        .map(uuid::Uuid::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    Ok(())
}
