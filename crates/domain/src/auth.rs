//! Staff members, their roles, and who may do what.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Error, FieldErrors, Patch, Result, Timestamp, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Role::Owner, Role::Admin, Role::Member].into_iter().find(|r| r.as_str() == text)
    }

    /// Owners and admins set the organization up: categories, staff, tokens, lead forms.
    pub fn manages_organization(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// The authenticated caller of a request: every query runs inside `org_id`.
#[derive(Debug, Clone)]
pub struct Actor {
    pub org_id: Uuid,
    pub staff_id: Uuid,
    pub name: String,
    pub role: Role,
    pub token_id: Uuid,
    /// When the token was last used before this request, to the minute.
    pub token_last_used_at: Option<Timestamp>,
}

impl Actor {
    /// `last_used_at` is kept to the minute: recording every request would turn every read
    /// into a write.
    pub fn token_use_is_stale(&self, now: Timestamp) -> bool {
        self.token_last_used_at.is_none_or(|at| now.unix_micros() - at.unix_micros() >= 60_000_000)
    }

    /// Categories and staff are the organization's set-up: owners and admins only.
    pub fn require_manager(&self) -> Result<()> {
        if self.role.manages_organization() { Ok(()) } else { Err(Error::Forbidden("only an owner or admin may do this")) }
    }

    /// Managers may change any staff member but an owner; only an owner changes owners or makes one.
    pub fn require_may_change_staff(&self, target: &Staff, new_role: Option<Role>) -> Result<()> {
        self.require_manager()?;
        let touches_owner = target.role == Role::Owner || new_role == Some(Role::Owner);
        if touches_owner && self.role != Role::Owner {
            return Err(Error::Forbidden("only an owner may change an owner or grant the owner role"));
        }
        Ok(())
    }

    /// Anyone may hold tokens for themselves; managers issue and revoke them for others.
    pub fn require_may_manage_tokens_of(&self, target: &Staff) -> Result<()> {
        if target.id == self.staff_id {
            return Ok(());
        }
        self.require_may_change_staff(target, None)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Staff {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaff {
    #[schema(value_type = String, required = true, min_length = 1)]
    pub name: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1)]
    pub email: Option<String>,
    pub role: Option<Role>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaff {
    #[serde(default)]
    #[schema(value_type = String, min_length = 1)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Role)]
    pub role: Patch<Role>,
    /// `false` deactivates: the member can no longer sign in and cannot be assigned leads.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_active: Patch<bool>,
}

pub const NAME_MAX: usize = 200;

impl Staff {
    pub fn new(org_id: Uuid, input: CreateStaff, now: Timestamp) -> Result<Staff> {
        let mut errors = FieldErrors::default();
        let name = text::required(&mut errors, "name", input.name, NAME_MAX);
        let email = text::email(&mut errors, "email", input.email);
        if email.is_none() {
            errors.add("email", "is required");
        }
        errors.into_result(Staff {
            id: Uuid::now_v7(),
            org_id,
            name,
            email: email.unwrap_or_default(),
            role: input.role.unwrap_or(Role::Member),
            is_active: true,
            created_at: now,
            updated_at: now,
        })
    }

    pub fn updated(&self, input: UpdateStaff, now: Timestamp) -> Result<Staff> {
        let mut errors = FieldErrors::default();
        let mut staff = self.clone();
        match input.name {
            Patch::Absent => {}
            Patch::Null => errors.add("name", "cannot be null"),
            Patch::Value(name) => staff.name = text::required(&mut errors, "name", Some(name), NAME_MAX),
        }
        staff.role = non_null(&mut errors, "role", input.role, staff.role);
        staff.is_active = non_null(&mut errors, "is_active", input.is_active, staff.is_active);
        if staff != *self {
            staff.updated_at = now;
        }
        errors.into_result(staff)
    }

    /// An active owner: the organization must always keep at least one.
    pub fn is_active_owner(&self) -> bool {
        self.is_active && self.role == Role::Owner
    }
}

/// The value a non-nullable field takes under a patch; `null` is an error.
pub(crate) fn non_null<T>(errors: &mut FieldErrors, field: &str, patch: Patch<T>, current: T) -> T {
    match patch {
        Patch::Absent => current,
        Patch::Null => {
            errors.add(field, "cannot be null");
            current
        }
        Patch::Value(value) => value,
    }
}

/// An API token as stored: only its hash is kept; the secret is shown once, when issued.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: Uuid,
    pub org_id: Uuid,
    pub staff_id: Uuid,
    pub name: Option<String>,
    pub hash: Vec<u8>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A label to recognise the token by, such as "reception laptop".
    pub name: Option<String>,
}

/// A token as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: Uuid,
    pub staff_id: Uuid,
    pub name: Option<String>,
    pub created_at: Timestamp,
    /// To the minute; null if never used.
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedToken {
    pub id: Uuid,
    pub staff_id: Uuid,
    pub name: Option<String>,
    /// The secret: shown only in this response. Send it as `Authorization: Bearer <token>`.
    pub token: String,
    pub created_at: Timestamp,
}

/// A caller for the domain's unit tests: a new staff member of a new organization.
#[cfg(test)]
pub(crate) fn test_actor(role: Role) -> Actor {
    Actor { org_id: Uuid::now_v7(), staff_id: Uuid::now_v7(), name: "Sam".into(), role, token_id: Uuid::nil(), token_last_used_at: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role) -> Actor {
        test_actor(role)
    }

    fn staff(role: Role) -> Staff {
        let input = CreateStaff { name: Some("S".into()), email: Some("s@example.com".into()), role: Some(role) };
        Staff::new(Uuid::nil(), input, Timestamp::now()).unwrap()
    }

    #[test]
    fn only_managers_manage_and_only_owners_touch_owners() {
        assert!(actor(Role::Member).require_manager().is_err());
        assert!(actor(Role::Admin).require_may_change_staff(&staff(Role::Member), Some(Role::Admin)).is_ok());
        assert!(actor(Role::Admin).require_may_change_staff(&staff(Role::Owner), None).is_err());
        assert!(actor(Role::Admin).require_may_change_staff(&staff(Role::Member), Some(Role::Owner)).is_err());
        assert!(actor(Role::Owner).require_may_change_staff(&staff(Role::Owner), Some(Role::Member)).is_ok());
    }

    #[test]
    fn members_manage_only_their_own_tokens() {
        let member = actor(Role::Member);
        let mut own = staff(Role::Member);
        own.id = member.staff_id;
        assert!(member.require_may_manage_tokens_of(&own).is_ok());
        assert!(member.require_may_manage_tokens_of(&staff(Role::Member)).is_err());
    }
}
