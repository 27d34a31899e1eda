//! Whole-message parsing, as a datagram and as a framed stream message, with default and tight
//! limits; every accessor and typed view of the result; a response built to each request.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sipscope_sip_fuzz::parse_all_ways(data);
});
