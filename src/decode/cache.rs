//! [`SymbolizerCache`]: a memory-bounded LRU of [`Symbolizer`]s keyed by the ELF's SHA-256,
//! so the second dump of a firmware version decodes without parsing the ELF again.

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::error::DecodeError;
use super::symbols::Symbolizer;

/// LRU of symbolizers, bounded by the sum of [`Symbolizer::approx_memory_bytes`].
///
/// The most recent entry is always kept, even when it alone exceeds the bound. Building
/// happens outside the lock, so two threads may build the same ELF once each; the first
/// inserted wins.
pub struct SymbolizerCache {
    max_bytes: usize,
    inner: Mutex<Vec<([u8; 32], Arc<Symbolizer>)>>,
}

impl SymbolizerCache {
    /// A cache holding at most about `max_bytes` of symbolizers.
    pub fn new(max_bytes: usize) -> SymbolizerCache {
        SymbolizerCache {
            max_bytes,
            inner: Mutex::new(Vec::new()),
        }
    }

    /// The symbolizer of `elf`, built on a miss.
    pub fn get_or_build(&self, elf: &[u8]) -> Result<Arc<Symbolizer>, DecodeError> {
        let key: [u8; 32] = Sha256::digest(elf).into();
        if let Some(s) = self.get(&key) {
            return Ok(s);
        }
        let built = Arc::new(Symbolizer::with_sha256(elf.to_vec(), key)?);
        let mut v = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pos) = v.iter().position(|(k, _)| *k == key) {
            let entry = v.remove(pos);
            let s = entry.1.clone();
            v.push(entry);
            return Ok(s);
        }
        v.push((key, built.clone()));
        let mut total: usize = v.iter().map(|(_, s)| s.approx_memory_bytes()).sum();
        while total > self.max_bytes && v.len() > 1 {
            let (_, old) = v.remove(0);
            total = total.saturating_sub(old.approx_memory_bytes());
        }
        Ok(built)
    }

    /// The cached symbolizer for an ELF SHA-256, marking it most recently used.
    pub fn get(&self, sha256: &[u8; 32]) -> Option<Arc<Symbolizer>> {
        let mut v = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let pos = v.iter().position(|(k, _)| k == sha256)?;
        let entry = v.remove(pos);
        let s = entry.1.clone();
        v.push(entry);
        Some(s)
    }

    /// Number of cached symbolizers.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
