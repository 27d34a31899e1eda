use super::*;

/// CERT.br, "Anatomy of SIP Attacks", Table 2: one source, one new agent per session.
const TABLE_2: [&str; 6] = [
    "DmQCAsNRKZYayfosaXES",
    "yy3BHtWnCBPco3knmRqG",
    "KdUhQNVVxaZYfHg0rXFD",
    "otYvAff8mpZviS2CfF6M",
    "5y5ttWMXPbFIeyHb4l4D",
    "YDjb3Q8Wiw6442YCXMnE",
];

/// Deterministic strings like Table 2's: 20 characters of `[A-Za-z0-9]` (splitmix64, seeded).
fn random_agents(seed: u64, n: usize) -> Vec<String> {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..n).map(|_| (0..20).map(|_| char::from(ALNUM[(next() % 62) as usize])).collect()).collect()
}

fn lib() -> AgentLibrary {
    AgentLibrary::builtin()
}

fn product(ua: &str) -> Option<String> {
    classify(Some(ua), &lib()).product
}

#[test]
fn builtin_parses_and_every_example_resolves_to_its_own_entry() {
    let lib = lib();
    assert!(lib.len() >= 60, "{}", lib.len());
    for e in &lib.entries {
        assert!(!e.examples.is_empty(), "{} has no example", e.product);
        for ex in &e.examples {
            let m = classify(Some(ex), &lib);
            assert_eq!(m.product.as_deref(), Some(e.product.as_str()), "{ex:?} is shadowed by an earlier entry");
            assert_eq!(m.class, e.class, "{ex:?}");
            assert!(!looks_random(ex), "{ex:?} is a real agent but looks random");
        }
    }
}

#[test]
fn every_class_has_a_stable_name() {
    let names: Vec<&str> = UaClass::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        names,
        ["none", "attack_tool", "softphone", "hardphone", "pbx_server", "sdk", "random_looking", "other"]
    );
}

#[test]
fn absent_blank_known_and_unknown() {
    let lib = lib();
    assert_eq!(classify(None, &lib), UaMatch { class: UaClass::None, product: None });
    assert_eq!(classify(Some(" \t"), &lib).class, UaClass::None);
    let m = classify(Some("  friendly-scanner "), &lib);
    assert_eq!((m.class, m.product.as_deref()), (UaClass::AttackTool, Some("SIPVicious")));
    assert_eq!(classify(Some("SomeHomegrownPhone/1.0"), &lib), UaMatch { class: UaClass::Other, product: None });
    // A single random string is unknown, never RandomLooking: that is the tracker's call.
    assert_eq!(classify(Some(TABLE_2[0]), &lib).class, UaClass::Other);
}

#[test]
fn papers_agents() {
    let lib = lib();
    assert_eq!(classify(Some("VaxSIPUserAgent/3.0"), &lib).class, UaClass::Sdk);
    assert_eq!(classify(Some("Cisco-SIPGateway/IOS-12.x"), &lib).class, UaClass::AttackTool);
    assert_eq!(classify(Some("Cisco-SIPGateway/IOS-15.x"), &lib).class, UaClass::PbxServer);
    assert_eq!(classify(Some("cisco-sipgateway/ios-12.x"), &lib).class, UaClass::PbxServer, "spoof entry is exact");
    assert_eq!(classify(Some("VOIP"), &lib).class, UaClass::AttackTool);
    assert_eq!(classify(Some("VoIP"), &lib).class, UaClass::Other);
    assert_eq!(product("3CXPhoneSystem 16.0.5.611").as_deref(), Some("3CX Phone System"));
    assert_eq!(product("3CXPhone 6.0.26523.0").as_deref(), Some("3CXPhone"));
    assert_eq!(product("ASTERISK PBX 13.1").as_deref(), Some("Asterisk"), "ASCII case is ignored by default");
}

