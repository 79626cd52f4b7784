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

type Map<K> = HashMap<K, i64, foldhash::fast::FixedState>;

/// One shard: short identifiers (all real ones) packed into a number,
/// compared without a string comparison; longer ones as text.
#[derive(Default)]
struct Memo {
    short: Map<u128>,
    long: Map<Box<str>>,
}

/// Up to 15 bytes and their length in one number.
fn pack(id: &str) -> Option<u128> {
    let bytes = id.as_bytes();
    if bytes.len() > 15 {
        return None;
    }
    let mut packed = [0u8; 16];
    packed[..bytes.len()].copy_from_slice(bytes);
    packed[15] = bytes.len() as u8;
    Some(u128::from_le_bytes(packed))
}

#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
    /// Identifier → pseudonym: a household has a row a month, and one HMAC
    /// costs more than a lookup. Shared by every source and thread.
    memo: Arc<[Mutex<Memo>]>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(<key hidden>)")
    }
}

impl Pseudonymizer {
    pub fn with_key(key: &[u8]) -> Self {
        let mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
        let memo = (0..SHARDS).map(|_| Mutex::default()).collect();
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
        let packed = pack(id);
        let state = foldhash::fast::FixedState::default();
        let hash = packed.map_or_else(|| state.hash_one(id), |p| state.hash_one(p));
        // The top bits pick the shard; the maps' buckets use the low ones.
        let shard = (hash >> (64 - SHARD_BITS)) as usize;
        let mut memo = self.memo[shard].lock().unwrap_or_else(|e| e.into_inner());
        let known = match packed {
            Some(p) => memo.short.get(&p),
            None => memo.long.get(id),
        };
        if let Some(&pseudonym) = known {
            return pseudonym;
        }
        let pseudonym = self.hmac(id);
        match packed {
            Some(p) => memo.short.insert(p, pseudonym),
            None => memo.long.insert(id.into(), pseudonym),
        };
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
