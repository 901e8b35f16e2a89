//! Staff passwords, hashed with argon2id (its default parameters: 19 MiB, two passes), off the
//! async threads because each hash takes tens of milliseconds of one core on purpose.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use domain::{Error, Result};

/// The PHC string to store for `password`.
pub async fn hash(password: String) -> Result<String> {
    blocking(move || {
        Argon2::default().hash_password(password.as_bytes()).map(|hash| hash.to_string()).map_err(|error| Error::internal(Argon(error)))
    })
    .await?
}

/// Whether `password` is the one `stored` (a PHC string) was made from. Without a stored hash
/// (no such account), a dummy is checked instead, so that an unknown e-mail takes as long to
/// refuse as a wrong password and timing does not tell which accounts exist.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool> {
    blocking(move || {
        let stored = stored.as_deref().unwrap_or(&DUMMY);
        let matches = PasswordHash::new(stored).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok());
        matches && stored != DUMMY.as_str()
    })
    .await
}

/// A hash of a random password nobody knows, made with the same parameters as real ones.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    let mut secret = [0u8; 32];
    rand::fill(&mut secret);
    Argon2::default().hash_password(&secret).map(|hash| hash.to_string()).unwrap_or_default()
});

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(Error::internal)
}

/// argon2's error as a `std::error::Error`, for [`Error::internal`].
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
struct Argon(argon2::password_hash::Error);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery".into()).await.expect("hashes");
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse battery".into(), Some(stored.clone())).await.expect("verifies"));
        assert!(!verify("wrong horse battery".into(), Some(stored)).await.expect("verifies"));
        assert!(!verify("anything".into(), None).await.expect("verifies"), "no account never matches");
    }
}