#[test]
fn every_agent_in_the_tool_fixtures_is_known() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sip/tests/fixtures/tools");
    let lib = lib();
    let mut seen = 0;
    for tool in std::fs::read_dir(&dir).unwrap() {
        let tool = tool.unwrap().path();
        if !tool.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&tool).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            for line in String::from_utf8_lossy(&bytes).split("\r\n") {
                let Some(ua) = line.strip_prefix("User-Agent:") else { continue };
                let m = classify(Some(ua), &lib);
                assert!(m.product.is_some(), "{ua:?} in {}", tool.display());
                seen += 1;
            }
        }
    }
    assert!(seen >= 80, "only {seen} agents found under {}", dir.display());
}

#[test]
fn user_files_come_first_and_are_checked() {
    let user = r#"
[[agent]]
product = "Our lab phone"
class = "softphone"
patterns = ["friendly-scanner"]
examples = ["Friendly-Scanner"]
note = "our test rig really sends this"
"#;
    let lib = AgentLibrary::parse(user, "mine.toml").unwrap().before(AgentLibrary::builtin());
    assert_eq!(product("friendly-scanner").as_deref(), Some("SIPVicious"));
    assert_eq!(classify(Some("friendly-scanner"), &lib).product.as_deref(), Some("Our lab phone"));
    assert_eq!(classify(Some("sipsak 0.9"), &lib).product.as_deref(), Some("sipsak"), "built-ins still apply");

    let err = |text: &str| AgentLibrary::parse(text, "mine.toml").unwrap_err().to_string();
    let entry = |extra: &str| format!("[[agent]]\nproduct = \"P\"\nclass = \"sdk\"\n{extra}\n");
    assert!(err(&entry("patterns = [\"p*\"]\nbogus = 1")).contains("unknown field"));
    assert!(err(&entry("patterns = [\"p*\"]\n[other]")).contains("unknown field"));
    assert!(err(&entry("patterns = []")).contains("no patterns"));
    assert!(err(&entry("patterns = [\"*?*\"]")).contains("would match anything"));
    assert!(err(&entry("patterns = [\"p*\"]\nexamples = [\"q\"]")).contains("matches none"));
    assert!(err("[[agent]]\nproduct = \"P\"\nclass = \"random_looking\"\npatterns = [\"p\"]")
        .contains("given by the analysis"));
    assert!(err("[[agent]]\nproduct = \"P\"\nclass = \"robot\"\npatterns = [\"p\"]").contains("unknown variant"));
    assert!(AgentLibrary::parse("", "empty.toml").unwrap().is_empty());
    let missing = AgentLibrary::load(std::path::Path::new("/nonexistent/agents.toml")).unwrap_err();
    assert!(missing.to_string().starts_with("cannot read /nonexistent/agents.toml"), "{missing}");
}

#[test]
fn looks_random_separates_table_2_from_real_agents() {
    for s in TABLE_2 {
        assert!(looks_random(s), "{s}");
    }
    let generated = random_agents(7, 1000);
    let hits = generated.iter().filter(|s| looks_random(s)).count();
    assert!(hits >= 950, "{hits}/1000 generated strings look random");
    for s in
        ["friendly-scanner", "VaxSIPUserAgent/3.0", "StarTrinityFriendlyScanner", "PolycomSoundPointIP", "CiscoSPA504G"]
    {
        assert!(!looks_random(s), "{s}");
    }
    // Limits, on purpose: short, single-class (hex, lower case) and separated strings do not count.
    for s in ["DmQCAsNRKZYa", "3f9a0c1be77d42a1c0ffee5b", "qzxkvbnwptrhgmls", "DmQCAs NRKZYayfosaXES"] {
        assert!(!looks_random(s), "{s}");
    }
    let loose = RandomAgentConfig { min_len: 12, ..RandomAgentConfig::default() };
    assert!(loose.looks_random("DmQCAsNRKZYa"));
}

fn feed(t: &mut AgentTracker, agents: &[&str]) -> Vec<UaClass> {
    let lib = lib();
    agents.iter().map(|a| t.observe(Some(a), &lib).class).collect()
}

