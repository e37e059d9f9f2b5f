//! People's accounts for the console (contract §8): creation with a one-time setup link,
//! passwords, disablement and reset (admins), sign-in with its lockout, and the sessions that
//! a console request authenticates with.
//!
//! Everything lives in the store (keyspaces `users`, `sessions`, `sign_in_failures`), never in
//! one process's memory, so any number of instances on one PostgreSQL database serve the same
//! people: a disablement or a reset through one instance ends the person's sessions on every
//! instance at their next request. The store keeps only hashes of passwords (Argon2id), setup
//! tokens and session secrets (SHA-256). A session's caller acts through the same `App`
//! methods as a token's, so the console obeys the same rules, roles and version checks as the
//! API; its events carry the person's `user_id`.

mod lockout;
pub mod passwords;
mod sessions;
mod users;

use caseledger_domain::{Department, FieldError, Rejection, Role};
use uuid::Uuid;

use crate::access::require_role;
use crate::app::App;
use crate::error::AppError;
use crate::tokens::{Caller, CallerId};

pub use crate::app::SessionLimits;
pub use lockout::{LOCKOUT_FAILURES, LOCKOUT_PERIOD};
pub use sessions::{form_token, form_token_matches, SessionRecord};
pub use users::{UserRecord, UserStatus, UserView};

use users::{claim_key, login_key, record_key, revision_key, setup_key};

/// How long a setup link works (contract §8: 72 h).
pub const SETUP_LINK_VALIDITY: chrono::Duration = chrono::Duration::hours(72);

/// How often a session's last use is written back: the idle expiry is kept to this precision,
/// and a page view costs a write at most this often.
pub const SESSION_TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// The login of the first admin account.
pub const INITIAL_ADMIN_LOGIN: &str = "admin";

/// The marker of the first admin account (a JSON `u64`, 1 once created).
const INITIAL_ADMIN_MARKER: &[u8] = b"meta/initial-admin-user";

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// What the person signs in with: 2 to 64 of `a-z 0-9 . _ -`, starting with a letter or
    /// digit (upper case is taken as lower).
    pub login: String,
    /// The person's name (1 to 200 characters).
    pub name: String,
    /// The role.
    pub role: Role,
    /// A partner's department.
    pub department: Option<Department>,
}

/// An account with a setup link just opened: the setup token is shown this once.
#[derive(Debug, Clone)]
pub struct UserWithSetup {
    /// The account.
    pub user: UserView,
    /// The one-time token; the link is `<public URL>/console/setup/<token>`.
    pub setup_token: String,
}

impl UserWithSetup {
    /// The setup link under `base_url`, the address people reach the service at (e.g.
    /// `https://caseledger.example.org`; a trailing `/` is dropped). An empty base gives the
    /// path alone, `/console/setup/<token>`. The link holds the random token only, no personal
    /// data; like the token, it is a secret and never logged.
    pub fn setup_url(&self, base_url: &str) -> String {
        format!(
            "{}{SETUP_LINK_PATH}{}",
            base_url.trim_end_matches('/'),
            self.setup_token
        )
    }
}

/// Where setup links lead, below the service's base URL; the token follows.
pub const SETUP_LINK_PATH: &str = "/console/setup/";

/// A session just begun: the secret goes into the cookie and nowhere else.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie's value.
    pub secret: String,
    /// The person.
    pub user: UserView,
}

/// A console request's caller, with what the console needs of the session.
#[derive(Debug, Clone)]
pub struct SessionCaller {
    /// The person as a caller of the app.
    pub caller: Caller,
    /// The account's login.
    pub login: String,
    /// The token every form of this session must carry.
    pub form_token: String,
}

