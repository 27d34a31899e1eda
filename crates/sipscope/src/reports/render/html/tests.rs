use super::*;
use crate::reports::model::{Scope, Section};

const HOSTILE: &str = "</script><script>alert(1)</script><img src=x onerror=alert(2)>&amp;\u{1b}[31m<!--";

fn report_with(charts: Vec<Chart>, tables: Vec<Table>) -> Report {
    let mut s = Section::new("hostile", HOSTILE);
    s.charts = charts;
    s.tables = tables;
    s.notes.push(HOSTILE.into());
    Report { scope: Scope { from_ns: None, to_ns: None, nodes: vec![] }, sections: vec![s] }
}

#[test]
fn attacker_text_cannot_open_tags() {
    assert_eq!(esc("<script>alert('x')</script>&"), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;");
    assert_eq!(esc("a\u{1b}b"), "a&#x1b;b");
}

#[test]
fn chart_json_cannot_close_its_element() {
    let chart =
        Chart::Bars { title: HOSTILE.into(), labels: vec![HOSTILE.into()], series: vec![(HOSTILE.into(), vec![1.0])] };
    let json = chart_json(&[&chart]);
    for bad in ['<', '>', '&', '\u{1b}'] {
        assert!(!json.contains(bad), "{bad:?} raw in {json}");
    }
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back[0]["labels"][0], HOSTILE, "the same value after parsing");
}

#[test]
fn hostile_text_is_escaped_everywhere_in_the_page() {
    let chart =
        Chart::Bars { title: HOSTILE.into(), labels: vec![HOSTILE.into()], series: vec![(HOSTILE.into(), vec![2.0])] };
    let mut t = Table::new("t", HOSTILE, &[HOSTILE]);
    t.push(vec![HOSTILE.into()]);
    let page = html(&report_with(vec![chart], vec![t]));
    // The only script elements are ours: the data, the three library files, our code, the call.
    assert_eq!(page.matches("<script").count(), 1 + SCRIPTS.len() + 1, "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains('\u{1b}'));
    assert!(!page.contains("<!--"));
}

#[test]
fn the_scripts_cannot_end_their_element() {
    for (name, text) in SCRIPTS {
        let lower = text.to_ascii_lowercase();
        assert!(!lower.contains("</script") && !lower.contains("<!--"), "{name}");
        assert!(!text.contains("sourceMappingURL"), "{name}: no source map is shipped");
    }
}

#[test]
fn empty_charts_and_tables_say_no_data_and_load_no_script() {
    let empty = vec![
        Chart::Bars {
            title: "Requests per day".into(),
            labels: vec!["2026-01-01".into()],
            series: vec![("INVITE".into(), vec![0.0])],
        },
        Chart::Bubbles { title: "b".into(), axes: ("x".into(), "y".into()), points: vec![] },
        Chart::Matrix { title: "m".into(), labels: vec![], values: vec![] },
        Chart::Hilbert { title: "h".into(), side: 32, cells: vec![] },
    ];
    let page = html(&report_with(empty, vec![Table::new("t", "Nothing", &["a"])]));
    assert_eq!(page.matches("class=\"no-data\"").count(), 5, "{page}");
    assert!(!page.contains("<canvas") && !page.contains("<script"), "{page}");
}

#[test]
fn time_series_are_zoomable_and_numbered_in_order() {
    let days = Chart::Bars {
        title: "d".into(),
        labels: vec!["2026-01-01".into(), "2026-01-02".into()],
        series: vec![("INVITE".into(), vec![1.0, 2.0])],
    };
    let nodes = Chart::Bars { title: "n".into(), labels: vec!["1".into()], series: vec![("a".into(), vec![1.0])] };
    let page = html(&report_with(vec![days, nodes], vec![]));
    assert!(page.contains("data-chart=\"0\"") && page.contains("data-chart=\"1\""));
    assert_eq!(page.matches("double-click to reset").count(), 1);
}
