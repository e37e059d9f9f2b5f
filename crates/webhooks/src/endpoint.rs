//! The endpoint registry: partner departments' webhook endpoints, their secrets, their delivery
//! cursors and the log of delivery attempts.
//!
//! Two keyspaces hold it: `endpoints` (one [`Endpoint`] per id, secrets included, because they
//! must sign) and `state` (`state/<id>`: the [`DeliveryState`] cursor; `attempt/<id>/<seq>`:
//! the last [`ATTEMPTS_KEPT`] [`DeliveryAttempt`]s). Everything is also in memory, one entry
//! per endpoint behind its own async lock, which the admin operations and the delivery worker
//! both take: a worker that finished an attempt while an admin replayed or resumed the endpoint
//! sees that the state's `generation` moved and drops its result instead of overwriting.
//!
//! Several service instances on one PostgreSQL database share the keyspaces; one of them
//! delivers. Every write of a state goes through a guard on `generation/<id>` (the state's
//! generation; [`DELETED_GENERATION`] once the endpoint is deleted), so a write made from an
//! older generation — the deliverer's, after an admin replayed, resumed or deleted the endpoint
//! through another instance — is refused and the entry re-read instead. Admin changes start
//! from the stored state, not the possibly older one in memory. [`Registry::reload`], run
//! every few seconds on a shared store, brings in endpoints, secrets and states that other
//! instances wrote.
//!
//! Validation of what an admin sends lives here too ([`validate_endpoint`]); which departments
//! exist is the caller's knowledge, passed in. Secrets never appear in `Debug` output or logs.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use caseledger_domain::{Department, FieldError};
use caseledger_store::{Keyspace, KeyspaceChange, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex};
use uuid::Uuid;

use crate::egress::EgressPolicy;
use crate::error::WebhookError;
use crate::feed::FeedCursor;
use crate::payload::message_types;
use crate::signing::Secret;

/// How long an endpoint's old secret keeps signing after a rotation.
pub const ROTATION_GRACE: Duration = Duration::hours(24);

/// How many delivery attempts are kept per endpoint; older ones are removed.
pub const ATTEMPTS_KEPT: u64 = 1_000;

/// The longest endpoint URL accepted.
pub const MAX_URL_LENGTH: usize = 2_048;

/// The longest description accepted, in characters.
pub const MAX_DESCRIPTION_LENGTH: usize = 500;

const STATE_PREFIX: &[u8] = b"state/";
const ATTEMPT_PREFIX: &[u8] = b"attempt/";
const GENERATION_PREFIX: &[u8] = b"generation/";

/// How many times an admin change is tried when other instances keep changing the endpoint.
const ADMIN_WRITE_ATTEMPTS: usize = 3;

/// The generation guard of a deleted endpoint: no state write gets past it.
pub const DELETED_GENERATION: u64 = u64::MAX;

/// A partner department's webhook endpoint, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The endpoint's id (UUID v7).
    pub id: Uuid,
    /// Where messages are POSTed.
    pub url: String,
    /// Whose feed it receives.
    pub department: Department,
    /// The message types it receives; `None` for every type. Audit checkpoints always go.
    pub event_types: Option<Vec<String>>,
    /// What the admin wrote about it.
    pub description: Option<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Signing secrets, newest first; an old one carries the time it stops signing.
    secrets: Vec<EndpointSecret>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EndpointSecret {
    secret: Secret,
    expires_at: Option<DateTime<Utc>>,
}

impl Endpoint {
    /// The secrets that sign a message at `now`: the current one and any rotated out less
    /// than 24 hours ago, newest first.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&Secret> {
        self.secrets
            .iter()
            .filter(|secret| secret.expires_at.is_none_or(|expires| expires > now))
            .map(|secret| &secret.secret)
            .collect()
    }

    /// Whether the endpoint receives messages of type `kind`. Audit checkpoints go to every
    /// endpoint (contract §6), whatever its filter.
    pub fn accepts(&self, kind: &str) -> bool {
        kind == crate::payload::CHECKPOINT_TYPE
            || self
                .event_types
                .as_ref()
                .is_none_or(|types| types.iter().any(|accepted| accepted == kind))
    }
}

