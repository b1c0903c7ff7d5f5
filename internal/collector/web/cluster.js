// The cluster page: the server renders every section once; this script
// draws the availability timeline and keeps every section current by
// polling the collector's JSON API. No framework, no build step.
"use strict";

const state = JSON.parse(document.getElementById("initial").textContent);

function text(s) {
  const d = document.createElement("div");
  d.textContent = s == null ? "" : String(s);
  return d.innerHTML;
}
function percent(a) {
  if (a == null) return "no data";
  return (a * 100).toFixed(a === 1 ? 0 : 3) + "%";
}
function micros(us) {
  if (!us) return "-";
  if (us < 1000) return Math.round(us) + " µs";
  if (us < 1e6) return (us / 1000).toFixed(1) + " ms";
  return (us / 1e6).toFixed(2) + " s";
}
function seconds(s) {
  s = Math.floor(s || 0);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? h + "h" : "") + (h || m ? m + "m" : "") + r + "s";
}
function clock(ts) {
  return ts ? new Date(ts * 1000).toLocaleTimeString() : "";
}
function rows(id, items, render, empty, cols) {
  const body = document.getElementById(id);
  body.innerHTML = items && items.length ? items.map(render).join("")
    : `<tr><td colspan="${cols}">${text(empty)}</td></tr>`;
}

// Sum a window of the per-second series ending at its newest second.
function windowAvailability(perSecond, n) {
  let probes = 0, failures = 0;
  for (const b of perSecond.slice(-n)) { probes += b.probes; failures += b.failures; }
  return probes ? (probes - failures) / probes : null;
}

