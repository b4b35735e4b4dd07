//! Signal values, kept apart from the chain. An event commits to a value by
//! its salted digest only; the value and its salt live in `signal_values`,
//! sealed with the tenant's data key when the class says so
//! ([`crate::model::policy::Class::encrypt`]). Erasing a value deletes that
//! row: the chain still verifies, and with the salt gone its digest no
//! longer tells which vocabulary value it was.
//!
//! Reading checks each value against its digest, so a changed plaintext is
//! found like a changed ciphertext (which fails to open).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::entropy::Entropy;
use super::error::LedgerError;
use super::seal::{sealed_kid, DataKeys};
use super::store::{int, text, Statement, Store};
use crate::codec::b64;

/// A signal version's value as stored, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredValue {
    /// The salt of its digest.
    pub salt: String,
    /// The value.
    pub value: String,
    /// Whether it is stored encrypted.
    pub sealed: bool,
}

/// The values of a subject, by `(signal_id, version)`.
pub type Values = BTreeMap<(String, u32), StoredValue>;

/// A fresh salt: 16 random bytes, base64url.
pub fn new_salt(entropy: &mut impl Entropy) -> Result<String, LedgerError> {
    Ok(b64::encode(&entropy.bytes::<16>()?))
}

/// The digest the chain keeps for `value` under `salt`: SHA-256 over a
/// domain label, the salt's length and the salt, and the value, hex.
pub fn digest(salt: &str, value: &str) -> String {
    let d = Sha256::new()
        .chain_update(b"signalgate value v1\0")
        .chain_update((salt.len() as u64).to_le_bytes())
        .chain_update(salt.as_bytes())
        .chain_update(value.as_bytes())
        .finalize();
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a sealed value is bound to: its row (so it cannot be moved to
/// another signal, version or subject) and its salt.
fn aad(subject: &str, signal_id: &str, version: u32, salt: &str) -> Vec<u8> {
    format!("signal_values\0{subject}\0{signal_id}\0{version}\0{salt}").into_bytes()
}

/// Everything needed to write values: the keyring and a source of nonces.
pub struct Sealer<'k, 'e> {
    /// The data keyring.
    pub keys: &'k DataKeys,
    /// Nonces and salts.
    pub entropy: &'e mut dyn Entropy,
}

impl Sealer<'_, '_> {
    /// The statement that stores a value (sealed when `encrypt`).
    #[allow(clippy::too_many_arguments)]
    pub fn put(
        &mut self,
        tenant: &str,
        subject: &str,
        signal_id: &str,
        version: u32,
        salt: &str,
        value: &str,
        encrypt: bool,
    ) -> Result<Statement, LedgerError> {
        let stored = if encrypt {
            self.keys.seal(tenant, &aad(subject, signal_id, version, salt), value.as_bytes(), &mut self.entropy)?
        } else {
            value.to_string()
        };
        Ok(Statement::new(
            "INSERT INTO signal_values (tenant_id, subject_id, signal_id, version, salt, value) VALUES (?, ?, ?, ?, ?, ?)",
            vec![tenant.into(), subject.into(), signal_id.into(), version.into(), salt.into(), stored.into()],
        ))
    }

    /// Statements that seal again, under the active key, every value of
    /// the subject sealed under an older one (key rotation: old values move
    /// to the new key as the subject is written).
    pub fn reseal_stale(
        &mut self,
        store: &mut impl Store,
        tenant: &str,
        subject: &str,
    ) -> Result<Vec<Statement>, LedgerError> {
        let rows = store.query(
            "SELECT signal_id, version, salt, value FROM signal_values \
             WHERE tenant_id = ? AND subject_id = ? AND value LIKE 'v1.%' AND value NOT LIKE ?",
            &[tenant.into(), subject.into(), format!("v1.{}.%", self.keys.active_kid()).into()],
        )?;
        let mut out = Vec::new();
        for r in &rows {
            let (signal_id, salt, stored) = (text(r, 0)?, text(r, 2)?, text(r, 3)?);
            let version = u32::try_from(int(r, 1)?).unwrap_or(0);
            if !self.keys.needs_rotation(&stored) {
                continue;
            }
            let aad = aad(subject, &signal_id, version, &salt);
            let plain = self.keys.open(tenant, &aad, &stored)?;
            let resealed = self.keys.seal(tenant, &aad, &plain, &mut self.entropy)?;
            out.push(Statement::new(
                "UPDATE signal_values SET value = ? WHERE tenant_id = ? AND subject_id = ? AND signal_id = ? AND version = ?",
                vec![resealed.into(), tenant.into(), subject.into(), signal_id.into(), version.into()],
            ));
        }
        Ok(out)
    }
}

/// Reads and opens every stored value of a subject.
pub fn load(store: &mut impl Store, keys: &DataKeys, tenant: &str, subject: &str) -> Result<Values, LedgerError> {
    let rows = store.query(
        "SELECT signal_id, version, salt, value FROM signal_values WHERE tenant_id = ? AND subject_id = ?",
        &[tenant.into(), subject.into()],
    )?;
    let mut out = Values::new();
    for r in &rows {
        let (signal_id, salt, stored) = (text(r, 0)?, text(r, 2)?, text(r, 3)?);
        let version = u32::try_from(int(r, 1)?).map_err(|_| LedgerError::Integrity { detail: "version".into() })?;
        let sealed = sealed_kid(&stored).is_some();
        let value = if sealed {
            let plain = keys.open(tenant, &aad(subject, &signal_id, version, &salt), &stored).map_err(|e| match e {
                LedgerError::Integrity { detail } => {
                    LedgerError::Integrity { detail: format!("the value of {signal_id} v{version}: {detail}") }
                }
                other => other,
            })?;
            String::from_utf8(plain).map_err(|_| LedgerError::Integrity {
                detail: format!("the value of {signal_id} v{version}: not UTF-8"),
            })?
        } else {
            stored
        };
        out.insert((signal_id, version), StoredValue { salt, value, sealed });
    }
    Ok(out)
}

/// The value of a version if it is stored and matches the digest the chain
/// holds for it; a stored value that does not match is an integrity
/// failure naming the signal.
pub fn checked<'v>(
    values: &'v Values,
    signal_id: &str,
    version: u32,
    value_digest: &str,
) -> Result<Option<&'v str>, LedgerError> {
    match values.get(&(signal_id.to_string(), version)) {
        None => Ok(None),
        Some(v) if digest(&v.salt, &v.value) == value_digest => Ok(Some(v.value.as_str())),
        Some(_) => Err(LedgerError::Integrity {
            detail: format!("the stored value of {signal_id} v{version} does not match the digest in its event"),
        }),
    }
}

