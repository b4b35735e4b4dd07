//! The one base64 form a bundle may use: base64url without padding, with
//! canonical trailing bits (so each value has exactly one encoding).

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// Unpadded, canonical base64url.
pub const URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    URL.encode(bytes)
}

/// Decodes strict unpadded base64url; `None` for any other form.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    URL.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_canonical_form_decodes() {
        assert_eq!(decode("AQI").unwrap(), vec![1, 2]);
        assert!(decode("AQI=").is_none(), "padding");
        assert!(decode("AQJ").is_none(), "non-zero trailing bits");
        assert!(decode("AQ+").is_none(), "standard alphabet");
        assert!(decode("A").is_none(), "impossible length");
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }
}
