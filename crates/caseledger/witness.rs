//! `caseledger witness`: a partner department's witness of the log (contract §11). One run
//! fetches the newest checkpoint, checks that the log only grew since the checkpoint this
//! witness last signed, co-signs it (C2SP `tlog-cosignature`) and posts the cosignature.
//!
//! This module owns the witness's side: its key file (made by `--init`, the format of the
//! service's signing key), its state file (the log's origin and key, and the last tree size and
//! root it signed, written atomically only after the service accepted the cosignature), the
//! checks in their order, and the refusals. It refuses loudly — `REFUSED:` on stderr, exit 1 —
//! to sign a checkpoint with a bad signature, a smaller tree, another root for the same size or
//! a consistency proof that fails: that is the one thing a witness exists to do. The hashing is
//! `caseledger_store::tree`'s, the notes `caseledger_store::note`'s.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use caseledger_store::encoding;
use caseledger_store::note::{cosign, CheckpointBody, SignedNote, VerifierKey};
use caseledger_store::tree::{self, TreeHash};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::audit::proofs::{decode_proof_hashes, Bad};
use crate::audit::verify::read_public_key;
use crate::cli::WitnessArgs;

/// How long one request to the service may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the witness remembers between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessState {
    /// The log's origin, as its first checkpoint named it.
    pub origin: String,
    /// The log's checkpoint public key (base64).
    pub public_key: String,
    /// The tree size last co-signed.
    pub tree_size: u64,
    /// Its root hash (base64).
    pub root_hash: String,
}

/// Why a run refused to sign.
#[derive(Debug)]
pub struct Refusal(pub String);

/// The state file's default path: the key file's with `.state.json` added.
pub fn default_state_path(key: &Path) -> PathBuf {
    let mut name = key.as_os_str().to_owned();
    name.push(".state.json");
    PathBuf::from(name)
}

