//! Query parameters: every list and report takes `from`, `to` (the parser of `report
//! --from/--to`) and `node` (repeatable); lists take `limit`; pages of events a `cursor`.
//! Values are checked here and bound later, never spliced anywhere. The query string is
//! decoded strictly: a `%` not followed by two hex digits, or bytes that do not decode to
//! UTF-8, are a 400 naming the problem rather than text quietly replaced.

use super::server::Failure;
use crate::store::Filter;

/// The parameters of one request, in order, decoded.
pub(crate) struct Params(Vec<(String, String)>);

/// A parameter value longer than this (decoded) is refused (nothing legitimate is longer).
pub const MAX_VALUE: usize = 1024;
/// More parameters than this are refused.
pub const MAX_PARAMETERS: usize = 64;

/// Why a query string is refused (the client is told which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    /// More than [`MAX_PARAMETERS`] parameters.
    TooMany,
    /// A name or value longer than [`MAX_VALUE`] bytes once decoded.
    TooLong,
    /// A `%` not followed by two hexadecimal digits.
    BadPercent,
    /// A name or value that does not decode to UTF-8.
    NotUtf8,
}

impl QueryError {
    fn message(self) -> &'static str {
        match self {
            QueryError::TooMany => "too many parameters",
            QueryError::TooLong => "a parameter is too long",
            QueryError::BadPercent => "bad percent-encoding: % must be followed by two hexadecimal digits",
            QueryError::NotUtf8 => "a parameter does not decode to UTF-8",
        }
    }
}

/// Decodes one `application/x-www-form-urlencoded` name or value: `+` is a space, `%XX` a
/// byte; anything else as it is.
fn decode_part(raw: &[u8]) -> Result<String, QueryError> {
    decode_bytes(raw, true, MAX_VALUE)
}

/// Percent-decodes `raw` strictly (`+` a space when `plus`), refusing more than `max` bytes.
fn decode_bytes(raw: &[u8], plus: bool, max: usize) -> Result<String, QueryError> {
    let hex = |b: u8| char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'+' if plus => out.push(b' '),
            b'%' => {
                let (Some(hi), Some(lo)) = (tail.first().and_then(|&h| hex(h)), tail.get(1).and_then(|&l| hex(l)))
                else {
                    return Err(QueryError::BadPercent);
                };
                out.push(hi << 4 | lo);
                rest = tail.get(2..).unwrap_or_default();
            }
            _ => out.push(b),
        }
        if out.len() > max {
            return Err(QueryError::TooLong);
        }
    }
    String::from_utf8(out).map_err(|_| QueryError::NotUtf8)
}

/// A query string's parameters, in order, decoded and within the limits.
pub fn decode_query(query: &str) -> Result<Vec<(String, String)>, QueryError> {
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        if pairs.len() == MAX_PARAMETERS {
            return Err(QueryError::TooMany);
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((decode_part(k.as_bytes())?, decode_part(v.as_bytes())?));
    }
    Ok(pairs)
}

/// Refuses a request whose path is not strictly percent-encoded UTF-8 with a 400 that says so
/// (before routing: every route's path parameters are then valid text).
pub(crate) async fn strict_path(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Err(e) = decode_bytes(req.uri().path().as_bytes(), false, usize::MAX) {
        return Failure::bad_request(format!("the path: {}", e.message())).into_response();
    }
    next.run(req).await
}

impl Params {
    pub fn parse(query: Option<&str>) -> Result<Params, Failure> {
        decode_query(query.unwrap_or("")).map(Params).map_err(|e| Failure::bad_request(e.message()))
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

/// What every checked reading of a query string gives, for the fuzz target `api_params`
/// (`fuzz/`): the decoded pairs, then each accessor's answer (`Err` holds the client's message).
#[doc(hidden)]
#[derive(Debug)]
pub struct Examined {
    pub pairs: Vec<(String, String)>,
    pub filter: Result<Filter, String>,
    pub limit: Result<u32, String>,
    pub flag: Result<bool, String>,
    pub address: Result<Option<String>, String>,
    pub int: Result<Option<i64>, String>,
    pub cursor: Option<Result<(i64, i64), String>>,
}

/// Reads `query` the way every route does (`from`, `to`, `node`, `limit`, `raw`, `source`,
/// `status`, `cursor`), never panicking.
#[doc(hidden)]
pub fn examine(query: &str) -> Result<Examined, QueryError> {
    let p = Params(decode_query(query)?);
    let msg = |f: Failure| f.message;
    Ok(Examined {
        filter: p.filter().map_err(msg),
        limit: p.limit(100, 1000).map_err(msg),
        flag: p.flag("raw").map_err(msg),
        address: p.address("source").map_err(msg),
        int: p.int("status").map_err(msg),
        cursor: p.raw("cursor").map(|c| parse_cursor(c).map_err(msg)),
        pairs: p.0,
    })
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

    #[test]
    fn percent_encoding_is_decoded_strictly() {
        let pairs = decode_query("a=b+c%2Bd&&e&%C3%A9=%e2%82%ac&x=").unwrap();
        let want = [("a", "b c+d"), ("e", ""), ("é", "€"), ("x", "")];
        assert_eq!(pairs, want.map(|(k, v)| (k.to_owned(), v.to_owned())));
        for bad in ["a=%", "a=%4", "a=%zz", "%g0=1", "a=100%"] {
            assert_eq!(decode_query(bad), Err(QueryError::BadPercent), "{bad}");
        }
        assert_eq!(decode_query("a=%ff%fe"), Err(QueryError::NotUtf8));
        assert_eq!(decode_query("a=%C3"), Err(QueryError::NotUtf8), "a cut sequence");
        let long = format!("a={}", "%41".repeat(MAX_VALUE + 1));
        assert_eq!(decode_query(&long), Err(QueryError::TooLong));
        assert!(decode_query(&format!("a={}", "x".repeat(MAX_VALUE))).is_ok());
        let many = vec!["a=1"; MAX_PARAMETERS + 1].join("&");
        assert_eq!(decode_query(&many), Err(QueryError::TooMany));
        assert!(Params::parse(Some("node=%zz")).is_err());
        assert!(decode_bytes(b"/a+b/%41", false, usize::MAX).is_ok_and(|p| p == "/a+b/A"));
    }
}