/// Checks and normalises a login.
fn checked_login(login: &str) -> Result<String, FieldError> {
    let login = login.trim().to_lowercase();
    let valid = (2..=64).contains(&login.len())
        && login
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        && login
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if valid {
        Ok(login)
    } else {
        Err(FieldError::new(
            "login",
            "must be 2 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or \
             digit",
        ))
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, AppError> {
    serde_json::to_vec(value).map_err(|error| AppError::Internal(error.into()))
}

impl App {
    fn session_limits(&self) -> SessionLimits {
        self.session_limits
    }

    /// Checks a new account's fields, every bad one at once.
    fn check_new_user(&self, user: &NewUser) -> Result<(String, String), AppError> {
        let mut errors = Vec::new();
        let login = checked_login(&user.login)
            .map_err(|error| errors.push(error))
            .ok();
        let name = user.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new("name", "must be 1 to 200 characters"));
        }
        errors.extend(self.department_problem(user.role, user.department.as_ref(), "account"));
        match login {
            Some(login) if errors.is_empty() => Ok((login, name)),
            _ => Err(Rejection::Invalid(errors).into()),
        }
    }

    /// Creates an account with a one-time setup link (admins only). A login taken already is a
    /// `Conflict`.
    pub async fn create_user(
        &self,
        caller: &Caller,
        user: NewUser,
    ) -> Result<UserWithSetup, AppError> {
        require_role(caller, &[Role::Admin], "manage accounts")?;
        let (login, name) = self.check_new_user(&user)?;
        // The claim below settles races; this read also covers the first admin of a store
        // made before that account claimed its login.
        if self.user_by_login(&login).await?.is_some() {
            return Err(login_taken());
        }
        self.insert_user(login, name, user.role, user.department, &claim_key_for)
            .await?
            .ok_or_else(login_taken)
    }

    /// Writes a new account under the claim of its login (`None`: the login was taken).
    async fn insert_user(
        &self,
        login: String,
        name: String,
        role: Role,
        department: Option<Department>,
        claim: &(dyn Fn(&str) -> Vec<u8> + Sync),
    ) -> Result<Option<UserWithSetup>, AppError> {
        let now = self.now();
        let setup_token = sessions::new_setup_token();
        let setup_hash = hex::encode(sessions::secret_hash(&setup_token));
        let record = UserRecord {
            id: Uuid::now_v7(),
            login: login.clone(),
            name,
            role,
            department,
            password_hash: None,
            setup_token_hash: Some(setup_hash.clone()),
            setup_expires_at: Some(now + SETUP_LINK_VALIDITY),
            session_generation: 0,
            revision: 1,
            created_at: now,
            disabled_at: None,
        };
        let claim = claim(&login);
        let mut changes = vec![
            (claim.clone(), Some(encode(&1u64)?)),
            (record_key(record.id), Some(encode(&record)?)),
            (revision_key(record.id), Some(encode(&record.revision)?)),
            (login_key(&login), Some(encode(&record.id)?)),
            (setup_key(&setup_hash), Some(encode(&record.id)?)),
        ];
        // Written under another guard (the first admin's marker), the login is still claimed,
        // so that an account created later with the same login is refused, not put in its
        // place.
        if claim != claim_key(&login) {
            changes.push((claim_key(&login), Some(encode(&1u64)?)));
        }
        let written = self
            .storage
            .users
            .apply_guarded(&claim, 0, changes, true)
            .await?;
        if !written {
            return Ok(None);
        }
        tracing::info!(user = %record.id, role = %record.role, "an account was created");
        Ok(Some(UserWithSetup {
            user: record.view(),
            setup_token,
        }))
    }

    /// Creates the first admin account, `admin`, with a setup link, unless this store ever had
    /// it: of several instances starting at once on one database, exactly one creates it.
    /// `None` when the store had it.
    pub async fn create_initial_admin_user(&self) -> Result<Option<UserWithSetup>, AppError> {
        if self
            .storage
            .users
            .get::<u64>(INITIAL_ADMIN_MARKER)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        self.insert_user(
            INITIAL_ADMIN_LOGIN.into(),
            "Administrator".into(),
            Role::Admin,
            None,
            &|_| INITIAL_ADMIN_MARKER.to_vec(),
        )
        .await
    }

    /// Every account, oldest first (admins only).
    pub async fn list_users(&self, caller: &Caller) -> Result<Vec<UserView>, AppError> {
        require_role(caller, &[Role::Admin], "manage accounts")?;
        Ok(self
            .user_records()
            .await?
            .iter()
            .map(UserRecord::view)
            .collect())
    }

    async fn user_records(&self) -> Result<Vec<UserRecord>, AppError> {
        let entries: Vec<(Vec<u8>, serde_json::Value)> = self.storage.users.scan(b"").await?;
        let mut records = Vec::new();
        for (key, value) in entries {
            if users::is_record_key(&key) {
                records.push(
                    serde_json::from_value::<UserRecord>(value)
                        .map_err(|error| AppError::Internal(error.into()))?,
                );
            }
        }
        records.sort_by_key(|record| record.id);
        Ok(records)
    }

    async fn user_record(&self, id: Uuid) -> Result<Option<UserRecord>, AppError> {
        Ok(self.storage.users.get(&record_key(id)).await?)
    }

    async fn user_by_login(&self, login: &str) -> Result<Option<UserRecord>, AppError> {
        let Some(id) = self.storage.users.get::<Uuid>(&login_key(login)).await? else {
            return Ok(None);
        };
        self.user_record(id).await
    }

    async fn user_by_setup_token(&self, token: &str) -> Result<Option<UserRecord>, AppError> {
        let hash = hex::encode(sessions::secret_hash(token));
        let Some(id) = self.storage.users.get::<Uuid>(&setup_key(&hash)).await? else {
            return Ok(None);
        };
        let Some(record) = self.user_record(id).await? else {
            return Ok(None);
        };
        let open = record
            .setup_token_hash
            .as_deref()
            .is_some_and(|stored| sessions::hashes_match(stored, &hash))
            && record.setup_expires_at.is_some_and(|at| at > self.now())
            && record.disabled_at.is_none();
        Ok(open.then_some(record))
    }

    /// Changes an account with `change`, under its revision guard: a change made meanwhile
    /// through another instance is read again and `change` applied to it. `extra` changes are
    /// written in the same batch (index entries).
    async fn update_user(
        &self,
        id: Uuid,
        mut change: impl FnMut(&mut UserRecord) -> Vec<caseledger_store::KeyspaceChange>,
    ) -> Result<UserRecord, AppError> {
        for _ in 0..8 {
            let Some(mut record) = self.user_record(id).await? else {
                return Err(AppError::NotFound("user".into()));
            };
            let read_revision = record.revision;
            let mut changes = change(&mut record);
            record.revision = read_revision + 1;
            changes.push((record_key(id), Some(encode(&record)?)));
            changes.push((revision_key(id), Some(encode(&record.revision)?)));
            if self
                .storage
                .users
                .apply_guarded(&revision_key(id), read_revision, changes, true)
                .await?
            {
                return Ok(record);
            }
        }
        Err(AppError::Unavailable {
            reason: "the account is being changed by others right now".into(),
            retry_after_seconds: 1,
        })
    }

    /// Disables an account and ends its sessions at once (admins only). Disabling twice keeps
    /// the first time.
    pub async fn disable_user(&self, caller: &Caller, id: Uuid) -> Result<UserView, AppError> {
        require_role(caller, &[Role::Admin], "manage accounts")?;
        if caller.id == CallerId::User(id) {
            return Err(AppError::Conflict(
                "an admin may not disable the account they are signed in with".into(),
            ));
        }
        let now = self.now();
        let record = self
            .update_user(id, |record| {
                if record.disabled_at.is_none() {
                    record.disabled_at = Some(now);
                    record.session_generation += 1;
                }
                Vec::new()
            })
            .await?;
        self.remove_sessions_of(id).await?;
        tracing::info!(user = %id, "an account was disabled");
        Ok(record.view())
    }

    /// Opens a new setup link for an account: the old password stops working and every session
    /// ends (admins only). A disabled account stays disabled.
    pub async fn reset_user(&self, caller: &Caller, id: Uuid) -> Result<UserWithSetup, AppError> {
        require_role(caller, &[Role::Admin], "manage accounts")?;
        let now = self.now();
        let setup_token = sessions::new_setup_token();
        let setup_hash = hex::encode(sessions::secret_hash(&setup_token));
        let record = self
            .update_user(id, |record| {
                let mut changes = Vec::new();
                if let Some(old) = record.setup_token_hash.take() {
                    changes.push((setup_key(&old), None));
                }
                record.password_hash = None;
                record.setup_token_hash = Some(setup_hash.clone());
                record.setup_expires_at = Some(now + SETUP_LINK_VALIDITY);
                record.session_generation += 1;
                changes.push((setup_key(&setup_hash), encode(&record.id).ok()));
                changes
            })
            .await?;
        self.remove_sessions_of(id).await?;
        tracing::info!(user = %id, "an account was reset");
        Ok(UserWithSetup {
            user: record.view(),
            setup_token,
        })
    }

    /// The account a setup link opens, while the link works; `NotFound` otherwise (used,
    /// expired, replaced by a reset, or never issued: one answer for all).
    pub async fn setup_link_user(&self, token: &str) -> Result<UserView, AppError> {
        self.user_by_setup_token(token)
            .await?
            .map(|record| record.view())
            .ok_or_else(|| AppError::NotFound("setup link".into()))
    }

    /// Sets the password through a setup link, which then stops working. A password that
    /// breaks the rules is a field error on `password`.
    pub async fn complete_setup(&self, token: &str, password: &str) -> Result<UserView, AppError> {
        let record = self
            .user_by_setup_token(token)
            .await?
            .ok_or_else(|| AppError::NotFound("setup link".into()))?;
        passwords::check_new_password(&record.login, password)
            .map_err(|error| Rejection::Invalid(vec![error]))?;
        let hash = passwords::hash_password(password.to_owned()).await?;
        let token_hash = hex::encode(sessions::secret_hash(token));
        let mut used = false;
        let record = self
            .update_user(record.id, |record| {
                // Only the link read above may set the password: a reset meanwhile replaced it.
                used = record.setup_token_hash.as_deref() == Some(token_hash.as_str());
                if !used {
                    return Vec::new();
                }
                record.password_hash = Some(hash.clone());
                record.setup_token_hash = None;
                record.setup_expires_at = None;
                vec![(setup_key(&token_hash), None)]
            })
            .await?;
        if !used {
            return Err(AppError::NotFound("setup link".into()));
        }
        self.clear_sign_in_failures(&record.login).await?;
        tracing::info!(user = %record.id, "a password was set through a setup link");
        Ok(record.view())
    }

    /// Signs a person in. Wrong login, wrong password, an account not set up or disabled: all
    /// [`AppError::SignInRefused`]; after [`LOCKOUT_FAILURES`] failures for one login within
    /// [`LOCKOUT_PERIOD`], [`AppError::SignInLocked`] whatever the password.
    pub async fn sign_in(&self, login: &str, password: &str) -> Result<NewSession, AppError> {
        let login = login.trim().to_lowercase();
        let now = self.now();
        if login.is_empty()
            || login.len() > 64
            || password.len() > 4 * passwords::MAX_PASSWORD_CHARS
        {
            return Err(AppError::SignInRefused);
        }
        if let Some(retry_after_seconds) = self.sign_in_locked(&login, now).await? {
            count_sign_in("locked");
            return Err(AppError::SignInLocked {
                retry_after_seconds,
            });
        }
        let record = self.user_by_login(&login).await?;
        let usable = record
            .as_ref()
            .filter(|record| record.disabled_at.is_none());
        let matches = passwords::verify_password(
            password.to_owned(),
            usable.and_then(|record| record.password_hash.clone()),
        )
        .await?;
        let Some(record) = usable.filter(|_| matches) else {
            self.record_sign_in_failure(&login, now).await?;
            tracing::info!("a sign-in was refused");
            count_sign_in("refused");
            return Err(AppError::SignInRefused);
        };
        self.clear_sign_in_failures(&login).await?;
        let secret = sessions::new_session_secret();
        let session = SessionRecord {
            user_id: record.id,
            generation: record.session_generation,
            created_at: now,
            last_seen_at: now,
        };
        self.storage
            .sessions
            .put(&sessions::secret_hash(&secret), &session)
            .await?;
        tracing::info!(user = %record.id, "signed in");
        count_sign_in("signed_in");
        Ok(NewSession {
            secret,
            user: record.view(),
        })
    }

    /// The person a session cookie stands for, while the session lasts: not signed out, not
    /// idle longer than `--session-idle`, not older than `--session-max`, and the account
    /// neither disabled nor reset since. `None` otherwise (the console then asks to sign in).
    pub async fn session(&self, secret: &str) -> Result<Option<SessionCaller>, AppError> {
        if !secret.starts_with(sessions::SESSION_PREFIX) || secret.len() > 64 {
            return Ok(None);
        }
        let key = sessions::secret_hash(secret);
        let Some(mut session) = self.storage.sessions.get::<SessionRecord>(&key).await? else {
            return Ok(None);
        };
        let now = self.now();
        let limits = self.session_limits();
        let idle = chrono::Duration::from_std(limits.idle).unwrap_or(chrono::Duration::MAX);
        let max = chrono::Duration::from_std(limits.max).unwrap_or(chrono::Duration::MAX);
        let over = now - session.last_seen_at > idle || now - session.created_at > max;
        let record = match self.user_record(session.user_id).await? {
            Some(record)
                if !over
                    && record.disabled_at.is_none()
                    && record.password_hash.is_some()
                    && record.session_generation == session.generation =>
            {
                record
            }
            _ => {
                self.storage.sessions.remove(&key).await?;
                return Ok(None);
            }
        };
        if now - session.last_seen_at >= SESSION_TOUCH_EVERY {
            session.last_seen_at = now;
            self.storage.sessions.put(&key, &session).await?;
        }
        Ok(Some(SessionCaller {
            caller: Caller {
                id: CallerId::User(record.id),
                name: record.name,
                role: record.role,
                department: record.department,
            },
            login: record.login,
            form_token: form_token(secret),
        }))
    }

    /// Ends a session (signing out). Ending one that is over already is not an error.
    pub async fn sign_out(&self, secret: &str) -> Result<(), AppError> {
        self.storage
            .sessions
            .remove(&sessions::secret_hash(secret))
            .await?;
        Ok(())
    }

    /// Removes every session of an account (they would be refused anyway, by generation; this
    /// keeps the keyspace small).
    async fn remove_sessions_of(&self, user_id: Uuid) -> Result<(), AppError> {
        let sessions: Vec<(Vec<u8>, SessionRecord)> = self.storage.sessions.scan(b"").await?;
        let ended: Vec<_> = sessions
            .into_iter()
            .filter(|(_, session)| session.user_id == user_id)
            .map(|(key, _)| (key, None))
            .collect();
        if !ended.is_empty() {
            self.storage.sessions.apply(ended, true).await?;
        }
        Ok(())
    }

    /// Removes sessions past their idle or absolute limit; returns how many.
    pub async fn expire_sessions(&self) -> Result<usize, AppError> {
        let now = self.now();
        let limits = self.session_limits();
        let idle = chrono::Duration::from_std(limits.idle).unwrap_or(chrono::Duration::MAX);
        let max = chrono::Duration::from_std(limits.max).unwrap_or(chrono::Duration::MAX);
        let sessions: Vec<(Vec<u8>, SessionRecord)> = self.storage.sessions.scan(b"").await?;
        let over: Vec<_> = sessions
            .into_iter()
            .filter(|(_, session)| {
                now - session.last_seen_at > idle || now - session.created_at > max
            })
            .map(|(key, _)| (key, None))
            .collect();
        let count = over.len();
        if count > 0 {
            self.storage.sessions.apply(over, true).await?;
        }
        Ok(count)
    }
}

/// Counts a sign-in by how it ended (`signed_in`, `refused`, `locked`): what an operator
/// watches for password guessing.
fn count_sign_in(outcome: &'static str) {
    metrics::counter!("caseledger_console_sign_ins_total", "outcome" => outcome).increment(1);
}

fn login_taken() -> AppError {
    AppError::Conflict("an account with this login exists".into())
}

/// The claim guard of an ordinary account's login.
fn claim_key_for(login: &str) -> Vec<u8> {
    claim_key(login)
}
