use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{FieldErrors, Patch, Result, Timestamp, text};

pub const NAME_MAX: usize = 200;
pub const PHONE_MAX: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Client {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// Lowercased; unique within the organization.
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    #[schema(value_type = String, required = true, min_length = 1)]
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    #[serde(default)]
    #[schema(value_type = String, min_length = 1)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Patch<String>,
}

impl Client {
    pub fn new(org_id: Uuid, input: CreateClient, now: Timestamp) -> Result<Client> {
        let mut errors = FieldErrors::default();
        let client = Client {
            id: Uuid::now_v7(),
            org_id,
            name: text::required(&mut errors, "name", input.name, NAME_MAX),
            email: text::email(&mut errors, "email", input.email),
            phone: text::optional(&mut errors, "phone", input.phone, PHONE_MAX),
            created_at: now,
            updated_at: now,
        };
        errors.into_result(client)
    }

    pub fn updated(&self, input: UpdateClient, now: Timestamp) -> Result<Client> {
        let mut errors = FieldErrors::default();
        let mut client = self.clone();
        match input.name {
            Patch::Absent => {}
            Patch::Null => errors.add("name", "cannot be null"),
            Patch::Value(name) => client.name = text::required(&mut errors, "name", Some(name), NAME_MAX),
        }
        if !input.email.is_absent() {
            client.email = text::email(&mut errors, "email", input.email.apply(None));
        }
        if !input.phone.is_absent() {
            client.phone = text::optional(&mut errors, "phone", input.phone.apply(None), PHONE_MAX);
        }
        if client != *self {
            client.updated_at = now;
        }
        errors.into_result(client)
    }
}

/// The client as embedded in an opportunity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ClientRef {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}
