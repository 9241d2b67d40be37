#![no_main]
//! I1: arbitrary text through `FiscalCode::parse`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deleghe_domain::fuzzing::fiscal_code(data));