/// Whether an endpoint's deliveries go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    /// Delivering.
    Active,
    /// The retry schedule was spent on a message; paused at it until resumed or replayed.
    Failing,
}

impl EndpointStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointStatus::Active => "active",
            EndpointStatus::Failing => "failing",
        }
    }
}

/// An endpoint's delivery cursor, persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryState {
    /// Everything up to here was delivered (or filtered out).
    pub cursor: FeedCursor,
    /// Active or failing.
    pub status: EndpointStatus,
    /// Failed attempts at the message after the cursor.
    pub attempts: u32,
    /// When the next attempt is due, when one is scheduled.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// What went wrong last, if the last attempt failed.
    pub last_error: Option<String>,
    /// Bumped by every admin change of the cursor or status.
    pub generation: u64,
    /// The sequence number of the last attempt logged.
    pub attempt_seq: u64,
}

/// What one delivery attempt did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// When the attempt was made.
    pub at: DateTime<Utc>,
    /// The message's `webhook-id`.
    pub webhook_id: String,
    /// The message type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The log position the message is about.
    pub position: u64,
    /// Which attempt at this message it was, from 1.
    pub attempt: u32,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// How long the request took, in milliseconds.
    pub latency_ms: u64,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// `delivered` or `failed`.
    pub outcome: AttemptOutcome,
}

/// Whether an attempt delivered its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Delivered,
    /// A non-2xx answer, a timeout or a network failure.
    Failed,
}

/// An endpoint as an admin sees it: no secret, with its delivery status.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointView {
    /// The endpoint.
    pub id: Uuid,
    /// Its URL.
    pub url: String,
    /// Its department.
    pub department: Department,
    /// The types it receives (`None`: all).
    pub event_types: Option<Vec<String>>,
    /// The admin's description.
    pub description: Option<String>,
    /// Active or failing.
    pub status: EndpointStatus,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// The log position delivery has passed.
    pub delivered_through: u64,
    /// Failed attempts at the next message.
    pub failed_attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last failure.
    pub last_error: Option<String>,
}

/// An endpoint that was just created or whose secret was just rotated: the only times the
/// secret is shown.
#[derive(Debug, Clone)]
pub struct EndpointWithSecret {
    /// The endpoint.
    pub endpoint: EndpointView,
    /// The new secret.
    pub secret: Secret,
}

/// What an admin asks for.
#[derive(Debug, Clone, Default)]
pub struct NewEndpoint {
    /// The URL.
    pub url: String,
    /// The department's name.
    pub department: String,
    /// Message types, when filtering.
    pub event_types: Option<Vec<String>>,
    /// A description.
    pub description: Option<String>,
}

/// A checked [`NewEndpoint`].
#[derive(Debug, Clone)]
pub struct ValidEndpoint {
    url: String,
    department: Department,
    event_types: Option<Vec<String>>,
    description: Option<String>,
}

/// Checks a URL: `http` or `https`, a host, no user name or password, at most 2,048 bytes.
///
/// ```
/// use caseledger_webhooks::validate_url;
/// assert!(validate_url("https://hrss.example.gov.cn/hooks/caseledger").is_ok());
/// assert!(validate_url("ftp://example.org/").is_err());
/// assert!(validate_url("https://user:pass@example.org/").is_err());
/// ```
pub fn validate_url(text: &str) -> Result<String, String> {
    if text.len() > MAX_URL_LENGTH {
        return Err(format!("must be at most {MAX_URL_LENGTH} bytes"));
    }
    let url = reqwest::Url::parse(text.trim()).map_err(|error| format!("not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme must be http or https, not {}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment (#…)".into());
    }
    Ok(url.to_string())
}

