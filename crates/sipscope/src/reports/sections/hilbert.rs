//! 004 Fig. 2: the order in which a scanner hit the addresses of a /22, on a Hilbert curve
//! (neighbouring addresses stay neighbours), first hits blue, last red.

use super::Result;
use crate::reports::model::Chart;
use crate::reports::query::Filter;
use rusqlite::Connection;
use std::collections::BTreeMap;

/// The source whose flow hit the most destinations: its first hit of each address of the /22
/// it hit most.
pub fn widest_scan(conn: &Connection, f: &Filter) -> Result<Option<Chart>> {
    let c = f.clause("first_ns", None, &[]);
    let widest: Option<String> = conn
        .query_row(
            &format!("SELECT src_ip FROM flows {} ORDER BY destinations DESC, src_ip LIMIT 1", c.sql),
            rusqlite::params_from_iter(c.params.iter()),
            |r| r.get(0),
        )
        .ok();
    let Some(source) = widest else { return Ok(None) };
    let mut c = f.clause("ts_ns", Some("node"), &["kind = 'request'", "direction <> 'out'", "src_ip = ?"]);
    c.params.insert(0, rusqlite::types::Value::Text(source.clone()));
    let sql = format!("SELECT dst_ip, min(ts_ns) AS t FROM events {} GROUP BY dst_ip ORDER BY t, dst_ip", c.sql);
    let mut stmt = conn.prepare(&sql)?;
    let hits: Vec<std::net::Ipv4Addr> = stmt
        .query_map(rusqlite::params_from_iter(c.params.iter()), |r| r.get::<_, String>(0))?
        .filter_map(|ip| ip.ok()?.parse().ok())
        .collect();
    let mut blocks: BTreeMap<u32, usize> = BTreeMap::new();
    for ip in &hits {
        *blocks.entry(u32::from(*ip) >> 10).or_insert(0) += 1;
    }
    let Some((&block, _)) = blocks.iter().max_by_key(|(b, n)| (**n, std::cmp::Reverse(**b))) else { return Ok(None) };
    let inside: Vec<u32> = hits.iter().map(|ip| u32::from(*ip)).filter(|a| a >> 10 == block).collect();
    let last = inside.len().max(2) as f64 - 1.0;
    let cells = inside
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let (x, y) = hilbert_xy(32, a & 0x3ff);
            (x, y, i as f64 / last)
        })
        .collect();
    let net = std::net::Ipv4Addr::from(block << 10);
    Ok(Some(Chart::Hilbert {
        title: format!("Destination order of {source} in {net}/22 ({} addresses hit)", inside.len()),
        side: 32,
        cells,
    }))
}

/// (x, y) of position `d` on a Hilbert curve filling an `n` × `n` square (n a power of two).
pub fn hilbert_xy(n: u32, d: u32) -> (u32, u32) {
    let (mut x, mut y, mut t) = (0u32, 0u32, d);
    let mut s = 1;
    while s < n {
        let rx = 1 & (t / 2);
        let ry = 1 & (t ^ rx);
        if ry == 0 {
            if rx == 1 {
                x = s - 1 - x;
                y = s - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        x += s * rx;
        y += s * ry;
        t /= 4;
        s *= 2;
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::hilbert_xy;

    #[test]
    fn hilbert_curve_visits_every_cell_once_with_unit_steps() {
        let cells: Vec<(u32, u32)> = (0..1024).map(|d| hilbert_xy(32, d)).collect();
        let distinct: std::collections::BTreeSet<_> = cells.iter().collect();
        assert_eq!(distinct.len(), 1024);
        assert!(cells.windows(2).all(|w| w[0].0.abs_diff(w[1].0) + w[0].1.abs_diff(w[1].1) == 1));
        assert_eq!(hilbert_xy(2, 0), (0, 0));
    }
}
