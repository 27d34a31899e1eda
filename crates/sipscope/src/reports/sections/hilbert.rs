//! 004 Fig. 2: the order in which a scanner hit the addresses of a /22, on a Hilbert curve
//! (neighbouring addresses stay neighbours), first hits blue, last red.

use super::Result;
use crate::reports::model::Chart;
use crate::reports::scan_choice::{HilbertChoice, Prefix22};
use crate::store::{Filter, StoreReader};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// What the section shows in place of the curve.
#[derive(Debug, Clone, PartialEq)]
pub enum Picture {
    /// The curve.
    Chart(Chart),
    /// Why the chosen source or /22 cannot be drawn (said, so an empty section is not mistaken
    /// for "nothing happened").
    Note(String),
    /// No flow at all, or no IPv4 destination in the widest one: nothing to say.
    Nothing,
}

/// The widest flow (most destinations) in the range, or the chosen source's widest flow; its
/// first hit of each address, in the /22 it hit most or the chosen one.
pub fn picture(store: &dyn StoreReader, f: &Filter, choice: &HilbertChoice) -> Result<Picture> {
    let Some(flow) = store.widest_flow(f, choice.source)? else {
        return Ok(match choice.source {
            Some(ip) => Picture::Note(format!("No flow from {ip} in the time range: no Hilbert picture.")),
            None => Picture::Nothing,
        });
    };
    // IPv6 destinations cannot be drawn on an IPv4 /22; they are skipped, not an error.
    let hits: Vec<Ipv4Addr> = store.first_hits(f, &flow)?.iter().filter_map(|ip| ip.parse().ok()).collect();
    let block = match choice.prefix {
        Some(p) => p,
        None => {
            let mut blocks: BTreeMap<Prefix22, usize> = BTreeMap::new();
            for ip in &hits {
                *blocks.entry(Prefix22::containing(*ip)).or_insert(0) += 1;
            }
            // Most hits; the lowest block on a tie, so the picture is the same every run.
            match blocks.iter().max_by_key(|(b, n)| (**n, std::cmp::Reverse(**b))) {
                Some((&b, _)) => b,
                None if choice.source.is_some() => {
                    return Ok(Picture::Note(format!(
                        "{} hit no IPv4 address in its widest flow: no Hilbert picture.",
                        flow.source
                    )))
                }
                None => return Ok(Picture::Nothing),
            }
        }
    };
    let inside: Vec<u32> = hits.iter().filter(|ip| block.contains(**ip)).map(|ip| u32::from(*ip)).collect();
    if inside.is_empty() {
        let since = crate::time::iso_time(flow.first_ns);
        return Ok(Picture::Note(format!(
            "{} hit no address of {block} in its widest flow (from {since}): no Hilbert picture.",
            flow.source
        )));
    }
    let last = inside.len().max(2) as f64 - 1.0;
    let cells = inside
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let (x, y) = hilbert_xy(32, a & 0x3ff);
            (x, y, i as f64 / last)
        })
        .collect();
    Ok(Picture::Chart(Chart::Hilbert {
        title: format!("Destination order of {} in {block} ({} addresses hit)", flow.source, inside.len()),
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
