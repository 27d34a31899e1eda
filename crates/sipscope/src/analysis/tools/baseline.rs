//! What an ordinary SIP client scores. Every SIP message shares syntax and common values
//! (`Max-Forwards: 70`, `<sip:user@host>;tag=`, `SIP/2.0/UDP host:port;branch=z9hG4bK…`), so an
//! entry whose patterns are mostly such things fits any phone halfway. An entry's similarity is
//! therefore measured above its baseline: the best it scores against these requests, written
//! the way common softphones, desk phones and PBXs write them.

use crate::analysis::fingerprint::{Fingerprint, FingerprintBuilder};
use std::net::SocketAddr;

const SRC: &str = "192.0.2.44:5062";
const DST: &str = "198.51.100.9:5060";

/// One request per client family (addresses: [`SRC`] → [`DST`]).
const REQUESTS: &[&str] = &[
    // Linphone (liblinphone / belle-sip).
    "REGISTER sip:198.51.100.9 SIP/2.0\r\n\
     Via: SIP/2.0/UDP 192.0.2.44:5062;branch=z9hG4bK.Xr3u7sYq1;rport\r\n\
     From: <sip:201@198.51.100.9>;tag=Zb4aLp0x~\r\n\
     To: sip:201@198.51.100.9\r\n\
     CSeq: 20 REGISTER\r\n\
     Call-ID: Qz8e1TnWk2\r\n\
     Max-Forwards: 70\r\n\
     Supported: replaces, outbound, gruu\r\n\
     Accept: application/sdp\r\n\
     Accept: text/plain\r\n\
     Expires: 3600\r\n\
     User-Agent: Linphone Desktop/4.4.10 (Ubuntu 22.04) LinphoneCore/5.1.64\r\n\
     Contact: <sip:201@192.0.2.44:5062;transport=udp>;+sip.instance=\"<urn:uuid:5d1a0c4e>\"\r\n\
     Content-Length: 0\r\n\r\n",
    // PJSIP-based softphones (MicroSIP, Asterisk res_pjsip as a client).
    "REGISTER sip:198.51.100.9 SIP/2.0\r\n\
     Via: SIP/2.0/UDP 192.0.2.44:5062;rport;branch=z9hG4bKPj4a8f2c7d1e\r\n\
     Max-Forwards: 70\r\n\
     From: \"202\" <sip:202@198.51.100.9>;tag=9f3a1c2b4d\r\n\
     To: \"202\" <sip:202@198.51.100.9>\r\n\
     Call-ID: 0b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e\r\n\
     CSeq: 36851 REGISTER\r\n\
     User-Agent: MicroSIP/3.21.3\r\n\
     Contact: \"202\" <sip:202@192.0.2.44:5062;ob>\r\n\
     Expires: 300\r\n\
     Allow: PRACK, INVITE, ACK, BYE, CANCEL, UPDATE, INFO, SUBSCRIBE, NOTIFY, REFER, MESSAGE, OPTIONS\r\n\
     Content-Length:  0\r\n\r\n",
    // Zoiper.
    "REGISTER sip:198.51.100.9;transport=UDP SIP/2.0\r\n\
     Via: SIP/2.0/UDP 192.0.2.44:5062;branch=z9hG4bK-524287-1---0ad9e5f1e5f5a1d2;rport\r\n\
     Max-Forwards: 70\r\n\
     Contact: <sip:203@192.0.2.44:5062;rinstance=6f8e1b2c3d4a5b6c;transport=UDP>\r\n\
     To: <sip:203@198.51.100.9;transport=UDP>\r\n\
     From: <sip:203@198.51.100.9;transport=UDP>;tag=7a1b2c3d\r\n\
     Call-ID: YmQ5ZTFhN2E4ZjZjNWQ0YzNiMmExMGU5ZjhkN2M2YjU.\r\n\
     CSeq: 1 REGISTER\r\n\
     Expires: 60\r\n\
     Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
     User-Agent: Z 5.5.12 v2.10.18.6\r\n\
     Allow-Events: presence, kpml, talk\r\n\
     Content-Length: 0\r\n\r\n",
    // A desk phone.
    "REGISTER sip:198.51.100.9 SIP/2.0\r\n\
     Via: SIP/2.0/UDP 192.0.2.44:5062;branch=z9hG4bK1873957411;rport\r\n\
     From: \"204\" <sip:204@198.51.100.9>;tag=1497395232\r\n\
     To: \"204\" <sip:204@198.51.100.9>\r\n\
     Call-ID: 0_3413374521@192.0.2.44\r\n\
     CSeq: 1 REGISTER\r\n\
     Contact: <sip:204@192.0.2.44:5062>\r\n\
     Max-Forwards: 70\r\n\
     User-Agent: Yealink SIP-T46S 66.86.0.15\r\n\
     Expires: 3600\r\n\
     Allow: INVITE, INFO, PRACK, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REGISTER, SUBSCRIBE, REFER, PUBLISH, UPDATE, MESSAGE\r\n\
     Content-Length: 0\r\n\r\n",
    // Asterisk chan_sip qualifying a peer.
    "OPTIONS sip:205@198.51.100.9:5060 SIP/2.0\r\n\
     Via: SIP/2.0/UDP 192.0.2.44:5062;branch=z9hG4bK6a3b2c1d;rport\r\n\
     Max-Forwards: 70\r\n\
     From: \"asterisk\" <sip:asterisk@192.0.2.44>;tag=as5f2e1d0c\r\n\
     To: <sip:205@198.51.100.9:5060>\r\n\
     Contact: <sip:asterisk@192.0.2.44:5062>\r\n\
     Call-ID: 3c2a1b0e5f6d7c8b9a0e1f2d3c4b5a69@192.0.2.44:5062\r\n\
     CSeq: 102 OPTIONS\r\n\
     User-Agent: Asterisk PBX 18.20.0\r\n\
     Date: Mon, 04 Mar 2024 10:12:31 GMT\r\n\
     Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE\r\n\
     Supported: replaces, timer\r\n\
     Content-Length: 0\r\n\r\n",
];

/// One fingerprint per ordinary client.
pub fn fingerprints() -> Vec<Fingerprint> {
    let (src, dst): (SocketAddr, SocketAddr) = (SRC.parse().expect("address"), DST.parse().expect("address"));
    REQUESTS
        .iter()
        .map(|text| {
            let mut builder = FingerprintBuilder::new();
            builder.add(&sipscope_sip::parse(text.as_bytes()).expect("a request"), src, dst);
            builder.fingerprint()
        })
        .collect()
}
