//! Who may do what: the tokens callers authenticate with and their administration, the role
//! gates of every operation, and which cases a caller may see at all (a partner sees only the
//! cases shared with its department, and learns nothing of the others, not even that they
//! exist).
//!
//! The domain's own `authorize` decides which role may run which case command; this module
//! owns the service's checks around it. It knows nothing of HTTP.

use caseledger_domain::{Actor, ActorRecord, Case, Department, FieldError, Rejection, Role, Rule};
use uuid::Uuid;

use crate::app::App;
use crate::error::AppError;
use crate::tokens::{Caller, IssuedToken, TokenRecord};

/// Whether `role` may read complainants' personal data (officers, supervisors and admins).
pub(crate) fn may_see_personal_data(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Supervisor | Role::Officer)
}

/// `Forbidden` unless the caller holds one of the `allowed` roles; `what` completes "may not".
pub(crate) fn require_role(caller: &Caller, allowed: &[Role], what: &str) -> Result<(), AppError> {
    if allowed.contains(&caller.role) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "the {} role may not {what}",
            caller.role
        )))
    }
}

/// Who runs a command: a token's holder, or the service itself.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Principal<'a> {
    Token(&'a Caller),
    System,
}

impl Principal<'_> {
    /// The domain's view of the actor. The service acts with an admin's powers, limited by
    /// what it ever asks: recording missed deadlines.
    pub(crate) fn actor(&self) -> Actor {
        match self {
            Principal::Token(caller) => Actor {
                name: caller.name.clone(),
                role: caller.role,
                department: caller.department.clone(),
            },
            Principal::System => Actor {
                name: "system".into(),
                role: Role::Admin,
                department: None,
            },
        }
    }

    /// The actor as the envelope records it.
    pub(crate) fn record(&self) -> ActorRecord {
        match self {
            Principal::Token(caller) => ActorRecord {
                token_id: caller.id.token(),
                user_id: caller.id.user(),
                name: caller.name.clone(),
                role: caller.role.into(),
                department: caller.department.clone(),
            },
            Principal::System => ActorRecord::system(),
        }
    }
}

impl App {
    /// The caller a bearer token stands for; `None` when it is unknown or revoked, or when
    /// this instance cannot vouch for its tokens now (see [`App::check_token`]).
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        self.tokens.check(token).ok().flatten()
    }

    /// The caller a bearer token stands for (`None`: unknown or revoked); `Unavailable` (503)
    /// when this instance shares its store with others and has not managed to re-read the
    /// tokens for longer than [`crate::tokens::TOKEN_TRUST_WINDOW`]: it fails closed rather
    /// than honour a token that may have been revoked through another instance.
    pub fn check_token(&self, token: &str) -> Result<Option<Caller>, AppError> {
        self.tokens.check(token)
    }

    /// Whether the token `token_id` is known and not revoked (a revoked token stops exports and backups between chunks).
    pub fn token_is_active(&self, token_id: Uuid) -> bool {
        self.tokens.is_active(token_id)
    }

    /// On a store with no token yet, issues the first admin token.
    pub async fn issue_initial_admin_token(&self) -> Result<Option<IssuedToken>, AppError> {
        if !self.tokens.is_empty() {
            return Ok(None);
        }
        self.tokens.issue_initial_admin(self.now()).await
    }

    /// Issues a token (admins only). Partners need a known department; no other role has one.
    pub async fn issue_token(
        &self,
        caller: &Caller,
        name: String,
        role: Role,
        department: Option<Department>,
    ) -> Result<IssuedToken, AppError> {
        require_role(caller, &[Role::Admin], "manage tokens")?;
        let mut errors = Vec::new();
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new("name", "must be 1 to 200 characters"));
        }
        errors.extend(self.department_problem(role, department.as_ref(), "token"));
        if !errors.is_empty() {
            return Err(Rejection::Invalid(errors).into());
        }
        self.tokens.issue(name, role, department, self.now()).await
    }

    /// What is wrong with giving `department` to a token or an account (`what`) of `role`:
    /// partners need a known one, no other role has one.
    pub(crate) fn department_problem(
        &self,
        role: Role,
        department: Option<&Department>,
        what: &str,
    ) -> Option<FieldError> {
        let message = match (department, role) {
            (None, Role::Partner) => format!("a partner {what} needs the department it acts for"),
            (Some(department), Role::Partner) if !self.policy.knows(department) => {
                format!("unknown department '{department}'")
            }
            (Some(_), role) if role != Role::Partner => {
                format!("only partner {what}s belong to a department")
            }
            _ => return None,
        };
        Some(FieldError::new("department", message))
    }

    /// Every token record (admins only).
    pub fn list_tokens(&self, caller: &Caller) -> Result<Vec<TokenRecord>, AppError> {
        require_role(caller, &[Role::Admin], "manage tokens")?;
        Ok(self.tokens.list())
    }

    /// Revokes a token at once (admins only).
    pub async fn revoke_token(&self, caller: &Caller, id: Uuid) -> Result<TokenRecord, AppError> {
        require_role(caller, &[Role::Admin], "manage tokens")?;
        self.tokens.revoke(id, self.now()).await
    }

    /// `NotFound` unless the case exists and the caller may see it.
    pub(crate) fn ensure_visible(&self, caller: &Caller, case: &Case) -> Result<(), AppError> {
        if !case.opened {
            return Err(AppError::NotFound("case".into()));
        }
        if caller.role == Role::Partner {
            let shared = caller
                .department
                .as_ref()
                .is_some_and(|department| case.is_shared_with(department));
            if !shared {
                return Err(AppError::NotFound("case".into()));
            }
        }
        Ok(())
    }

    /// A partner asking about a case not shared with it learns nothing, not even that it exists.
    pub(crate) fn hide_unshared(&self, role: Role, rejection: Rejection) -> AppError {
        match (&rejection, role) {
            (
                Rejection::Conflict {
                    rule: Rule::NotSharedWithDepartment,
                    ..
                },
                Role::Partner,
            ) => AppError::NotFound("case".into()),
            _ => rejection.into(),
        }
    }
}
