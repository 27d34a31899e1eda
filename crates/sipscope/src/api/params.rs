//! Query parameters: every list and report takes `from`, `to` (the parser of `report
//! --from/--to`) and `node` (repeatable); lists take `limit`; pages of events a `cursor`.
//! Values are checked here and bound later, never spliced anywhere.

use super::server::Failure;
use crate::store::Filter;

/// The parameters of one request, in order, decoded.
pub(crate) struct Params(Vec<(String, String)>);

/// A parameter value longer than this is refused (nothing legitimate is longer).
const MAX_VALUE: usize = 1024;

impl Params {
    pub fn parse(query: Option<&str>) -> Result<Params, Failure> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.len() > 64 || pairs.iter().any(|(_, v)| v.len() > MAX_VALUE) {
            return Err(Failure::bad_request("too many or too long parameters"));
        }
        Ok(Params(pairs))
    }

    /// The first value of `key` (an empty value counts as absent).
    pub fn one(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.clone()).collect()
    }

    /// The first value of `key`, empty or not.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// `1` or `true` (set), `0` or `false` (not set, as when absent); anything else is refused.
    pub fn flag(&self, key: &str) -> Result<bool, Failure> {
        match self.raw(key) {
            None | Some("0" | "false") => Ok(false),
            Some("1" | "true") => Ok(true),
            Some(_) => Err(Failure::bad_request(format!("{key}: 1 or 0"))),
        }
    }

    /// `from`, `to` and `node`.
    pub fn filter(&self) -> Result<Filter, Failure> {
        let time = |key: &str| -> Result<Option<i64>, Failure> {
            self.one(key)
                .map(|v| crate::time::parse_time(v).map_err(|e| Failure::bad_request(format!("{key}: {e}"))))
                .transpose()
        };
        Ok(Filter { from_ns: time("from")?, to_ns: time("to")?, nodes: self.all("node") })
    }

    /// `limit`, between 1 and `max`, `default` when absent.
    pub fn limit(&self, default: u32, max: u32) -> Result<u32, Failure> {
        match self.raw("limit") {
            None => Ok(default),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(Failure::bad_request(format!("limit: a number from 1 to {max}"))),
            },
        }
    }

    /// An address parameter (present means it must be one, even empty).
    pub fn address(&self, key: &str) -> Result<Option<String>, Failure> {
        self.raw(key)
            .map(|v| {
                v.parse::<std::net::IpAddr>()
                    .map(|a| a.to_string())
                    .map_err(|_| Failure::bad_request(format!("{key}: an IP address")))
            })
            .transpose()
    }

    /// An integer parameter.
    pub fn int(&self, key: &str) -> Result<Option<i64>, Failure> {
        self.raw(key)
            .map(|v| v.parse::<i64>().map_err(|_| Failure::bad_request(format!("{key}: an integer"))))
            .transpose()
    }
}

/// The cursor of a page of events: the last `(time, id)` it showed, as `time.id`.
pub(crate) fn cursor(ts_ns: i64, id: i64) -> String {
    format!("{ts_ns}.{id}")
}

/// A cursor back into `(time, id)`.
pub(crate) fn parse_cursor(s: &str) -> Result<(i64, i64), Failure> {
    let bad = || Failure::bad_request("cursor: give back the next_cursor of the previous page");
    let (ts, id) = s.split_once('.').ok_or_else(bad)?;
    Ok((ts.parse().map_err(|_| bad())?, id.parse().map_err(|_| bad())?))
}

/// An address from the path, in the form the store keeps (`IpAddr`'s).
pub(crate) fn address(s: &str) -> Result<std::net::IpAddr, Failure> {
    s.parse().map_err(|_| Failure::bad_request("not an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_decoded_and_checked() {
        let p = Params::parse(Some("from=2026-11-30&node=a&node=b%20c&limit=5&raw=1&x=")).unwrap();
        let f = p.filter().unwrap();
        assert_eq!(f.nodes, vec!["a".to_owned(), "b c".to_owned()]);
        assert!(f.from_ns.is_some() && f.to_ns.is_none());
        assert_eq!(p.limit(100, 1000).unwrap(), 5);
        assert!(p.flag("raw").unwrap() && p.flag("absent").is_ok_and(|f| !f) && p.one("x").is_none());
        assert!(p.flag("x").is_err() && p.int("x").is_err());
        assert!(Params::parse(Some("limit=0")).unwrap().limit(100, 1000).is_err());
        assert!(Params::parse(Some("limit=1001")).unwrap().limit(100, 1000).is_err());
        assert!(Params::parse(Some("from=yesterday")).unwrap().filter().is_err());
        assert_eq!(parse_cursor(&cursor(-5, 7)).unwrap(), (-5, 7));
        assert!(parse_cursor("5").is_err() && parse_cursor("a.b").is_err());
    }
}
