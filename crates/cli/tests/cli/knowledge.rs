//! `entraide knowledge import`: the corpus imported from the command line.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus() -> Option<PathBuf> {
    let p = repo().join("../shared/corpus");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: {} not found", p.display());
        None
    }
}

/// `entraide init` of a node in `dir`, which must succeed.
fn init(bin: &str, dir: &str, node_id: &str, country: &str, password_file: &Path) {
    let out = Command::new(bin)
        .args([
            "init",
            "--data-dir",
            dir,
            "--node-id",
            node_id,
            "--org-name",
            node_id,
        ])
        .args(["--org-kind", "central-authority", "--country", country])
        .args([
            "--admin-email",
            &format!("admin@{node_id}.example"),
            "--admin-name",
            "Admin",
        ])
        .arg("--admin-password-file")
        .arg(password_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_whole_corpus_imports_from_the_command_line() {
    let Some(corpus) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "a-long-password-for-tests").unwrap();
    let bin = env!("CARGO_BIN_EXE_entraide");
    let d = data.to_str().unwrap();
    init(bin, d, "fr-kn", "FR", &pw);
    let out = Command::new(bin)
        .args(["knowledge", "import", "--data-dir", d])
        // The folders in the Markdown formats imported today (the corpus
        // README describes zh/, ru/, ar-lang/ and in/, not imported yet).
        .args(
            ["ar", "eu", "fr", "intl", "uk", "us"]
                .iter()
                .map(|f| corpus.join(f)),
        )
        .arg(repo().join("data/knowledge"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 90 legislation files (91 instruments: Budapest in English and in
    // Dutch) and the five files of starter content.
    assert!(
        stdout.contains("imported 95 files: 91 instruments"),
        "{stdout}"
    );
    let out = Command::new(bin)
        .args([
            "knowledge",
            "search",
            "--data-dir",
            d,
            "\"conservation rapide\" OR preservación",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r["total"].as_u64().unwrap() > 0);
    // Export in the import format, then import it into a new node: the
    // same items come back.
    let export = dir.path().join("export.json");
    let parties = dir.path().join("parties.csv");
    let out = Command::new(bin)
        .args(["knowledge", "export", "--data-dir", d])
        .arg(&export)
        .arg("--parties-csv")
        .arg(&parties)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&parties)
        .unwrap()
        .starts_with("treaty,country,signed"));
    let other = dir.path().join("other");
    let o = other.to_str().unwrap();
    init(bin, o, "ar-kn", "AR", &pw);
    let out = Command::new(bin)
        .args(["knowledge", "import", "--data-dir", o])
        .arg(&export)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("imported 1 files: 0 instruments, 0 articles, 43 other items"),
        "{stdout}"
    );
    let out = Command::new(bin)
        .args(["knowledge", "search", "--data-dir", d, "a AND"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}
