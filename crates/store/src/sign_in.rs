//! The use cases of signing in to the web UI: links to choose a password, signing in and out,
//! and finding the session a browser's cookie names. Secrets (links, session cookies) are
//! random and stored as SHA-256 hashes, like API tokens; passwords as argon2id hashes.

use domain::auth::Actor;
use domain::session::{LinkPurpose, PasswordLink, WebSession, check_password};
use domain::{Error, Result, Timestamp};
use uuid::Uuid;

use crate::service::retrying;
use crate::{Store, passwords, tokens};

/// A link's secret, shown once, and when it stops working.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    pub secret: String,
    pub expires_at: Timestamp,
}

/// A new browser session: the cookie's secret (shown once) and the session.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret: String,
    pub session: WebSession,
}

/// Why a link did not let someone choose a password.
pub const LINK_UNUSABLE: &str = "this link has expired or has already been used; ask an owner or admin for a new one";

/// A link for the staff member to choose a password (the first owner's, at set-up).
pub async fn create_password_link(store: &dyn Store, org_id: Uuid, staff_id: Uuid, purpose: LinkPurpose) -> Result<IssuedLink> {
    let secret = tokens::generate();
    let link = PasswordLink::new(org_id, staff_id, purpose, Timestamp::now());
    retrying(|| async {
        let mut tx = store.begin().await?;
        tx.insert_password_link(&tokens::hash(&secret), &link).await?;
        tx.commit().await
    })
    .await?;
    Ok(IssuedLink { secret, expires_at: link.expires_at })
}

/// An owner or admin invites a staff member (no password yet) or lets them reset theirs. Who may
/// do this to whom is who may change that staff member: only an owner resets an owner's password.
pub async fn invite(store: &dyn Store, actor: &Actor, staff_id: Uuid) -> Result<IssuedLink> {
    actor.require_manager()?;
    let purpose = retrying(|| async {
        let mut tx = store.begin().await?;
        let staff = tx.staff(actor.org_id, staff_id).await?.ok_or(Error::NotFound("staff member"))?;
        actor.require_may_change_staff(&staff, None)?;
        if !staff.is_active {
            return Err(Error::Conflict("the staff member is deactivated; reactivate them first".into()));
        }
        Ok(if tx.has_password(actor.org_id, staff_id).await? { LinkPurpose::Reset } else { LinkPurpose::Invitation })
    })
    .await?;
    create_password_link(store, actor.org_id, staff_id, purpose).await
}

/// Sets the password of the link's staff member, uses the link up and signs them in, in one
/// transaction: a link works once even when two tabs submit it at the same moment.
pub async fn set_password(store: &dyn Store, link_secret: &str, password: String) -> Result<NewSession> {
    check_password(&password)?;
    let password_hash = passwords::hash(password).await?;
    let link_hash = tokens::hash(link_secret);
    retrying(|| async {
        let now = Timestamp::now();
        let mut tx = store.begin().await?;
        let link = tx.password_link(&link_hash).await?.filter(|link| link.is_usable(now));
        let link = link.ok_or_else(|| Error::Conflict(LINK_UNUSABLE.into()))?;
        let staff = tx.staff(link.org_id, link.staff_id).await?.filter(|staff| staff.is_active);
        let staff = staff.ok_or_else(|| Error::Conflict(LINK_UNUSABLE.into()))?;
        tx.use_password_link(&link_hash, now).await?;
        tx.save_password(link.org_id, link.staff_id, &password_hash, now).await?;
        let new = new_session(staff.org_id, staff.id, staff.name, staff.email, staff.role, now);
        tx.insert_web_session(&tokens::hash(&new.secret), &new.session).await?;
        tx.commit().await?;
        Ok(new)
    })
    .await
}

/// Signs in with an e-mail and a password: `None` for an unknown e-mail and for a wrong
/// password alike, each after the same argon2 work (see [`passwords::verify`]).
pub async fn sign_in(store: &dyn Store, email: &str, password: String) -> Result<Option<NewSession>> {
    if password.chars().count() > domain::session::PASSWORD_MAX_CHARS {
        passwords::verify(String::new(), None).await?;
        return Ok(None);
    }
    let holders = store.password_holders(&email.trim().to_lowercase()).await?;
    if holders.is_empty() {
        passwords::verify(password, None).await?;
        return Ok(None);
    }
    for holder in holders {
        if passwords::verify(password.clone(), Some(holder.password_hash)).await? {
            return start_session(store, holder.org_id, holder.staff_id).await;
        }
    }
    Ok(None)
}

async fn start_session(store: &dyn Store, org_id: Uuid, staff_id: Uuid) -> Result<Option<NewSession>> {
    retrying(|| async {
        let now = Timestamp::now();
        let mut tx = store.begin().await?;
        let Some(staff) = tx.staff(org_id, staff_id).await?.filter(|staff| staff.is_active) else { return Ok(None) };
        let new = new_session(org_id, staff_id, staff.name, staff.email, staff.role, now);
        tx.insert_web_session(&tokens::hash(&new.secret), &new.session).await?;
        tx.commit().await?;
        Ok(Some(new))
    })
    .await
}

fn new_session(org_id: Uuid, staff_id: Uuid, name: String, email: String, role: domain::auth::Role, now: Timestamp) -> NewSession {
    let session = WebSession { org_id, staff_id, name, email, role, csrf_token: tokens::generate(), created_at: now, last_seen_at: now };
    NewSession { secret: tokens::generate(), session }
}

/// The live session a cookie's secret names, of an active staff member; its last use is
/// recorded (to the minute) for the idle expiry.
pub async fn session(store: &dyn Store, secret: &str) -> Result<Option<WebSession>> {
    let hash = tokens::hash(secret);
    let now = Timestamp::now();
    let Some(session) = store.web_session(&hash).await?.filter(|session| session.is_live(now)) else { return Ok(None) };
    if session.needs_touch(now)
        && let Err(error) = store.touch_web_session(&hash, now).await
    {
        // Bookkeeping only: the session stays valid until the next touch succeeds.
        tracing::warn!(error = %error.describe(), "could not record when a session was last used");
    }
    Ok(Some(session))
}

pub async fn sign_out(store: &dyn Store, secret: &str) -> Result<()> {
    let hash = tokens::hash(secret);
    retrying(|| async {
        let mut tx = store.begin().await?;
        tx.delete_web_session(&hash).await?;
        tx.commit().await
    })
    .await
}
