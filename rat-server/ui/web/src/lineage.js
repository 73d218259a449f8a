// The lineage drawing (rendered by the server): on focus or hover, light
// the node, everything upstream and downstream of it and the edges
// between; the rest fades. Adjacency is built once, so this stays instant
// at hundreds of nodes.

export function wireLineage(root) {
  const edges = JSON.parse(root.dataset.edges || "[]");
  const ups = new Map();
  const downs = new Map();
  for (const [from, to] of edges) {
    (ups.get(to) || ups.set(to, []).get(to)).push(from);
    (downs.get(from) || downs.set(from, []).get(from)).push(to);
  }
  const nodes = new Map();
  for (const el of root.querySelectorAll("[data-node]")) nodes.set(Number(el.dataset.node), el);
  const paths = [...root.querySelectorAll(".edges path")];

  const reach = (start, next) => {
    const seen = new Set();
    const stack = [start];
    while (stack.length) {
      for (const n of next.get(stack.pop()) || []) {
        if (!seen.has(n)) {
          seen.add(n);
          stack.push(n);
        }
      }
    }
    return seen;
  };

  const clear = () => {
    root.classList.remove("tracing");
    for (const el of root.querySelectorAll(".lit, .up, .down, .current")) {
      el.classList.remove("lit", "up", "down", "current");
    }
  };

  const trace = (id) => {
    clear();
    const up = reach(id, ups);
    const down = reach(id, downs);
    root.classList.add("tracing");
    nodes.get(id).classList.add("lit", "current");
    for (const n of up) nodes.get(n).classList.add("lit", "up");
    for (const n of down) nodes.get(n).classList.add("lit", "down");
    // An edge on a path into the node (both ends upstream, or into it),
    // or out of it (both ends downstream, or out of it).
    for (const p of paths) {
      const from = Number(p.dataset.from);
      const to = Number(p.dataset.to);
      const upstream = up.has(from) && (to === id || up.has(to));
      const downstream = down.has(to) && (from === id || down.has(from));
      if (upstream || downstream) p.classList.add("lit");
    }
    root.dataset.traced = String(id);
    root.dataset.upstream = String(up.size);
    root.dataset.downstream = String(down.size);
  };

  for (const [id, el] of nodes) {
    el.addEventListener("focus", () => trace(id));
    el.addEventListener("mouseenter", () => trace(id));
  }
  root.addEventListener("mouseleave", () => {
    if (!root.contains(document.activeElement)) clear();
  });
  root.addEventListener("focusout", (e) => {
    if (!root.contains(e.relatedTarget)) clear();
  });
}
