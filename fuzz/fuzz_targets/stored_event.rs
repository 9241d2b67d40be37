#![no_main]
//! A stored row through the upcasters into the domain's event types.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deleghe_adapters::fuzzing::stored_event(data));
