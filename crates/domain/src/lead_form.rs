//! Website lead forms: a public endpoint per form that turns an inquiry into an opportunity.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Actor, non_null};
use crate::opportunity::{CreateOpportunity, References};
use crate::{FieldErrors, Patch, Result, Timestamp, text};

pub const NAME_MAX: usize = 100;
pub const MESSAGE_MAX: usize = 5_000;
pub const ORIGINS_MAX: usize = 20;
pub const THANK_YOU_URL_MAX: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LeadForm {
    pub id: Uuid,
    pub org_id: Uuid,
    /// The public key in the submission URL: `/api/v1/public/lead-forms/{form_key}/submissions`.
    pub form_key: String,
    pub name: String,
    /// Given to every opportunity the form creates, while the category is active.
    pub category_id: Option<Uuid>,
    /// Assigned every opportunity the form creates, while the staff member is active.
    pub assigned_to: Option<Uuid>,
    /// Web origins (`https://clinic.example`) whose pages may submit; browsers elsewhere are refused.
    pub allowed_origins: Vec<String>,
    /// Where a visitor's browser goes after sending the form (an absolute http(s) URL, such as
    /// the clinic's own thank-you page); `null` for the hosted thank-you page.
    pub thank_you_url: Option<String>,
    pub is_active: bool,
    pub created_by: Uuid,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLeadForm {
    #[schema(value_type = String, required = true, min_length = 1)]
    pub name: Option<String>,
    pub category_id: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
    pub allowed_origins: Option<Vec<String>>,
    #[schema(max_length = 2000, example = "https://clinic.example/thank-you")]
    pub thank_you_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLeadForm {
    #[serde(default)]
    #[schema(value_type = String, min_length = 1)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub category_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub assigned_to: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_origins: Patch<Vec<String>>,
    /// `null` goes back to the hosted thank-you page.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub thank_you_url: Patch<String>,
    /// `false` disables the form: its submissions answer 404.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_active: Patch<bool>,
}

/// What a visitor sends through a website form, as JSON or as a plain HTML form post.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    #[schema(value_type = String, required = true, min_length = 1)]
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Up to 5,000 characters; becomes the opportunity's description.
    pub message: Option<String>,
    /// A honeypot: keep this field hidden from people and empty. Bots fill it in; their
    /// submission is answered like any other and dropped.
    pub website: Option<String>,
}

impl LeadForm {
    pub fn new(actor: &Actor, input: CreateLeadForm, form_key: String, now: Timestamp) -> Result<(LeadForm, References)> {
        let mut errors = FieldErrors::default();
        let form = LeadForm {
            id: Uuid::now_v7(),
            org_id: actor.org_id,
            form_key,
            name: text::required(&mut errors, "name", input.name, NAME_MAX),
            category_id: input.category_id,
            assigned_to: input.assigned_to,
            allowed_origins: origins(&mut errors, input.allowed_origins.unwrap_or_default()),
            thank_you_url: thank_you_url(&mut errors, input.thank_you_url),
            is_active: true,
            created_by: actor.staff_id,
            created_at: now,
            updated_at: now,
        };
        let references = form.references();
        errors.into_result((form, references))
    }

    pub fn updated(&self, input: UpdateLeadForm, now: Timestamp) -> Result<(LeadForm, References)> {
        let mut errors = FieldErrors::default();
        let mut form = self.clone();
        match input.name {
            Patch::Absent => {}
            Patch::Null => errors.add("name", "cannot be null"),
            Patch::Value(name) => form.name = text::required(&mut errors, "name", Some(name), NAME_MAX),
        }
        form.category_id = input.category_id.clone().apply(form.category_id);
        form.assigned_to = input.assigned_to.clone().apply(form.assigned_to);
        if !input.allowed_origins.is_absent() {
            form.allowed_origins = origins(&mut errors, input.allowed_origins.apply(None).unwrap_or_default());
        }
        if !input.thank_you_url.is_absent() {
            form.thank_you_url = thank_you_url(&mut errors, input.thank_you_url.apply(None));
        }
        form.is_active = non_null(&mut errors, "is_active", input.is_active, form.is_active);
        if form != *self {
            form.updated_at = now;
        }
        let references = References {
            client_id: None,
            category_id: input.category_id.value().copied(),
            assigned_to: input.assigned_to.value().copied(),
        };
        errors.into_result((form, references))
    }

    fn references(&self) -> References {
        References { client_id: None, category_id: self.category_id, assigned_to: self.assigned_to }
    }

    /// The hosted form page on the site at `base_url` (`https://crm.example`): a page to link to
    /// or put in an iframe.
    pub fn hosted_url(&self, base_url: &str) -> String {
        format!("{base_url}{}", hosted_path(&self.form_key))
    }

    /// Whether a browser page at `origin` may submit to this form.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        self.allowed_origins.contains(&origin)
    }

    /// Where a visitor's browser goes after a submission: the clinic's page, or the hosted one.
    pub fn thank_you_location(&self) -> String {
        self.thank_you_url.clone().unwrap_or_else(|| hosted_thank_you_path(&self.form_key))
    }

    /// The opportunity a submission becomes: a website lead, due for a follow-up tomorrow.
    pub fn inquiry(&self, submission: Submission, now: Timestamp) -> Result<CreateOpportunity> {
        let mut errors = FieldErrors::default();
        let name = text::required(&mut errors, "name", submission.name, crate::opportunity::NAME_MAX);
        let email = text::email(&mut errors, "email", submission.email);
        let phone = text::optional(&mut errors, "phone", submission.phone, crate::opportunity::PHONE_MAX);
        let message = text::optional(&mut errors, "message", submission.message, MESSAGE_MAX);
        if email.is_none() && phone.is_none() {
            errors.add("email", "an e-mail address or a phone number is required, so the clinic can answer");
        }
        let title: String = format!("Website Inquiry - {}", self.name).chars().take(crate::opportunity::TITLE_MAX).collect();
        errors.into_result(CreateOpportunity {
            title: Some(title),
            prospect_name: Some(name),
            prospect_email: email,
            prospect_phone: phone,
            description: message,
            source: Some("website".into()),
            category_id: self.category_id,
            assigned_to: self.assigned_to,
            follow_up_date: Some(Timestamp::from_datetime(now.datetime() + time::Duration::days(1))),
            ..CreateOpportunity::default()
        })
    }
}

