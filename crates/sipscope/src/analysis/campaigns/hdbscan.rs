//! HDBSCAN (Campello, Moulavi, Sander 2013; Campello et al. 2015) on binary vectors with the
//! Euclidean distance, written for day-activity vectors: a vector is a bit set, the squared
//! distance is the popcount of the XOR, so every distance is an exact integer and ties are
//! exact. Steps: core distances (the `min_samples`-th nearest point, the point itself
//! included, as scikit-learn and the `hdbscan` package count), the minimum spanning tree of
//! the mutual reachability graph (Prim on the dense graph, O(n²) time, O(n) memory), the
//! single-linkage hierarchy (all merges at one distance at once, so the tree does not depend
//! on the order of tied edges), the condensed tree for `min_cluster_size`, and the excess of
//! mass selection without the root (`allow_single_cluster = false`). Identical vectors are
//! clustered once with a multiplicity: their members join at their common core distance.

/// `n` bit vectors of `words` words each.
pub struct BitRows {
    /// Words per row.
    pub words: usize,
    /// Rows, one after the other.
    pub data: Vec<u64>,
}

impl BitRows {
    fn len(&self) -> usize {
        self.data.len().checked_div(self.words).unwrap_or(0)
    }

    fn row(&self, i: usize) -> &[u64] {
        &self.data[i * self.words..(i + 1) * self.words]
    }

    /// Squared Euclidean distance of rows `i` and `j`.
    fn d2(&self, i: usize, j: usize) -> u32 {
        self.row(i).iter().zip(self.row(j)).map(|(a, b)| (a ^ b).count_ones()).sum()
    }
}

/// Cluster label of each row (`None`: noise). Labels are dense, numbered in the order of
/// the clusters in the condensed tree.
pub fn cluster(rows: &BitRows, min_cluster_size: usize, min_samples: usize) -> Vec<Option<usize>> {
    let n = rows.len();
    let mcs = min_cluster_size.max(2);
    if n < mcs.saturating_mul(2) {
        return vec![None; n]; // without the root, a cluster needs a sibling of `mcs` points
    }
    let edges = spanning_tree(rows, min_samples.max(1));
    let (points_cluster, parents, selected) = condense_and_select(n, edges, mcs);
    let mut label_of = vec![None; parents.len()];
    let mut next = 0;
    for c in 1..parents.len() {
        label_of[c] = if selected[c] {
            next += 1;
            Some(next - 1)
        } else {
            label_of[parents[c]]
        };
    }
    points_cluster.iter().map(|&c| label_of[c]).collect()
}

/// Minimum spanning tree of the mutual reachability graph: `(squared distance, a, b)`.
fn spanning_tree(rows: &BitRows, min_samples: usize) -> Vec<(u32, usize, usize)> {
    let n = rows.len();
    // Identical rows once, with their members.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| rows.row(a).cmp(rows.row(b)).then(a.cmp(&b)));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &i in &order {
        match groups.last_mut() {
            Some(g) if rows.row(g[0]) == rows.row(i) => g.push(i),
            _ => groups.push(vec![i]),
        }
    }
    let reps: Vec<usize> = groups.iter().map(|g| g[0]).collect();
    let u = reps.len();
    // Core distance: the smallest d with at least `min_samples` points within d.
    let mut core = vec![0u32; u];
    let mut best: Vec<(u32, usize)> = Vec::with_capacity(min_samples + 1);
    for (a, core_a) in core.iter_mut().enumerate() {
        best.clear();
        let mut count = 0;
        for (b, g) in groups.iter().enumerate() {
            let d = if a == b { 0 } else { rows.d2(reps[a], reps[b]) };
            if count >= min_samples && best.last().is_some_and(|l| d >= l.0) {
                continue;
            }
            let at = best.partition_point(|e| e.0 <= d);
            best.insert(at, (d, g.len()));
            count += g.len();
            while let Some(&(_, m)) = best.last() {
                if count - m < min_samples {
                    break;
                }
                count -= m;
                best.pop();
            }
        }
        *core_a = best.last().map_or(0, |e| e.0);
    }
    // Prim over the distinct rows.
    let mut edges = Vec::with_capacity(n.saturating_sub(1));
    let mut in_tree = vec![false; u];
    let mut dist = vec![u32::MAX; u];
    let mut from = vec![0usize; u];
    let mut current = 0;
    for _ in 1..u {
        in_tree[current] = true;
        let mut next = usize::MAX;
        for v in 0..u {
            if in_tree[v] {
                continue;
            }
            let w = core[current].max(core[v]).max(rows.d2(reps[current], reps[v]));
            if w < dist[v] {
                dist[v] = w;
                from[v] = current;
            }
            if next == usize::MAX || dist[v] < dist[next] {
                next = v;
            }
        }
        edges.push((dist[next], reps[from[next]], reps[next]));
        current = next;
    }
    // Members of a distinct row join it at its core distance.
    for (g, c) in groups.iter().zip(&core) {
        edges.extend(g[1..].iter().map(|&m| (*c, g[0], m)));
    }
    edges.sort_unstable();
    edges
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

