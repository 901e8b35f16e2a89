//! Signing in to the web UI: what a password must be, how long a link to choose one lives, and
//! when a browser session ends. The store keeps the secrets hashed; this module only decides.

use time::Duration;
use uuid::Uuid;

use crate::auth::{Actor, Role};
use crate::{Error, Result, Timestamp};

/// Long enough that a guessed password is out of reach behind the sign-in rate limit, without
/// rules on character classes (NIST SP 800-63B: length, not composition).
pub const PASSWORD_MIN_CHARS: usize = 12;
/// argon2 hashes any length, but an outsider must not make the server hash megabytes.
pub const PASSWORD_MAX_CHARS: usize = 128;

/// A password a staff member may choose.
pub fn check_password(password: &str) -> Result<()> {
    let length = password.chars().count();
    if length < PASSWORD_MIN_CHARS {
        return Err(Error::field("password", format!("must be at least {PASSWORD_MIN_CHARS} characters")));
    }
    if length > PASSWORD_MAX_CHARS {
        return Err(Error::field("password", format!("must be at most {PASSWORD_MAX_CHARS} characters")));
    }
    Ok(())
}

/// Why a link to choose a password was made. Each lives as long as its use needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// The first owner's, printed by the first `serve`.
    Setup,
    /// A staff member who has no password yet.
    Invitation,
    /// A staff member who has one and forgot it.
    Reset,
}

impl LinkPurpose {
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Setup => "setup",
            LinkPurpose::Invitation => "invitation",
            LinkPurpose::Reset => "reset",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [LinkPurpose::Setup, LinkPurpose::Invitation, LinkPurpose::Reset].into_iter().find(|p| p.as_str() == text)
    }

    /// An invitation travels by e-mail or chat and may wait a few days; a reset link is for
    /// someone at a screen right now, and an account that has a password is worth more to steal.
    pub const fn lifetime(self) -> Duration {
        match self {
            LinkPurpose::Setup | LinkPurpose::Invitation => Duration::days(7),
            LinkPurpose::Reset => Duration::hours(1),
        }
    }
}

/// A link to choose a password, as stored (its secret only as a hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordLink {
    pub org_id: Uuid,
    pub staff_id: Uuid,
    pub purpose: LinkPurpose,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

impl PasswordLink {
    pub fn new(org_id: Uuid, staff_id: Uuid, purpose: LinkPurpose, now: Timestamp) -> Self {
        let expires_at = Timestamp::from_datetime(now.datetime() + purpose.lifetime());
        PasswordLink { org_id, staff_id, purpose, created_at: now, expires_at, used_at: None }
    }

    /// Unused and unexpired: a link works once.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

/// Where staff reach this server, as they type it (`https://crm.example.com`): links to choose
/// a password are built on it, and a session cookie is `Secure` when it is https.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    /// `base` without a trailing slash; `None` unless it is an http or https URL.
    pub fn parse(base: &str) -> Option<Self> {
        let base = base.trim().trim_end_matches('/');
        let rest = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://"))?;
        (!rest.is_empty() && !rest.contains(char::is_whitespace)).then(|| PublicUrl(base.to_owned()))
    }

    /// The address itself, for links to this server's pages and routes.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The scheme, host and port: what a browser sends as `Origin` from this site's pages.
    pub fn origin(&self) -> &str {
        let after_scheme = self.0.find("://").map_or(0, |at| at + 3);
        self.0[after_scheme..].find('/').map_or(&self.0, |slash| &self.0[..after_scheme + slash])
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// The page where a link's holder chooses a password (set-up, invitation and reset alike).
    pub fn password_link(&self, secret: &str) -> String {
        format!("{}/setup/{secret}", self.0)
    }
}

/// A session ends after this long without a request: a reception desk's computer is shared.
pub const SESSION_IDLE: Duration = Duration::hours(12);
/// And after this long in any case, so a stolen cookie does not work forever.
pub const SESSION_ABSOLUTE: Duration = Duration::days(7);
/// `last_seen_at` is recorded at most this often, so that reading a page is not a write.
pub const SESSION_TOUCH_EVERY: Duration = Duration::minutes(1);

/// A signed-in browser, as the store finds it with its staff member (who is active: the store
/// never returns a session of a deactivated one).
#[derive(Debug, Clone)]
pub struct WebSession {
    pub org_id: Uuid,
    pub staff_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

impl WebSession {
    /// Neither idle too long nor too old.
    pub fn is_live(&self, now: Timestamp) -> bool {
        let now = now.datetime();
        now < self.last_seen_at.datetime() + SESSION_IDLE && now < self.created_at.datetime() + SESSION_ABSOLUTE
    }

    pub fn needs_touch(&self, now: Timestamp) -> bool {
        now.datetime() >= self.last_seen_at.datetime() + SESSION_TOUCH_EVERY
    }

    /// The caller the use cases take. A session has no API token; `token_id` is nil and never
    /// looked up (the pages call use cases, never the token bookkeeping).
    pub fn actor(&self) -> Actor {
        Actor {
            org_id: self.org_id,
            staff_id: self.staff_id,
            name: self.name.clone(),
            role: self.role,
            token_id: Uuid::nil(),
            token_last_used_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_micros(seconds * 1_000_000).expect("in range")
    }

    #[test]
    fn passwords_are_long_but_bounded() {
        assert!(check_password("short").is_err());
        assert!(check_password(&"x".repeat(PASSWORD_MIN_CHARS)).is_ok());
        assert!(check_password(&"é".repeat(PASSWORD_MAX_CHARS)).is_ok(), "characters, not bytes");
        assert!(check_password(&"x".repeat(PASSWORD_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn links_work_once_and_expire() {
        let link = PasswordLink::new(Uuid::nil(), Uuid::nil(), LinkPurpose::Reset, at(0));
        assert!(link.is_usable(at(3599)));
        assert!(!link.is_usable(at(3600)));
        assert!(!PasswordLink { used_at: Some(at(1)), ..link }.is_usable(at(2)));
        assert_eq!(LinkPurpose::parse("invitation"), Some(LinkPurpose::Invitation));
    }

    #[test]
    fn public_urls_are_http_or_https_bases() {
        let url = PublicUrl::parse("https://crm.example.com/").expect("valid");
        assert!(url.is_https());
        assert_eq!(PublicUrl::parse("https://example.com/crm").expect("valid").origin(), "https://example.com");
        assert_eq!(url.origin(), "https://crm.example.com");
        assert_eq!(url.password_link("s3"), "https://crm.example.com/setup/s3");
        assert!(!PublicUrl::parse("http://127.0.0.1:8080").expect("valid").is_https());
        assert!(PublicUrl::parse("ftp://x").is_none() && PublicUrl::parse("https://").is_none());
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let hour = 3600;
        let session = WebSession {
            org_id: Uuid::nil(),
            staff_id: Uuid::nil(),
            name: "Sam".into(),
            email: "sam@example.com".into(),
            role: Role::Member,
            csrf_token: String::new(),
            created_at: at(0),
            last_seen_at: at(0),
        };
        assert!(session.is_live(at(11 * hour)));
        assert!(!session.is_live(at(12 * hour)), "idle");
        let busy = WebSession { last_seen_at: at(7 * 24 * hour - 1), ..session };
        assert!(busy.is_live(at(7 * 24 * hour - 1)) && !busy.is_live(at(7 * 24 * hour)), "absolute");
    }
}