impl Submission {
    /// A filled-in honeypot: a bot, whose submission is dropped without telling it so.
    pub fn is_from_a_bot(&self) -> bool {
        self.website.as_deref().is_some_and(|value| !value.trim().is_empty())
    }
}

/// Origins as browsers send them: `scheme://host[:port]`, lowercase, no path.
fn origins(errors: &mut FieldErrors, values: Vec<String>) -> Vec<String> {
    if values.len() > ORIGINS_MAX {
        errors.add("allowed_origins", format!("at most {ORIGINS_MAX} origins"));
    }
    let normalized: Vec<String> = values.iter().map(|v| v.trim().trim_end_matches('/').to_ascii_lowercase()).collect();
    let valid = |origin: &str| {
        let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
        rest.is_some_and(|host| !host.is_empty() && !host.contains(['/', '?', '#', ' ', '*']) && !text::has_control_characters(host))
    };
    if let Some(bad) = normalized.iter().find(|origin| !valid(origin)) {
        errors.add("allowed_origins", format!("`{bad}` is not an origin such as https://clinic.example"));
    }
    normalized
}

/// Where the hosted form page of `form_key` is served: a page to link to or frame.
pub fn hosted_path(form_key: &str) -> String {
    format!("/forms/{form_key}")
}

/// The hosted thank-you page, for forms without a `thank_you_url`.
pub fn hosted_thank_you_path(form_key: &str) -> String {
    format!("/forms/{form_key}/thanks")
}