/// Checks what an admin sent, naming every bad field. `known` says which departments exist;
/// `egress` refuses a URL whose host is an internal IP literal (or plain `http` when https is
/// required). A host name passes here and is checked each time it is resolved for a delivery.
pub fn validate_endpoint(
    input: NewEndpoint,
    known: impl Fn(&Department) -> bool,
    egress: &EgressPolicy,
) -> Result<ValidEndpoint, Vec<FieldError>> {
    let mut errors = Vec::new();
    let url = validate_url(&input.url)
        .and_then(|url| match reqwest::Url::parse(&url) {
            Ok(parsed) => egress
                .check_url(&parsed)
                .map(|()| url)
                .map_err(|refusal| refusal.to_string()),
            Err(error) => Err(format!("not a URL: {error}")),
        })
        .map_err(|message| errors.push(FieldError::new("url", message)))
        .ok();
    let department = match Department::new(input.department.clone()) {
        Ok(department) if known(&department) => Some(department),
        Ok(department) => {
            errors.push(FieldError::new(
                "department",
                format!("unknown department '{department}'"),
            ));
            None
        }
        Err(error) => {
            errors.push(FieldError::new("department", error.to_string()));
            None
        }
    };
    let event_types = match input.event_types {
        None => None,
        Some(types) if types.is_empty() => {
            errors.push(FieldError::new(
                "event_types",
                "name at least one type, or leave the field out for every type",
            ));
            None
        }
        Some(types) => {
            let known_types = message_types();
            for (index, kind) in types.iter().enumerate() {
                if !known_types.contains(kind) {
                    errors.push(FieldError::new(
                        format!("event_types[{index}]"),
                        format!(
                            "unknown message type '{kind}'; expected one of {}",
                            known_types.join(", ")
                        ),
                    ));
                }
            }
            let mut types = types;
            types.sort();
            types.dedup();
            Some(types)
        }
    };
    let description = input
        .description
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    if description
        .as_ref()
        .is_some_and(|text| text.chars().count() > MAX_DESCRIPTION_LENGTH)
    {
        errors.push(FieldError::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION_LENGTH} characters"),
        ));
    }
    match (url, department) {
        (Some(url), Some(department)) if errors.is_empty() => Ok(ValidEndpoint {
            url,
            department,
            event_types,
            description,
        }),
        _ => Err(errors),
    }
}

/// One endpoint in memory.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) endpoint: Endpoint,
    pub(crate) state: DeliveryState,
    pub(crate) deleted: bool,
}

impl Entry {
    fn view(&self) -> EndpointView {
        EndpointView {
            id: self.endpoint.id,
            url: self.endpoint.url.clone(),
            department: self.endpoint.department.clone(),
            event_types: self.endpoint.event_types.clone(),
            description: self.endpoint.description.clone(),
            status: self.state.status,
            created_at: self.endpoint.created_at,
            delivered_through: self.state.cursor.position(),
            failed_attempts: self.state.attempts,
            next_attempt_at: self.state.next_attempt_at,
            last_error: self.state.last_error.clone(),
        }
    }
}

/// Every endpoint, persisted and in memory.
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<RegistryInner>,
}

#[derive(Debug)]
struct RegistryInner {
    endpoints: Keyspace,
    state: Keyspace,
    /// `state`, as the delivery worker writes it (fenced by the leader lease on a shared store).
    delivery_state: Keyspace,
    entries: RwLock<BTreeMap<Uuid, Arc<Mutex<Entry>>>>,
    /// Bumped by every admin change, to wake the delivery worker.
    changes: watch::Sender<u64>,
}

