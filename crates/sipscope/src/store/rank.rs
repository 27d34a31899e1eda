//! The first `limit` of many rows in an order, as SQL's `ORDER BY … LIMIT` gives them: only
//! those are sorted (the readers that merge rows in Rust and the report index rank tens of
//! thousands of sources or numbers for the top 20).

use std::cmp::Ordering;

/// The first `limit` of `rows` in `order` (which must be total, as the SQL's is), in order.
pub(crate) fn first_in_order<T>(mut rows: Vec<T>, limit: u32, order: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let keep = (limit as usize).min(rows.len());
    if keep == 0 {
        return Vec::new();
    }
    if keep < rows.len() {
        rows.select_nth_unstable_by(keep - 1, &order);
        rows.truncate(keep);
    }
    rows.sort_unstable_by(order);
    rows
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_rows_in_order() {
        let rows = vec![5, 1, 4, 1, 3, 9, 2];
        assert_eq!(super::first_in_order(rows.clone(), 3, |a, b| b.cmp(a)), [9, 5, 4]);
        assert_eq!(super::first_in_order(rows.clone(), 0, |a, b| a.cmp(b)), Vec::<i32>::new());
        assert_eq!(super::first_in_order(rows, 50, |a, b| a.cmp(b)), [1, 1, 2, 3, 4, 5, 9]);
    }
}
