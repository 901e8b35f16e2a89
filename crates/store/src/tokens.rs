//! API token secrets: random, prefixed so that secret scanners recognise them, stored hashed.

use sha2::{Digest, Sha256};

/// Marks a string as an Opportunities API token.
pub const PREFIX: &str = "opp_";

/// Marks a string as the public key of a website lead form.
pub const FORM_KEY_PREFIX: &str = "lf_";

/// A new secret: the prefix and 256 random bits in hex.
pub fn generate() -> String {
    format!("{PREFIX}{}", random_hex::<32>())
}

/// A new webhook signing secret: 256 random bits, named for what it is.
pub fn generate_webhook_secret() -> String {
    format!("whsec_{}", random_hex::<32>())
}

/// A new lead form key: public, so 128 random bits only make it unguessable.
pub fn generate_form_key() -> String {
    format!("{FORM_KEY_PREFIX}{}", random_hex::<16>())
}

/// Whether `text` has the shape of a form key, so that anything else is turned away without
/// asking the database.
pub fn is_form_key(text: &str) -> bool {
    text.strip_prefix(FORM_KEY_PREFIX).is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn random_hex<const BYTES: usize>() -> String {
    let mut bytes = [0u8; BYTES];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What is stored and looked up: a token is never kept in the clear. A fast hash is enough
/// because the secret has 256 bits of entropy; there is nothing to brute-force.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_unique_and_hashed() {
        let (a, b) = (generate(), generate());
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        assert_ne!(a, b);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert!(is_form_key(&generate_form_key()));
        assert!(!is_form_key("lf_nope") && !is_form_key("lf_\u{0}"));
    }
}
