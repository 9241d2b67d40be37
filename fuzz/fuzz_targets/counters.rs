#![no_main]
//! The counters file through `Counters::from_json`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deleghe_app::fuzzing::counters(data));
