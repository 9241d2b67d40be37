#![no_main]
//! The policy file through `Policy::from_json`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deleghe_domain::fuzzing::policy(data));
