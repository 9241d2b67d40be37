#![no_main]
//! M6: arbitrary bytes through `PdfDocument::parse` with the policy's size limit.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| deleghe_domain::fuzzing::pdf(data));
