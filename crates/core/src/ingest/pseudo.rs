//! Keyed pseudonymisation of personal identifiers, applied at ingest so that
//! a raw numéro allocataire never leaves the reading stage.
//!
//! The key comes from `SUIVI_PSEUDONYM_KEY` (the key itself) or
//! `SUIVI_PSEUDONYM_KEY_FILE` (a file holding it), kept outside the
//! repository. Without either, a random key is drawn for the run: pseudonyms
//! then join sources within the run (all that the indicators need) but differ
//! from one run to the next. Pseudonyms never appear in any output either.

use crate::error::{Error, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use siphasher::sip::SipHasher24;
use std::hash::Hasher;

pub const KEY_ENV: &str = "SUIVI_PSEUDONYM_KEY";
pub const KEY_FILE_ENV: &str = "SUIVI_PSEUDONYM_KEY_FILE";
const MIN_KEY_BYTES: usize = 16;

/// Identifiers go through SipHash-2-4, a pseudorandom function keyed with
/// 128 bits derived from the secret by HMAC-SHA-256. A numéro allocataire
/// has only 10 million possible values: without the key, none of them can
/// be tested. SipHash is made for short inputs; it costs a few tens of
/// nanoseconds where an HMAC costs several hundred, on 25 million rows a
/// year at national scale, with no memo to share between threads.
#[derive(Clone)]
pub struct Pseudonymizer {
    keys: (u64, u64),
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(<key hidden>)")
    }
}

impl Pseudonymizer {
    pub fn with_key(key: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(b"suivi pseudonyms: SipHash-2-4 key");
        let derived = mac.finalize().into_bytes();
        let half = |range: std::ops::Range<usize>| {
            u64::from_le_bytes(derived[range].try_into().expect("8 bytes of 32"))
        };
        Pseudonymizer {
            keys: (half(0..8), half(8..16)),
        }
    }

    /// Whether the environment holds a key (otherwise [`Self::from_env`]
    /// draws one for the run).
    pub fn key_in_env() -> bool {
        std::env::var_os(KEY_ENV).is_some() || std::env::var_os(KEY_FILE_ENV).is_some()
    }

    /// The key from the environment, or a random one for this run.
    pub fn from_env() -> Result<Self> {
        let key = if let Ok(key) = std::env::var(KEY_ENV) {
            key.into_bytes()
        } else if let Ok(path) = std::env::var(KEY_FILE_ENV) {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                // Configuration, like a key too short: exit 2, not an internal error.
                Error::Usage(format!(
                    "cannot read the key file {KEY_FILE_ENV}={path}: {e}"
                ))
            })?;
            text.trim().as_bytes().to_vec()
        } else {
            // Nothing to act on for one run's figures: `check` says, once,
            // what to do for pseudonyms stable from run to run.
            tracing::debug!(
                "no {KEY_ENV} or {KEY_FILE_ENV} set: identifiers are pseudonymised with a random key for this run"
            );
            let key: [u8; 32] = rand::random();
            return Ok(Self::with_key(&key));
        };
        if key.len() < MIN_KEY_BYTES {
            return Err(Error::Usage(format!(
                "the pseudonymisation key must be at least {MIN_KEY_BYTES} bytes long"
            )));
        }
        Ok(Self::with_key(&key))
    }

    /// A 64-bit pseudonym: collisions among a million identifiers have a
    /// probability of about 3e-8.
    pub fn pseudonym(&self, id: &str) -> i64 {
        let mut hasher = SipHasher24::new_with_keys(self.keys.0, self.keys.1);
        hasher.write(id.as_bytes());
        hasher.finish() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_pseudonym_other_key_other_pseudonym() {
        let a = Pseudonymizer::with_key(b"0123456789abcdef");
        let b = Pseudonymizer::with_key(b"fedcba9876543210");
        assert_eq!(a.pseudonym("0123456"), a.pseudonym("0123456"));
        assert_ne!(a.pseudonym("0123456"), a.pseudonym("0123457"));
        assert_ne!(a.pseudonym("0123456"), b.pseudonym("0123456"));
    }
}
