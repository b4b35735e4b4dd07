//! Where the ledger's random bytes come from: the salts of value digests,
//! the nonces of encrypted values, webhook secrets and retry jitter. The
//! ledger takes an [`Entropy`] like it takes `now`, so its core stays free
//! of I/O and tests can replay a run exactly with [`SeededEntropy`].

use sha2::{Digest, Sha256};

use super::error::LedgerError;

/// A source of random bytes.
pub trait Entropy {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LedgerError>;

    /// `N` random bytes.
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], LedgerError>
    where
        Self: Sized,
    {
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Ok(b)
    }
}

impl<E: Entropy + ?Sized> Entropy for &mut E {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LedgerError> {
        (**self).fill(buf)
    }
}

/// The operating system's generator (`getrandom`; in a Worker,
/// `crypto.getRandomValues`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LedgerError> {
        getrandom::fill(buf).map_err(|e| LedgerError::Config { detail: format!("no randomness: {e}") })
    }
}

/// A deterministic stream (SHA-256 of a seed and a counter) for tests and
/// replays. Never for production data: anyone with the seed can predict it.
#[derive(Debug, Clone)]
pub struct SeededEntropy {
    seed: [u8; 32],
    counter: u64,
}

impl SeededEntropy {
    /// A stream from `seed`.
    pub fn new(seed: u64) -> SeededEntropy {
        SeededEntropy { seed: Sha256::digest(seed.to_le_bytes()).into(), counter: 0 }
    }
}

impl Entropy for SeededEntropy {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LedgerError> {
        for chunk in buf.chunks_mut(32) {
            let block = Sha256::new().chain_update(self.seed).chain_update(self.counter.to_le_bytes()).finalize();
            self.counter += 1;
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_stream_repeats_and_differs_by_seed() {
        let (mut a, mut b, mut c) = (SeededEntropy::new(1), SeededEntropy::new(1), SeededEntropy::new(2));
        let (x, y, z): ([u8; 40], [u8; 40], [u8; 40]) = (a.bytes().unwrap(), b.bytes().unwrap(), c.bytes().unwrap());
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(x[..8], a.bytes::<8>().unwrap(), "the stream moves on");
    }

    #[test]
    fn the_os_generator_fills() {
        let (x, y): ([u8; 32], [u8; 32]) = (OsEntropy.bytes().unwrap(), OsEntropy.bytes().unwrap());
        assert_ne!(x, y);
    }
}