function drawTimeline(report) {
  // The SVG stretches to the page's width, so it holds shapes only; the
  // labels are HTML around it and keep their proportions.
  const svg = document.getElementById("timeline");
  const W = 900, H = 120, top = 6, bottom = H - 2;
  const series = report.per_second || [];
  const n = Math.max(series.length, 1), bw = W / n, barW = Math.max(bw - 0.5, 0.5);
  let maxP99 = 0;
  for (const b of series) maxP99 = Math.max(maxP99, b.p99_us || 0);
  const parts = [];
  // Grid lines at 100% and 50%.
  for (const f of [1, 0.5]) {
    const y = bottom - f * (bottom - top);
    parts.push(`<line x1="0" x2="${W}" y1="${y}" y2="${y}" stroke="#eef0f3"/>`);
  }
  series.forEach((b, i) => {
    const x = i * bw;
    if (b.availability == null) {
      parts.push(`<rect x="${x}" y="${bottom - 3}" width="${barW}" height="3" fill="#d0d5dd"/>`);
      return;
    }
    const h = Math.max(b.availability * (bottom - top), 1);
    const color = b.availability === 1 ? "#12b76a" : b.availability >= 0.99 ? "#f79009" : "#d92d20";
    parts.push(`<rect x="${x}" y="${bottom - h}" width="${barW}" height="${h}" fill="${color}">` +
      `<title>${clock(b.ts)}: ${percent(b.availability)} of ${b.probes} probes, p99 ${micros(b.p99_us)}</title></rect>`);
    if (b.failures) {
      // Make a failed second visible even when its bar is nearly full.
      parts.push(`<rect x="${x}" y="0" width="${barW}" height="5" fill="#d92d20"/>`);
    }
  });
  if (maxP99 > 0) {
    const pts = [];
    series.forEach((b, i) => {
      if (b.p99_us) pts.push(`${(i + 0.5) * bw},${bottom - (b.p99_us / maxP99) * (bottom - top)}`);
    });
    parts.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="#344054" stroke-width="1" vector-effect="non-scaling-stroke"/>`);
  }
  svg.innerHTML = parts.join("");
  document.getElementById("timeline-p99max").textContent = micros(maxP99);
  document.getElementById("timeline-from").textContent = series.length ? clock(series[0].ts) : "";
  document.getElementById("timeline-to").textContent = series.length ? clock(series[series.length - 1].ts) : "";
}

function renderAvailability(report) {
  const ps = report.per_second || [];
  // The newest second is still being probed; leave it out of the short
  // windows so they do not flicker.
  const settled = ps.slice(0, -1);
  document.getElementById("avail-10s").textContent = percent(windowAvailability(settled, 10));
  document.getElementById("avail-1m").textContent = percent(windowAvailability(settled, 60));
  document.getElementById("avail-5m").textContent = percent(report.availability);
  document.getElementById("p99-5m").textContent = micros(report.p99_us);
  document.getElementById("client-errors").textContent = report.client_errors;
  drawTimeline(report);
}

function renderPartitions(report) {
  const failing = (report.partitions || []).filter(p => p.failures > 0);
  rows("partitions-body", failing, p =>
    `<tr class="${p.consecutive_failures ? "bad" : ""}"><td>${p.partition_index}</td><td>${p.probes}</td><td>${p.failures}</td>` +
    `<td>${p.consecutive_failures ? "yes (" + p.consecutive_failures + ")" : "no"}</td>` +
    `<td>${p.last_failure ? text(clock(p.last_failure.ts) + " " + p.last_failure.kind + ": " + p.last_failure.error) : ""}</td></tr>`,
    (report.partitions || []).length ? "every partition answered every probe" : "no partition probed yet", 5);
}

function renderCluster(c) {
  document.getElementById("cluster-name").textContent = c.cluster_name || "";
  document.getElementById("leader").textContent = c.leader || "unknown";
  document.getElementById("meta-level").textContent = c.meta_level || "unknown";
  document.getElementById("errors").innerHTML = (c.errors || []).map(e => `<li>${text(e)}</li>`).join("");
  document.getElementById("overrides").innerHTML = (c.overrides || []).map(o =>
    `<li>${text(o.knob)} = ${text(o.value)} overrides the configuration file (set by ${text(o.owner || "an operator")}` +
    `${o.expires_ms ? ", lapses at " + text(clock(Math.floor(o.expires_ms / 1000))) + " unless renewed" : ""})</li>`).join("");
  rows("nodes-body", c.nodes, n =>
    `<tr class="${n.alive ? "" : "bad"}"><td>${text(n.address)}</td><td>${n.alive ? "ALIVE" : "UNALIVE"}</td>` +
    `<td>${n.replica_count}</td><td>${n.primary_count}</td><td>${n.secondary_count}</td><td>${text(n.binary_version)}</td></tr>`,
    "no replica server known", 6);
  rows("tables-body", c.tables, t =>
    `<tr class="${t.fully_healthy < t.partition_count ? "bad" : ""}"><td>${t.app_id}</td><td>${text(t.name)}</td><td>${text(t.status)}</td>` +
    `<td>${t.partition_count}</td><td>${t.replica_count}</td><td>${t.fully_healthy}</td><td>${t.unhealthy}</td>` +
    `<td>${t.write_unhealthy}</td><td>${t.read_unhealthy}</td></tr>`,
    "no table known", 9);
}

function renderRolling(v) {
  const body = document.getElementById("rolling-body");
  const p = v.progress;
  if (!p) { body.innerHTML = "<p>No rolling update reported.</p>"; return; }
  const step = (v.step_counter ? v.step_counter + " " : "") + (p.step || "");
  body.innerHTML = `<div class="stats">` +
    `<div><span class="label">status</span><b>${text(p.status)}</b></div>` +
    `<div><span class="label">node</span><b>${text(p.node || "cluster")}${p.role ? " (" + text(p.role) + ")" : ""}</b></div>` +
    `<div><span class="label">step</span><b>${text(step)}</b></div>` +
    `<div><span class="label">elapsed</span><b>${seconds(v.elapsed_seconds)}</b></div>` +
    `<div><span class="label">in this step</span><b>${seconds(v.step_elapsed_seconds)}</b></div></div>` +
    (p.observed ? `<p class="observed">waiting: ${text(p.observed)}</p>` : "") +
    (p.reason ? `<p class="reason">${text(p.reason)}</p>` : "") +
    rollingNodes(p.report) +
    `<p class="age">reported ${seconds(v.age_seconds)} ago</p>`;
}

function millis(ms) {
  return ms > 0 ? (ms / 1000).toFixed(1) + "s" : "-";
}

function rollingNodes(report) {
  if (!report || !report.nodes || !report.nodes.length) return "";
  return `<table class="compact"><thead><tr><th>server</th><th>role</th><th>result</th><th>down</th>` +
    `<th>to healthy</th><th>primaries moved</th><th>client errors</th></tr></thead><tbody>` +
    report.nodes.map(n => `<tr class="${n.result === "failed" ? "bad" : ""}"><td>${text(n.node)}</td><td>${text(n.role)}</td>` +
      `<td>${text(n.result)}</td><td>${millis(n.down_ms)}</td><td>${millis(n.to_healthy_ms)}</td>` +
      `<td>${n.primaries_moved}</td><td>${n.client_errors}</td></tr>`).join("") + `</tbody></table>`;
}

function renderTraffic(t) {
  rows("traffic-body", t.tables, r =>
    `<tr><td>${r.table === "*" ? "all tables" : text(r.table)}</td><td>${r.read_qps.toFixed(1)}</td><td>${r.write_qps.toFixed(1)}</td>` +
    `<td>${r.error_qps.toFixed(1)}</td><td>${micros(r.read_p99_us)}</td><td>${micros(r.write_p99_us)}</td></tr>`,
    t.error ? "scrape failed: " + t.error : "no rates yet", 6);
}

function poll(url, every, render) {
  const tick = async () => {
    try {
      const resp = await fetch(url, {cache: "no-store"});
      if (resp.ok) {
        render(await resp.json());
        document.getElementById("updated").textContent = new Date().toLocaleTimeString();
      }
    } catch (e) {
      // The collector may be restarting; the next poll will tell.
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}

renderAvailability(state.availability);
renderPartitions(state.partitions);
poll("/api/availability?window=5m", 1000, renderAvailability);
poll("/api/availability/partitions", 2000, renderPartitions);
poll("/api/cluster", 2000, renderCluster);
poll("/api/rolling", 1000, renderRolling);
poll("/api/tables/qps", 5000, renderTraffic);
