use super::*;

#[test]
fn every_file_is_served_with_its_type_and_nothing_else() {
    let (page, kind) = asset("index.html").unwrap();
    assert!(kind.starts_with("text/html"));
    let page = std::str::from_utf8(page).unwrap();
    // Every script and stylesheet the page names is served.
    for line in page.lines().filter(|l| l.contains("/assets/")) {
        let name = line.split("/assets/").nth(1).unwrap().split('"').next().unwrap();
        assert!(asset(name).is_some(), "{name}");
    }
    for bad in ["", "/index.html", "../index.html", "index.html/", "INDEX.HTML", "static/app.js"] {
        assert!(asset(bad).is_none(), "{bad:?}");
    }
    assert_eq!(asset("app.js").unwrap().1, JS);
    assert_eq!(names().count(), FILES.len());
}

/// A strict CSP (`default-src 'self'`) allows no inline script, style or handler; the code
/// never parses HTML.
#[test]
fn the_page_needs_no_inline_code_and_parses_no_html() {
    let page = std::str::from_utf8(asset("index.html").unwrap().0).unwrap();
    assert_eq!(page.matches("<script").count(), page.matches("<script src=\"/assets/").count());
    assert!(!page.contains("style=") && !page.contains("<style") && !page.contains(" on"));
    assert!(!page.contains("http://") && !page.contains("https://"), "no CDN");
    for name in ["dom.js", "api.js", "views.js", "source.js", "live.js", "app.js", "sipscope-charts.js"] {
        let js = std::str::from_utf8(asset(name).unwrap().0).unwrap();
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "http://",
            "https://",
        ] {
            assert!(!js.contains(sink), "{name} uses {sink}");
        }
    }
}