#[test]
fn table_2_source_becomes_random_looking() {
    let mut t = AgentTracker::default();
    let classes = feed(&mut t, &TABLE_2);
    // The first three are merely unknown: four different agents are needed to see a pattern.
    assert_eq!(classes[..3], [UaClass::Other; 3]);
    assert_eq!(classes[3..], [UaClass::RandomLooking; 3]);
    assert!(t.is_random_looking());
    assert_eq!(t.stats(), AgentStats { messages: 6, without_agent: 0, agents: 6, repeats: 0, random: 6 });
    // Known agents from the same source keep their class.
    assert_eq!(t.observe(Some("friendly-scanner"), &lib()).class, UaClass::AttackTool);
}

#[test]
fn one_string_per_session_still_counts() {
    // INVITE, ACK and a retransmission per session share a string (CERT.br saw one per session).
    let agents = random_agents(11, 10);
    let mut seq = Vec::new();
    for a in &agents {
        seq.extend([a.as_str(); 3]);
    }
    let mut t = AgentTracker::default();
    feed(&mut t, &seq);
    assert!(t.is_random_looking());
    // Four messages per string on average is more than "nearly every message".
    let mut t = AgentTracker::default();
    let four: Vec<&str> = agents.iter().flat_map(|a| [a.as_str(); 4]).collect();
    feed(&mut t, &four);
    assert!(!t.is_random_looking());
}

#[test]
fn constant_rotating_known_and_absent_agents_are_not_random() {
    let lib = lib();
    let mut constant = AgentTracker::default();
    feed(&mut constant, &[TABLE_2[0]; 20]);
    assert!(!constant.is_random_looking(), "one random-looking string, always the same, is just a name");

    let mut rotating = AgentTracker::default();
    let few = random_agents(3, 3);
    let cycle: Vec<&str> = (0..30).map(|i| few[i % 3].as_str()).collect();
    feed(&mut rotating, &cycle);
    assert!(!rotating.is_random_looking(), "{:?}", rotating.stats());

    let mut known = AgentTracker::default();
    let list = ["X-Lite release 4.9.8 stamp 84253", "Zoiper rv2.10.19.8", "Asterisk PBX 16.28.0", "MicroSIP/3.21.3"];
    feed(&mut known, &(0..20).map(|i| list[i % 4]).collect::<Vec<_>>());
    assert!(!known.is_random_looking(), "a SIPVicious variant rotating real agents is not random-looking");

    let mut absent = AgentTracker::default();
    for _ in 0..10 {
        assert_eq!(absent.observe(None, &lib).class, UaClass::None);
    }
    assert!(!absent.is_random_looking());
    assert_eq!(absent.stats().without_agent, 10);
}

#[test]
fn tracker_memory_is_bounded() {
    let cfg = RandomAgentConfig { recent_agents: 10, ..RandomAgentConfig::default() };
    let mut t = AgentTracker::new(cfg);
    let lib = lib();
    for a in random_agents(5, 20_000) {
        t.observe(Some(&a), &lib);
    }
    assert!(t.heap_bytes() <= 10 * 8, "{}", t.heap_bytes());
    assert!(t.is_random_looking());
    assert_eq!(t.stats().agents, 20_000);
}

/// The `toml` blocks of docs/user-agents.md, in order.
fn doc_blocks() -> Vec<&'static str> {
    let doc = include_str!("../../../../../docs/user-agents.md");
    doc.split("```toml\n").skip(1).map(|b| b.split("```").next().unwrap()).collect()
}

#[test]
fn the_documented_file_and_defaults_are_real() {
    let blocks = doc_blocks();
    assert_eq!(blocks.len(), 2);
    let lib = AgentLibrary::parse(blocks[0], "docs/user-agents.md").unwrap().before(AgentLibrary::builtin());
    assert_eq!(classify(Some("friendly-scanner"), &lib).class, UaClass::Softphone);
    assert_eq!(classify(Some("x-acme-dial v3"), &lib).product.as_deref(), Some("Acme Dialer"));
    let cfg: RandomAgentConfig = toml::from_str(blocks[1]).unwrap();
    assert_eq!(cfg, RandomAgentConfig::default(), "docs/user-agents.md lists other defaults than the code");
}