/// Runs `caseledger witness`.
pub async fn run(args: &WitnessArgs) -> anyhow::Result<ExitCode> {
    if args.init {
        return init(args);
    }
    let key = crate::signing_key::read_key_file(&args.key)
        .with_context(|| format!("cannot use the witness key {}", args.key.display()))?;
    let (Some(url), Some(token_file)) = (&args.url, &args.token_file) else {
        anyhow::bail!("--url and --token-file are needed (or --init)");
    };
    let token = std::fs::read_to_string(token_file)
        .with_context(|| format!("cannot read the token file {}", token_file.display()))?;
    let state_path = args
        .state
        .clone()
        .unwrap_or_else(|| default_state_path(&args.key));
    let state = read_state(&state_path)?;
    let given_key = args
        .public_key
        .as_deref()
        .map(read_public_key)
        .transpose()?;
    let client = Service::new(url, token.trim())?;
    match witness_once(&client, &key, &args.name, state.as_ref(), given_key).await? {
        Ok(new_state) => {
            write_state(&state_path, &new_state)?;
            println!(
                "co-signed {} tree size {} root {}",
                new_state.origin, new_state.tree_size, new_state.root_hash
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(Refusal(reason)) => {
            eprintln!("REFUSED: {reason}");
            eprintln!("REFUSED: nothing was signed; the state file is unchanged");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn init(args: &WitnessArgs) -> anyhow::Result<ExitCode> {
    if args.key.exists() {
        anyhow::bail!(
            "{} exists already: --init never replaces a witness key",
            args.key.display()
        );
    }
    let mut seed = [0u8; 32];
    rand::RngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut seed)
        .context("cannot read the operating system's random source")?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let dir = args
        .key
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::private_file::write_private_file(
        &args.key,
        dir,
        "witness-key",
        &crate::signing_key::key_file_text(&key),
    )?;
    let public_key =
        base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes());
    let verifier_key = VerifierKey::cosignature(&args.name, key.verifying_key());
    println!("made the witness key {}", args.key.display());
    println!("public key: {public_key}");
    println!("verifier key: {verifier_key}");
    println!(
        "ask the service's admin to register it: POST /v1/audit/witnesses \
         {{\"name\":\"{}\",\"public_key\":\"{public_key}\"}}",
        args.name
    );
    Ok(ExitCode::SUCCESS)
}

fn read_state(path: &Path) -> anyhow::Result<Option<WitnessState>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("the witness state {} is not readable JSON", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_state(path: &Path, state: &WitnessState) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let text = serde_json::to_string_pretty(state).context("encoding the witness state")? + "\n";
    crate::private_file::write_private_file(path, dir, "witness-state.json", &text)
        .with_context(|| format!("cannot write the witness state {}", path.display()))
}

/// The service, as the witness talks to it.
pub struct Service {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Service")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A client of the service at `base` with `token`.
    pub fn new(base: &str, token: &str) -> anyhow::Result<Service> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot make an HTTP client")?;
        Ok(Service {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    async fn get(&self, path: &str) -> anyhow::Result<String> {
        let url = format!("{}{path}", self.base);
        let response = self
            .client
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .with_context(|| format!("GET {url}"))?;
        anyhow::ensure!(status.is_success(), "GET {url}: {status}: {body}");
        Ok(body)
    }

    async fn post_cosignature(&self, tree_size: u64, line: &str) -> anyhow::Result<()> {
        let url = format!(
            "{}/v1/audit/checkpoints/{tree_size}/cosignatures",
            self.base
        );
        let response = self
            .client
            .post(&url)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(line.to_owned())
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "POST {url}: the service did not take the cosignature: {status}: {body}"
        );
        Ok(())
    }
}

#[derive(Deserialize)]
struct PublicKeyDocument {
    public_key: String,
}

#[derive(Deserialize)]
struct ConsistencyDocument {
    hashes: Vec<String>,
}

/// One run: the new state after a cosignature the service took, or why it refused.
pub async fn witness_once(
    service: &Service,
    key: &SigningKey,
    name: &str,
    state: Option<&WitnessState>,
    given_public_key: Option<String>,
) -> anyhow::Result<Result<WitnessState, Refusal>> {
    let public_key = match (given_public_key, state) {
        (Some(given), Some(state)) if given != state.public_key => {
            return Ok(Err(Refusal(format!(
                "--public-key {given} is not the key this witness has followed, {}",
                state.public_key
            ))))
        }
        (Some(given), _) => given,
        (None, Some(state)) => state.public_key.clone(),
        (None, None) => {
            let document: PublicKeyDocument =
                serde_json::from_str(&service.get("/v1/audit/public-key").await?)
                    .context("GET /v1/audit/public-key: not the JSON the service gives")?;
            read_public_key(&document.public_key)?
        }
    };
    let text = service.get("/v1/audit/checkpoint").await?;
    let note = match SignedNote::parse(&text) {
        Ok(note) => note,
        Err(error) => {
            return Ok(Err(Refusal(format!(
                "the checkpoint is not a signed note: {error}"
            ))))
        }
    };
    let body = match CheckpointBody::parse(&note.text) {
        Ok(body) => body,
        Err(error) => {
            return Ok(Err(Refusal(format!(
                "the checkpoint is not a tlog checkpoint: {error}"
            ))))
        }
    };
    if let Some(state) = state {
        if state.origin != body.origin {
            return Ok(Err(Refusal(format!(
                "the checkpoint is of the log {}, this witness follows {}",
                body.origin, state.origin
            ))));
        }
    }
    let log_key = encoding::parse_ed25519_public_key(&public_key)
        .context("the log's public key is not usable")?;
    if let Err(error) = note.verify(&VerifierKey::ed25519(&body.origin, log_key)) {
        return Ok(Err(Refusal(format!(
            "the checkpoint of tree size {} is not signed by the log's key: {error}",
            body.tree_size
        ))));
    }
    let root_b64 = encoding::encode_base64_32(&body.root_hash);
    if let Some(state) = state {
        let old_root: TreeHash = encoding::decode_base64_32(&state.root_hash)
            .context("the witness state's root_hash is not base64 of 32 bytes")?;
        if body.tree_size < state.tree_size {
            return Ok(Err(Refusal(format!(
                "the log shrank: this witness signed tree size {}, the service now shows tree \
                 size {}",
                state.tree_size, body.tree_size
            ))));
        }
        if body.tree_size == state.tree_size && body.root_hash != old_root {
            return Ok(Err(Refusal(format!(
                "the log was rewritten: tree size {} had root {}, it now has root {root_b64}",
                state.tree_size, state.root_hash
            ))));
        }
        if body.tree_size > state.tree_size {
            let proof: ConsistencyDocument = serde_json::from_str(
                &service
                    .get(&format!(
                        "/v1/audit/proof/consistency?from={}&to={}",
                        state.tree_size, body.tree_size
                    ))
                    .await?,
            )
            .context("GET /v1/audit/proof/consistency: not the JSON the service gives")?;
            let verified = decode_proof_hashes(&proof.hashes)
                .map_err(|Bad(reason)| reason)
                .and_then(|hashes| {
                    tree::verify_consistency(
                        state.tree_size,
                        body.tree_size,
                        &old_root,
                        &body.root_hash,
                        &hashes,
                    )
                    .map_err(|error| error.to_string())
                });
            if let Err(reason) = verified {
                return Ok(Err(Refusal(format!(
                    "the log did not only grow: the tree of size {} is not an extension of the \
                     tree of size {} this witness signed ({reason})",
                    body.tree_size, state.tree_size
                ))));
            }
        }
    }
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let line = cosign(&note.text, name, key, timestamp).to_line();
    service.post_cosignature(body.tree_size, &line).await?;
    Ok(Ok(WitnessState {
        origin: body.origin,
        public_key,
        tree_size: body.tree_size,
        root_hash: root_b64,
    }))
}