fn lambda(d2: u32) -> f64 {
    if d2 == 0 {
        f64::INFINITY
    } else {
        1.0 / f64::from(d2).sqrt()
    }
}

/// Builds the hierarchy, condenses it and selects clusters by excess of mass. Returns the
/// condensed cluster each point left, each cluster's parent (cluster 0 is the root) and
/// whether it was selected.
fn condense_and_select(n: usize, edges: Vec<(u32, usize, usize)>, mcs: usize) -> (Vec<usize>, Vec<usize>, Vec<bool>) {
    // Single-linkage hierarchy: node ids < n are points; each merge level makes one node per
    // new component, with every component that joined it as a child.
    let mut uf: Vec<usize> = (0..n).collect();
    let mut node_of: Vec<usize> = (0..n).collect();
    let mut size = vec![1usize; n];
    let mut children: Vec<Vec<usize>> = Vec::new();
    let mut level: Vec<u32> = Vec::new();
    let mut start = 0;
    while start < edges.len() {
        let w = edges[start].0;
        let end = start + edges[start..].iter().take_while(|e| e.0 == w).count();
        let mut joined: Vec<(usize, usize)> = Vec::new(); // (old root, its node)
        for &(_, a, b) in &edges[start..end] {
            for p in [a, b] {
                let r = find(&mut uf, p);
                joined.push((r, node_of[r]));
            }
        }
        for &(_, a, b) in &edges[start..end] {
            let (ra, rb) = (find(&mut uf, a), find(&mut uf, b));
            uf[ra.max(rb)] = ra.min(rb);
        }
        let mut by_root: Vec<(usize, usize)> = joined.iter().map(|&(r, node)| (find(&mut uf, r), node)).collect();
        by_root.sort_unstable();
        by_root.dedup();
        for group in by_root.chunk_by(|x, y| x.0 == y.0) {
            let id = n + children.len();
            let kids: Vec<usize> = group.iter().map(|&(_, node)| node).collect();
            if kids.len() < 2 {
                continue;
            }
            size.push(kids.iter().map(|&k| size[k]).sum());
            children.push(kids);
            level.push(w);
            node_of[group[0].0] = id;
        }
        start = end;
    }
    // Condensed tree, top down from the last node (the root).
    if children.is_empty() {
        return (vec![0; n], vec![0], vec![false]);
    }
    let mut point_cluster = vec![0usize; n];
    let mut parents = vec![0usize];
    let mut birth = vec![0.0f64];
    let mut stability = vec![0.0f64];
    let mut stack = vec![(n + children.len() - 1, 0usize)];
    while let Some((node, c)) = stack.pop() {
        let kids = &children[node - n];
        let lam = lambda(level[node - n]);
        let big = kids.iter().filter(|&&k| size[k] >= mcs).count();
        for &k in kids {
            if size[k] >= mcs && big == 1 {
                stack.push((k, c)); // c goes on, smaller
                continue;
            }
            stability[c] += (lam - birth[c]) * size[k] as f64;
            if size[k] >= mcs {
                parents.push(c);
                birth.push(lam);
                stability.push(0.0);
                stack.push((k, parents.len() - 1));
                continue;
            }
            let mut leaves = vec![k];
            while let Some(x) = leaves.pop() {
                if x < n {
                    point_cluster[x] = c;
                } else {
                    leaves.extend(&children[x - n]);
                }
            }
        }
    }
    // Excess of mass, bottom up (children come after their parents), never the root; then
    // top down, a selected cluster wins over its descendants.
    let mut selected = vec![true; parents.len()];
    selected[0] = false;
    let mut below = vec![0.0f64; parents.len()];
    for c in (1..parents.len()).rev() {
        if below[c] > stability[c] {
            selected[c] = false;
            stability[c] = below[c];
        }
        below[parents[c]] += stability[c];
    }
    let mut taken = vec![false; parents.len()];
    for c in 1..parents.len() {
        taken[c] = taken[parents[c]] || selected[parents[c]];
        if taken[c] {
            selected[c] = false;
        }
    }
    (point_cluster, parents, selected)
}
