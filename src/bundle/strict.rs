//! The checks of strict Ed25519 verification (ed25519-dalek's
//! `verify_strict`) that need no curve arithmetic, so that the curve equation
//! itself can be left to a host's Ed25519 (Node's `crypto`, WebCrypto) and
//! the result still be exactly `verify_strict`'s:
//!
//! - `S` must be canonical (`S < L`);
//! - `R` must not decode to a point of small order;
//! - the public key must not be of small order (refused when a key is
//!   imported, see [`PublicKey`](crate::bundle::PublicKey)), and a host only gets
//!   keys whose encoding is canonical ([`is_canonical_point`](crate::bundle::strict::is_canonical_point)).
//!
//! Given these, `verify_strict` and a cofactorless verifier that compares the
//! encoding of `[S]B - [k]A` with the bytes of `R` (as OpenSSL and BoringSSL
//! do) accept exactly the same signatures: both compare the canonical
//! encoding of the same point with `R`, and an `R` that does not decode can
//! never equal a canonical encoding.
//!
//! ```
//! use signalgate::bundle::strict;
//! let mut sig = [0u8; 64];
//! sig[0] = 0x58; // some R
//! assert!(strict::passes_prechecks(&sig));
//! sig[63] = 0x10; // S = 2^252 + 0 < L: still canonical
//! assert!(strict::passes_prechecks(&sig));
//! sig[63] = 0x20; // S >= L
//! assert!(!strict::passes_prechecks(&sig));
//! ```

/// The order L of the prime-order subgroup, little-endian.
pub const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Every 32-byte string that ed25519-dalek decodes to a point of small order
/// (the 8 torsion points, with the non-canonical `y + p` and the "negative
/// zero" sign bit where they decode too). `tests` derives the list again
/// from dalek and checks it is complete.
pub const SMALL_ORDER: [[u8; 32]; 14] = [
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("0000000000000000000000000000000000000000000000000000000000000080"),
    hex32("0100000000000000000000000000000000000000000000000000000000000000"),
    hex32("0100000000000000000000000000000000000000000000000000000000000080"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
];

const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => 0,
        }
    }
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// Whether the little-endian scalar `s` is fully reduced: `s < L`.
pub fn is_canonical_scalar(s: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if s[i] != L[i] {
            return s[i] < L[i];
        }
    }
    false
}

/// Whether `point` decodes to a point of small order (see [`SMALL_ORDER`]).
pub fn is_small_order(point: &[u8; 32]) -> bool {
    SMALL_ORDER.contains(point)
}

/// Whether the `y` coordinate of an encoded point is canonical (`y < p`,
/// `p = 2^255 - 19`). The sign bit is not looked at.
pub fn is_canonical_point(point: &[u8; 32]) -> bool {
    let top = point[31] & 0x7f;
    let all_ones = point[1..31].iter().all(|b| *b == 0xff);
    !(top == 0x7f && all_ones && point[0] >= 0xed)
}

/// The checks `verify_strict` makes of a signature before any curve
/// arithmetic: `S` canonical, `R` not of small order. A signature that fails
/// them never verifies strictly.
pub fn passes_prechecks(signature: &[u8; 64]) -> bool {
    let (r, s) = signature.split_at(32);
    let (Ok(r), Ok(s)) = (<&[u8; 32]>::try_from(r), <&[u8; 32]>::try_from(s)) else { return false };
    is_canonical_scalar(s) && !is_small_order(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

    /// Whether dalek decodes `bytes` to a point of small order (key import
    /// decompresses exactly as `verify_strict` decompresses `R`).
    fn dalek_small_order(bytes: &[u8; 32]) -> bool {
        VerifyingKey::from_bytes(bytes).is_ok_and(|k| k.is_weak())
    }

    /// `b` with `p` added to its `y`, if that still fits below 2^255.
    fn plus_p(b: &[u8; 32]) -> Option<[u8; 32]> {
        let sign = b[31] & 0x80;
        let mut p = [0xffu8; 32];
        (p[0], p[31]) = (0xed, 0x7f);
        let (mut out, mut carry) = ([0u8; 32], 0u16);
        for i in 0..32 {
            let s = u16::from(b[i] & if i == 31 { 0x7f } else { 0xff }) + u16::from(p[i]) + carry;
            out[i] = s as u8;
            carry = s >> 8;
        }
        (carry == 0 && out[31] & 0x80 == 0).then(|| {
            out[31] |= sign;
            out
        })
    }

    #[test]
    fn the_small_order_list_is_what_dalek_decodes_to_small_order() {
        for enc in &SMALL_ORDER {
            assert!(dalek_small_order(enc), "{enc:02x?}");
        }
        // Every variant of every listed encoding (other sign, y + p) is in
        // the list exactly when dalek decodes it to a small-order point.
        let mut variants = Vec::new();
        for enc in &SMALL_ORDER {
            let mut flipped = *enc;
            flipped[31] ^= 0x80;
            for v in [*enc, flipped] {
                variants.push(v);
                variants.extend(plus_p(&v));
            }
        }
        // And every y near 0, 1 and p, with either sign.
        for v in 0u8..=40 {
            for sign in [0, 0x80] {
                let mut low = [0u8; 32];
                (low[0], low[31]) = (v, sign);
                let mut high = [0xffu8; 32];
                (high[0], high[31]) = (0xff - v, 0x7f | sign);
                variants.extend([low, high]);
            }
        }
        for v in &variants {
            assert_eq!(is_small_order(v), dalek_small_order(v), "{v:02x?}");
        }
        // Points of large order are not in it.
        let key = SigningKey::from_bytes(&[9; 32]);
        assert!(!is_small_order(key.verifying_key().as_bytes()));
    }

    #[test]
    fn scalars_below_l_are_canonical() {
        assert!(!is_canonical_scalar(&L));
        let mut below = L;
        below[0] -= 1;
        assert!(is_canonical_scalar(&below));
        let mut above = L;
        above[0] += 1;
        assert!(!is_canonical_scalar(&above));
        assert!(is_canonical_scalar(&[0; 32]));
        assert!(!is_canonical_scalar(&[0xff; 32]));
    }

    #[test]
    fn canonical_points() {
        let mut p = [0xffu8; 32];
        (p[0], p[31]) = (0xec, 0x7f); // p - 1
        assert!(is_canonical_point(&p));
        p[0] = 0xed; // p
        assert!(!is_canonical_point(&p));
        p[31] = 0xff; // p, sign bit set
        assert!(!is_canonical_point(&p));
        assert!(is_canonical_point(&[0; 32]));
    }

    #[test]
    fn what_the_prechecks_refuse_verify_strict_refuses_too() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let msg = b"prechecked";
        let good = key.sign(msg).to_bytes();
        assert!(passes_prechecks(&good));
        assert!(key.verifying_key().verify_strict(msg, &Signature::from_bytes(&good)).is_ok());
        // S + L: the same scalar, not canonical.
        let mut s_plus_l = good;
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(s_plus_l[32 + i]) + u16::from(L[i]) + carry;
            s_plus_l[32 + i] = v as u8;
            carry = v >> 8;
        }
        // Every R of small order.
        let mut bad = vec![s_plus_l];
        for r in &SMALL_ORDER {
            let mut sig = good;
            sig[..32].copy_from_slice(r);
            bad.push(sig);
        }
        for sig in &bad {
            assert!(!passes_prechecks(sig));
            assert!(key.verifying_key().verify_strict(msg, &Signature::from_bytes(sig)).is_err());
        }
    }
}
