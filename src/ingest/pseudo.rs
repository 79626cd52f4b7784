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
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

pub const KEY_ENV: &str = "SUIVI_PSEUDONYM_KEY";
pub const KEY_FILE_ENV: &str = "SUIVI_PSEUDONYM_KEY_FILE";
const MIN_KEY_BYTES: usize = 16;

/// Shards of the memo: the reading threads rarely wait on the same lock.
const SHARD_BITS: u32 = 4;
const SHARDS: usize = 1 << SHARD_BITS;

type Memo = Mutex<HashMap<Box<str>, i64, foldhash::fast::FixedState>>;

#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
    /// Identifier → pseudonym: a household has a row a month, and one HMAC
    /// costs more than a lookup. Shared by every source and thread.
    memo: Arc<[Memo]>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(<key hidden>)")
    }
}

impl Pseudonymizer {
    pub fn with_key(key: &[u8]) -> Self {
        let mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
        let memo = (0..SHARDS).map(|_| Memo::default()).collect();
        Pseudonymizer { mac, memo }
    }

    /// The key from the environment, or a random one for this run.
    pub fn from_env() -> Result<Self> {
        let key = if let Ok(key) = std::env::var(KEY_ENV) {
            key.into_bytes()
        } else if let Ok(path) = std::env::var(KEY_FILE_ENV) {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::io(format!("reading {KEY_FILE_ENV}={path}"), e))?;
            text.trim().as_bytes().to_vec()
        } else {
            tracing::info!(
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
        // The top bits pick the shard; the map's buckets use the low ones.
        let hash = foldhash::fast::FixedState::default().hash_one(id);
        let shard = (hash >> (64 - SHARD_BITS)) as usize;
        let mut memo = self.memo[shard].lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&pseudonym) = memo.get(id) {
            return pseudonym;
        }
        let pseudonym = self.hmac(id);
        memo.insert(id.into(), pseudonym);
        pseudonym
    }

    fn hmac(&self, id: &str) -> i64 {
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        i64::from_le_bytes(digest[..8].try_into().expect("SHA-256 gives 32 bytes"))
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