/// The statements that erase the values of these versions (the rows,
/// salts included).
pub fn erase(tenant: &str, subject: &str, versions: &[(String, u32)]) -> Vec<Statement> {
    versions
        .iter()
        .map(|(id, v)| {
            Statement::new(
                "DELETE FROM signal_values WHERE tenant_id = ? AND subject_id = ? AND signal_id = ? AND version = ?",
                vec![tenant.into(), subject.into(), id.as_str().into(), (*v).into()],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entropy::SeededEntropy;
    use crate::ledger::store::Value;

    #[test]
    fn digests_depend_on_salt_and_value() {
        assert_eq!(digest("s", "de"), digest("s", "de"));
        assert_ne!(digest("s", "de"), digest("t", "de"));
        assert_ne!(digest("s", "de"), digest("s", "en"));
        assert_ne!(digest("s\0d", "e"), digest("s", "d\0e"), "the salt's length keeps the parts apart");
        assert_eq!(digest("s", "de").len(), 64);
    }

    #[test]
    fn sealed_values_are_bound_to_their_row() {
        let mut e = SeededEntropy::new(3);
        let keys = DataKeys::from_json(&DataKeys::generate("k1", &mut e).unwrap()).unwrap();
        let mut sealer = Sealer { keys: &keys, entropy: &mut e };
        let st = sealer.put("t", "u", "sig_1", 1, "salt", "injury-recovery", true).unwrap();
        let Value::Text(stored) = &st.params[5] else { panic!("text") };
        assert!(stored.starts_with("v1.k1."), "{stored}");
        assert!(!stored.contains("injury"));
        assert!(keys.open("t", &aad("u", "sig_1", 1, "salt"), stored).is_ok());
        assert!(keys.open("t", &aad("u", "sig_1", 2, "salt"), stored).is_err(), "another version");
        assert!(keys.open("t", &aad("v", "sig_1", 1, "salt"), stored).is_err(), "another subject");
        let plain = sealer.put("t", "u", "sig_2", 1, "salt", "de", false).unwrap();
        assert_eq!(plain.params[5], Value::Text("de".into()));
    }
}