fn state_key(id: Uuid) -> Vec<u8> {
    let mut key = STATE_PREFIX.to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

fn generation_key(id: Uuid) -> Vec<u8> {
    let mut key = GENERATION_PREFIX.to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

fn attempt_prefix(id: Uuid) -> Vec<u8> {
    let mut key = ATTEMPT_PREFIX.to_vec();
    key.extend_from_slice(id.as_bytes());
    key.push(b'/');
    key
}

fn attempt_key(id: Uuid, seq: u64) -> Vec<u8> {
    let mut key = attempt_prefix(id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, WebhookError> {
    serde_json::to_vec(value).map_err(|error| StoreError::Encode(error.to_string()).into())
}

impl Registry {
    /// Loads every endpoint and its cursor.
    pub async fn load(endpoints: Keyspace, state: Keyspace) -> Result<Registry, WebhookError> {
        Registry::load_fenced(endpoints, state.clone(), state).await
    }

    /// Loads every endpoint and its cursor; the delivery worker's state writes go through
    /// `delivery_state` — the same keyspace as `state`, fenced by the leader lease
    /// ([`Keyspace::fenced_by`]), so that a deliverer that lost the lease cannot move a cursor
    /// its successor owns — while admin changes go through `state`.
    pub async fn load_fenced(
        endpoints: Keyspace,
        state: Keyspace,
        delivery_state: Keyspace,
    ) -> Result<Registry, WebhookError> {
        let mut entries = BTreeMap::new();
        for (_, endpoint) in endpoints.scan::<Endpoint>(b"").await? {
            let delivery: DeliveryState =
                state.get(&state_key(endpoint.id)).await?.ok_or_else(|| {
                    WebhookError::Corrupt(format!("endpoint {} has no delivery state", endpoint.id))
                })?;
            entries.insert(
                endpoint.id,
                Arc::new(Mutex::new(Entry {
                    endpoint,
                    state: delivery,
                    deleted: false,
                })),
            );
        }
        let (changes, _) = watch::channel(0);
        Ok(Registry {
            inner: Arc::new(RegistryInner {
                endpoints,
                state,
                delivery_state,
                entries: RwLock::new(entries),
                changes,
            }),
        })
    }

    fn entries(&self) -> Result<Vec<Arc<Mutex<Entry>>>, WebhookError> {
        Ok(self
            .inner
            .entries
            .read()
            .map_err(|_| WebhookError::Poisoned)?
            .values()
            .cloned()
            .collect())
    }

    pub(crate) fn entry(&self, id: Uuid) -> Result<Option<Arc<Mutex<Entry>>>, WebhookError> {
        Ok(self
            .inner
            .entries
            .read()
            .map_err(|_| WebhookError::Poisoned)?
            .get(&id)
            .cloned())
    }

    fn require(&self, id: Uuid) -> Result<Arc<Mutex<Entry>>, WebhookError> {
        self.entry(id)?.ok_or(WebhookError::NotFound)
    }

    /// The ids of every endpoint.
    pub fn ids(&self) -> Result<Vec<Uuid>, WebhookError> {
        Ok(self
            .inner
            .entries
            .read()
            .map_err(|_| WebhookError::Poisoned)?
            .keys()
            .copied()
            .collect())
    }

    /// A receiver that changes at every admin change (create, delete, replay, resume, rotate).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    fn changed(&self) {
        self.inner.changes.send_modify(|count| *count += 1);
    }

    /// Registers an endpoint that starts delivering after `start` with a new secret.
    pub async fn create(
        &self,
        valid: ValidEndpoint,
        start: FeedCursor,
        now: DateTime<Utc>,
    ) -> Result<EndpointWithSecret, WebhookError> {
        let secret = Secret::generate();
        let endpoint = Endpoint {
            id: Uuid::now_v7(),
            url: valid.url,
            department: valid.department,
            event_types: valid.event_types,
            description: valid.description,
            created_at: now,
            secrets: vec![EndpointSecret {
                secret: secret.clone(),
                expires_at: None,
            }],
        };
        let state = DeliveryState {
            cursor: start,
            status: EndpointStatus::Active,
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            generation: 0,
            attempt_seq: 0,
        };
        // The state first: an endpoint record is never without its cursor.
        self.inner
            .state
            .put(&state_key(endpoint.id), &state)
            .await?;
        self.inner
            .endpoints
            .put(endpoint.id.as_bytes(), &endpoint)
            .await?;
        let entry = Entry {
            endpoint,
            state,
            deleted: false,
        };
        let view = entry.view();
        self.inner
            .entries
            .write()
            .map_err(|_| WebhookError::Poisoned)?
            .insert(view.id, Arc::new(Mutex::new(entry)));
        self.changed();
        Ok(EndpointWithSecret {
            endpoint: view,
            secret,
        })
    }

    /// Every endpoint, oldest first.
    pub async fn list(&self) -> Result<Vec<EndpointView>, WebhookError> {
        let mut views = Vec::new();
        for entry in self.entries()? {
            views.push(entry.lock().await.view());
        }
        Ok(views)
    }

    /// One endpoint.
    pub async fn get(&self, id: Uuid) -> Result<EndpointView, WebhookError> {
        Ok(self.require(id)?.lock().await.view())
    }

    /// The endpoint record itself (with its secrets), for delivery.
    pub async fn endpoint(&self, id: Uuid) -> Result<Endpoint, WebhookError> {
        Ok(self.require(id)?.lock().await.endpoint.clone())
    }

    /// Removes an endpoint, its cursor and its attempt log.
    pub async fn delete(&self, id: Uuid) -> Result<EndpointView, WebhookError> {
        let entry = self.require(id)?;
        let mut entry = entry.lock().await;
        let attempts: Vec<(Vec<u8>, serde::de::IgnoredAny)> =
            self.inner.state.scan(&attempt_prefix(id)).await?;
        let mut changes: Vec<KeyspaceChange> =
            attempts.into_iter().map(|(key, _)| (key, None)).collect();
        changes.push((state_key(id), None));
        changes.push((generation_key(id), Some(encode(&DELETED_GENERATION)?)));
        self.inner.endpoints.remove(id.as_bytes()).await?;
        self.inner.state.apply(changes, true).await?;
        entry.deleted = true;
        self.inner
            .entries
            .write()
            .map_err(|_| WebhookError::Poisoned)?
            .remove(&id);
        self.changed();
        Ok(entry.view())
    }

    /// A new secret; the old ones keep signing for 24 hours from `now`.
    pub async fn rotate_secret(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<EndpointWithSecret, WebhookError> {
        let entry = self.require(id)?;
        let mut entry = entry.lock().await;
        let secret = Secret::generate();
        let mut endpoint = entry.endpoint.clone();
        endpoint
            .secrets
            .retain(|old| old.expires_at.is_none_or(|expires| expires > now));
        for old in &mut endpoint.secrets {
            let expires = now + ROTATION_GRACE;
            old.expires_at = Some(old.expires_at.map_or(expires, |at| at.min(expires)));
        }
        endpoint.secrets.insert(
            0,
            EndpointSecret {
                secret: secret.clone(),
                expires_at: None,
            },
        );
        self.inner
            .endpoints
            .put(endpoint.id.as_bytes(), &endpoint)
            .await?;
        entry.endpoint = endpoint;
        self.changed();
        Ok(EndpointWithSecret {
            endpoint: entry.view(),
            secret,
        })
    }

    /// Starts delivery again after `cursor` (a replay), active, with a fresh schedule.
    pub async fn reset_cursor(
        &self,
        id: Uuid,
        cursor: FeedCursor,
    ) -> Result<EndpointView, WebhookError> {
        self.admin_update(id, |state| {
            state.cursor = cursor.clone();
        })
        .await
    }

    /// Marks a failing endpoint active again; its paused message is tried at once.
    pub async fn resume(&self, id: Uuid) -> Result<EndpointView, WebhookError> {
        self.admin_update(id, |_| {}).await
    }

    async fn admin_update(
        &self,
        id: Uuid,
        change: impl Fn(&mut DeliveryState),
    ) -> Result<EndpointView, WebhookError> {
        let entry = self.require(id)?;
        let mut entry = entry.lock().await;
        // The stored state is the newest: another instance may be the one delivering. A
        // write refused by the guard means another instance changed the endpoint meanwhile;
        // start again from what it wrote.
        let mut state = None;
        for _ in 0..ADMIN_WRITE_ATTEMPTS {
            let stored: Option<DeliveryState> = self.inner.state.get(&state_key(id)).await?;
            let mut next = match stored {
                Some(stored) if stored.generation >= entry.state.generation => stored,
                _ => entry.state.clone(),
            };
            change(&mut next);
            next.status = EndpointStatus::Active;
            next.attempts = 0;
            next.next_attempt_at = None;
            next.last_error = None;
            next.generation += 1;
            let written = self
                .inner
                .state
                .apply_guarded(
                    &generation_key(id),
                    next.generation,
                    vec![
                        (state_key(id), Some(encode(&next)?)),
                        (generation_key(id), Some(encode(&next.generation)?)),
                    ],
                    true,
                )
                .await?;
            if written {
                state = Some(next);
                break;
            }
            self.refresh_entry(&mut entry).await?;
            if entry.deleted {
                return Err(WebhookError::NotFound);
            }
        }
        let state = state.ok_or(WebhookError::Busy)?;
        entry.state = state;
        self.changed();
        Ok(entry.view())
    }

    /// The retained delivery attempts of an endpoint, newest first.
    pub async fn attempts(&self, id: Uuid) -> Result<Vec<DeliveryAttempt>, WebhookError> {
        self.require(id)?;
        let mut attempts: Vec<DeliveryAttempt> = self
            .inner
            .state
            .scan::<DeliveryAttempt>(&attempt_prefix(id))
            .await?
            .into_iter()
            .map(|(_, attempt)| attempt)
            .collect();
        attempts.reverse();
        Ok(attempts)
    }

    /// Stores a new delivery state (and the attempt that led to it) for an entry whose lock
    /// the caller holds; `durable` waits for the disk. Returns `false`, with the entry re-read
    /// from the store, when the stored generation moved past the state's (an admin change or a
    /// deletion through another instance).
    pub(crate) async fn store_state(
        &self,
        entry: &mut Entry,
        mut state: DeliveryState,
        attempt: Option<DeliveryAttempt>,
        durable: bool,
    ) -> Result<bool, WebhookError> {
        let id = entry.endpoint.id;
        let mut changes: Vec<KeyspaceChange> = Vec::new();
        if let Some(attempt) = attempt {
            state.attempt_seq += 1;
            changes.push((attempt_key(id, state.attempt_seq), Some(encode(&attempt)?)));
            if state.attempt_seq > ATTEMPTS_KEPT {
                changes.push((attempt_key(id, state.attempt_seq - ATTEMPTS_KEPT), None));
            }
        }
        changes.push((state_key(id), Some(encode(&state)?)));
        changes.push((generation_key(id), Some(encode(&state.generation)?)));
        let written = self
            .inner
            .delivery_state
            .apply_guarded(&generation_key(id), state.generation, changes, durable)
            .await?;
        if written {
            entry.state = state;
        } else {
            self.refresh_entry(entry).await?;
        }
        Ok(written)
    }

    /// Re-reads an entry (whose lock the caller holds) from the store: its endpoint record and
    /// state, or that it was deleted.
    async fn refresh_entry(&self, entry: &mut Entry) -> Result<(), WebhookError> {
        let id = entry.endpoint.id;
        let endpoint: Option<Endpoint> = self.inner.endpoints.get(id.as_bytes()).await?;
        let state: Option<DeliveryState> = self.inner.state.get(&state_key(id)).await?;
        match (endpoint, state) {
            (Some(endpoint), Some(state)) => {
                entry.endpoint = endpoint;
                entry.state = state;
            }
            _ => {
                entry.deleted = true;
                self.inner
                    .entries
                    .write()
                    .map_err(|_| WebhookError::Poisoned)?
                    .remove(&id);
            }
        }
        self.changed();
        Ok(())
    }

    /// Brings the registry up to date with the store: endpoints created, deleted or given new
    /// secrets, and states changed by admins, through other instances on the same database.
    /// A state in memory is kept unless the stored one has a newer generation. Returns whether
    /// anything changed (and then wakes the delivery worker).
    pub async fn reload(&self) -> Result<bool, WebhookError> {
        // What memory holds is read before the store: an endpoint created here while the
        // store is read is then not taken for one deleted elsewhere.
        let known: BTreeMap<Uuid, Arc<Mutex<Entry>>> = self
            .inner
            .entries
            .read()
            .map_err(|_| WebhookError::Poisoned)?
            .clone();
        let stored: BTreeMap<Uuid, Endpoint> = self
            .inner
            .endpoints
            .scan::<Endpoint>(b"")
            .await?
            .into_iter()
            .map(|(_, endpoint)| (endpoint.id, endpoint))
            .collect();
        let mut changed = false;
        for (id, endpoint) in &stored {
            let Some(state) = self
                .inner
                .state
                .get::<DeliveryState>(&state_key(*id))
                .await?
            else {
                // Being created or deleted right now; the next reload settles it.
                continue;
            };
            match known.get(id) {
                None => {
                    self.inner
                        .entries
                        .write()
                        .map_err(|_| WebhookError::Poisoned)?
                        .entry(*id)
                        .or_insert_with(|| {
                            Arc::new(Mutex::new(Entry {
                                endpoint: endpoint.clone(),
                                state,
                                deleted: false,
                            }))
                        });
                    changed = true;
                }
                Some(entry) => {
                    let mut entry = entry.lock().await;
                    if entry.endpoint != *endpoint {
                        // Read again under the entry's lock: a change made through this
                        // instance after the scan above (a rotation's new secret) must not be
                        // replaced by the scan's older copy.
                        let current: Option<Endpoint> =
                            self.inner.endpoints.get(id.as_bytes()).await?;
                        if let Some(current) = current.filter(|current| entry.endpoint != *current)
                        {
                            entry.endpoint = current;
                            changed = true;
                        }
                    }
                    if state.generation > entry.state.generation {
                        entry.state = state;
                        changed = true;
                    }
                }
            }
        }
        for (id, entry) in &known {
            if !stored.contains_key(id) {
                entry.lock().await.deleted = true;
                self.inner
                    .entries
                    .write()
                    .map_err(|_| WebhookError::Poisoned)?
                    .remove(id);
                changed = true;
            }
        }
        if changed {
            self.changed();
        }
        Ok(changed)
    }

    /// Writes an endpoint's current state durably (after a run of non-durable cursor moves).
    pub async fn sync(&self, id: Uuid) -> Result<(), WebhookError> {
        let Some(entry) = self.entry(id)? else {
            return Ok(());
        };
        let mut entry = entry.lock().await;
        if entry.deleted {
            return Ok(());
        }
        let state = entry.state.clone();
        self.store_state(&mut entry, state, None, true).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    fn known(department: &Department) -> bool {
        ["hrss", "court"].contains(&department.as_str())
    }

    fn input(url: &str) -> NewEndpoint {
        NewEndpoint {
            url: url.into(),
            department: "hrss".into(),
            event_types: None,
            description: None,
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|error| error.field.as_str()).collect()
    }

    #[test]
    fn urls_are_http_or_https_with_a_host_and_no_credentials() {
        for good in [
            "http://127.0.0.1:8080/hook",
            "https://hrss.example.gov.cn/hooks?via=caseledger",
            "http://[::1]:9000/",
            "HTTPS://EXAMPLE.ORG",
        ] {
            assert!(validate_url(good).is_ok(), "{good}");
        }
        for (bad, reason) in [
            ("", "not a URL"),
            ("example.org/hook", "not a URL"),
            ("ftp://example.org/", "scheme"),
            ("file:///etc/passwd", "scheme"),
            ("https://user@example.org/", "user name"),
            ("https://user:secret@example.org/", "password"),
            ("https://example.org/#top", "fragment"),
            ("http://", "not a URL"),
        ] {
            let error = validate_url(bad).unwrap_err();
            assert!(error.contains(reason), "{bad}: {error}");
        }
        let long = format!("https://example.org/{}", "a".repeat(MAX_URL_LENGTH));
        assert!(validate_url(&long).unwrap_err().contains("at most"));
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = validate_endpoint(
            NewEndpoint {
                url: "ftp://x".into(),
                department: "courts".into(),
                event_types: Some(vec![
                    "case.SupervisionLetterIssued".into(),
                    "case.Opened".into(),
                    "case.NoteAdded".into(),
                ]),
                description: Some("x".repeat(501)),
            },
            known,
            &EgressPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "url",
                "department",
                "event_types[1]",
                "event_types[2]",
                "description"
            ]
        );
        let errors = validate_endpoint(
            NewEndpoint {
                department: "Human Resources".into(),
                event_types: Some(vec![]),
                ..input("https://example.org")
            },
            known,
            &EgressPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(fields(&errors), ["department", "event_types"]);
    }

    #[test]
    fn an_internal_ip_literal_is_refused_naming_url_unless_its_range_is_allowed() {
        let refused = EgressPolicy::default();
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://[::1]/hook",
            "http://0.0.0.0/",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://[::ffff:192.168.0.1]/",
        ] {
            let errors = validate_endpoint(input(url), known, &refused).unwrap_err();
            assert_eq!(fields(&errors), ["url"], "{url}");
            assert!(errors[0].message.contains("refused"), "{url}: {errors:?}");
        }
        // A name passes here: it is checked each time it is resolved.
        assert!(validate_endpoint(input("http://localhost:9000/hook"), known, &refused).is_ok());
        let loopback_allowed = EgressPolicy {
            allowed: vec![crate::egress::parse_cidr("127.0.0.0/8").unwrap()],
            require_https: false,
        };
        assert!(validate_endpoint(
            input("http://127.0.0.1:9000/hook"),
            known,
            &loopback_allowed
        )
        .is_ok());
        let https_only = EgressPolicy {
            require_https: true,
            ..loopback_allowed
        };
        let errors =
            validate_endpoint(input("http://127.0.0.1:9000/hook"), known, &https_only).unwrap_err();
        assert!(errors[0].message.contains("https"), "{errors:?}");
    }

    #[test]
    fn a_valid_endpoint_is_normalised() {
        let valid = validate_endpoint(
            NewEndpoint {
                event_types: Some(vec![
                    "case.ReferredToDepartment".into(),
                    "audit.checkpoint".into(),
                    "case.ReferredToDepartment".into(),
                ]),
                description: Some("  HRSS intake  ".into()),
                ..input("HTTPS://Example.org")
            },
            known,
            &EgressPolicy::default(),
        )
        .unwrap();
        assert_eq!(valid.url, "https://example.org/");
        assert_eq!(
            valid.event_types.unwrap(),
            ["audit.checkpoint", "case.ReferredToDepartment"]
        );
        assert_eq!(valid.description.as_deref(), Some("HRSS intake"));
    }

    #[test]
    fn filters_never_hold_back_checkpoints() {
        let endpoint = Endpoint {
            id: Uuid::now_v7(),
            url: "https://example.org/".into(),
            department: Department::new("hrss").unwrap(),
            event_types: Some(vec!["case.CaseClosed".into()]),
            description: None,
            created_at: Utc::now(),
            secrets: vec![],
        };
        assert!(endpoint.accepts("case.CaseClosed"));
        assert!(endpoint.accepts("audit.checkpoint"));
        assert!(!endpoint.accepts("case.ReferredToDepartment"));
    }

    #[test]
    fn an_old_secret_signs_for_24_hours_after_a_rotation() {
        let now = Utc::now();
        let old = Secret::generate();
        let new = Secret::generate();
        let endpoint = Endpoint {
            id: Uuid::now_v7(),
            url: "https://example.org/".into(),
            department: Department::new("hrss").unwrap(),
            event_types: None,
            description: None,
            created_at: now,
            secrets: vec![
                EndpointSecret {
                    secret: new.clone(),
                    expires_at: None,
                },
                EndpointSecret {
                    secret: old.clone(),
                    expires_at: Some(now + ROTATION_GRACE),
                },
            ],
        };
        assert_eq!(endpoint.signing_secrets(now), [&new, &old]);
        assert_eq!(
            endpoint.signing_secrets(now + Duration::hours(23)),
            [&new, &old]
        );
        assert_eq!(endpoint.signing_secrets(now + ROTATION_GRACE), [&new]);
        // The stored form holds the secrets (they must sign); Debug never shows them.
        assert!(!format!("{endpoint:?}").contains(&new.expose()));
    }
}