/// Where a website's form posts to.
pub fn submission_path(form_key: &str) -> String {
    format!("/api/v1/public/lead-forms/{form_key}/submissions")
}

/// The HTML to paste into a page of the clinic's site, served at `base_url`
/// (`https://crm.example`), as the README documents it: labelled fields, the honeypot hidden
/// from people, no script. `base_url` is put into an attribute as it is: callers pass a checked one.
pub fn embed_html(base_url: &str, form_key: &str) -> String {
    let action = submission_path(form_key);
    format!(
        r#"<form method="post" action="{base_url}{action}">
  <label>Name (required) <input name="name" required autocomplete="name"></label>
  <label>E-mail <input name="email" type="email" autocomplete="email"></label>
  <label>Phone <input name="phone" type="tel" autocomplete="tel"></label>
  <label>Message <textarea name="message"></textarea></label>
  <input name="website" style="display:none" tabindex="-1" autocomplete="off">
  <button>Send</button>
</form>"#
    )
}

/// An absolute http(s) URL, as browsers follow it from a `Location` header.
fn thank_you_url(errors: &mut FieldErrors, value: Option<String>) -> Option<String> {
    let value = text::optional(errors, "thank_you_url", value, THANK_YOU_URL_MAX)?;
    match url::Url::parse(&value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Some(url.into()),
        _ => {
            errors.add("thank_you_url", "must be an absolute http(s) URL such as https://clinic.example/thank-you");
            Some(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn form(origins: &[&str]) -> LeadForm {
        let actor = Actor {
            org_id: Uuid::nil(),
            staff_id: Uuid::nil(),
            name: "A".into(),
            role: Role::Admin,
            token_id: Uuid::nil(),
            token_last_used_at: None,
        };
        let input = CreateLeadForm {
            name: Some("Botox".into()),
            allowed_origins: Some(origins.iter().map(|o| o.to_string()).collect()),
            ..Default::default()
        };
        LeadForm::new(&actor, input, "lf_x".into(), Timestamp::now()).unwrap().0
    }

    #[test]
    fn origins_are_normalised_and_matched_exactly() {
        let form = form(&["https://Clinic.example/", "http://localhost:3000"]);
        assert!(form.allows_origin("https://clinic.example"));
        assert!(form.allows_origin("http://localhost:3000"));
        assert!(!form.allows_origin("https://clinic.example.evil"));
        assert!(!form.allows_origin("http://clinic.example"));
    }

    #[test]
    fn thank_you_urls_are_absolute_http() {
        let check = |value: &str| {
            let mut errors = FieldErrors::default();
            let kept = thank_you_url(&mut errors, Some(value.into()));
            errors.into_result(kept).ok().flatten()
        };
        assert_eq!(check("https://clinic.example/thanks?from=form").as_deref(), Some("https://clinic.example/thanks?from=form"));
        assert_eq!(check(" http://localhost:3000 ").as_deref(), Some("http://localhost:3000/"));
        for bad in ["/thanks", "javascript:alert(1)", "ftp://clinic.example/", "https://", "clinic.example/thanks"] {
            assert_eq!(check(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_submission_becomes_a_website_lead_due_tomorrow() {
        let now = Timestamp::parse("2026-02-19T10:00:00Z").unwrap();
        let submission = Submission { name: Some("Jane".into()), email: Some("jane@example.com".into()), ..Default::default() };
        let lead = form(&[]).inquiry(submission, now).unwrap();
        assert_eq!(lead.title.as_deref(), Some("Website Inquiry - Botox"));
        assert_eq!(lead.source.as_deref(), Some("website"));
        assert_eq!(lead.follow_up_date.unwrap().to_string(), "2026-02-20T10:00:00Z");
        assert!(form(&[]).inquiry(Submission { name: Some("Jane".into()), ..Default::default() }, now).is_err());
    }
}
