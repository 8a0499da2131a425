/* Switchpoint dashboard: fetches /dashboard/api/* and draws charts (Chart.js) and tables.
   Text from the server is always inserted with textContent, never as HTML. */
"use strict";

const PALETTE = ["#8b7cff", "#2dd4bf", "#f5b544", "#f2555a", "#58a6ff", "#d2a8ff", "#7ee787", "#ff9bce",
  "#ffa657", "#79c0ff", "#a5d6ff", "#e3b341"];
const state = { window: "24h", tab: "overview", charts: {}, loaded: {}, auditBefore: null, auditNext: null };
/* Who is signed in, from the page the server rendered for this session (server/dashboard/pages.py). */
const meta = (name) => { const node = document.querySelector(`meta[name="sp-${name}"]`); return node ? node.content : ""; };
const me = { csrf: meta("csrf"), user: meta("user"), role: meta("role"), team: meta("team") };
const canWrite = me.role === "admin" || me.role === "team-admin";

/* ---------- helpers ---------- */

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const usd = (v) => {
  if (v === null || v === undefined) return "–";
  if (v === 0) return "$0";
  if (Math.abs(v) < 0.01) return "$" + v.toFixed(5);
  if (Math.abs(v) < 100) return "$" + v.toFixed(2);
  return "$" + Math.round(v).toLocaleString();
};
const num = (v) => {
  if (v === null || v === undefined) return "–";
  if (Math.abs(v) >= 1e9) return (v / 1e9).toFixed(2) + "B";
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + "M";
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + "k";
  return Math.round(v).toLocaleString();
};
const ms = (v) => (v === null || v === undefined) ? "–" : v >= 10000 ? (v / 1000).toFixed(1) + " s" : v >= 1000 ? (v / 1000).toFixed(2) + " s" : Math.round(v) + " ms";
const pct = (v) => (v === null || v === undefined) ? "–" : (v * 100 >= 10 ? (v * 100).toFixed(0) : (v * 100).toFixed(1)) + "%";
const per = (seconds) => seconds === 60 ? "min" : seconds === 3600 ? "hour" : seconds === 86400 ? "day" : seconds + "s";
const when = (t) => new Date(t).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });

function bucketLabel(t, bucket) {
  const d = new Date(t);
  if (bucket === "day") return d.toLocaleDateString([], { month: "short", day: "numeric" });
  if (state.window === "24h") return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString([], { weekday: "short" }) + " " + d.toLocaleTimeString([], { hour: "2-digit" });
}

async function api(path, options) {
  const headers = { "content-type": "application/json" };
  if (options && options.method && options.method !== "GET") headers["x-csrf-token"] = me.csrf;
  const response = await fetch(path, Object.assign({ credentials: "same-origin", headers }, options || {}));
  if (response.status === 401) { window.location = "/dashboard/login"; throw new Error("signed out"); }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.error && body.error.message) || ("HTTP " + response.status));
  return body;
}

function showError(error) {
  const node = document.getElementById("error");
  if (!error) { node.hidden = true; return; }
  node.textContent = "Could not load data: " + error.message;
  node.hidden = false;
}

function fillTable(table, headers, rows, empty) {
  table.replaceChildren();
  table.append(el("thead", {}, el("tr", {}, headers.map((h) => el("th", { class: h.num ? "num" : "", text: h.label })))));
  const body = el("tbody");
  if (!rows.length) body.append(el("tr", {}, el("td", { class: "empty", colspan: headers.length, text: empty || "Nothing here yet." })));
  rows.forEach((row) => body.append(row));
  table.append(body);
}

function bar(fraction, kind) {
  const inner = el("span");
  inner.style.width = Math.max(0, Math.min(1, fraction)) * 100 + "%";
  return el("span", { class: "bar " + (kind || "") }, inner);
}

/* ---------- charts ---------- */

function setupCharts() {
  Chart.defaults.color = "#8b96a5";
  Chart.defaults.borderColor = "rgba(38, 47, 59, .7)";
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 11.5;
  Chart.defaults.plugins.legend.labels.boxWidth = 10;
  Chart.defaults.plugins.legend.labels.boxHeight = 10;
  Chart.defaults.plugins.tooltip.backgroundColor = "#1b222c";
  Chart.defaults.plugins.tooltip.borderColor = "#262f3b";
  Chart.defaults.plugins.tooltip.borderWidth = 1;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;  // instant redraws on refresh and window changes
}

function draw(id, config) {
  if (state.charts[id]) state.charts[id].destroy();
  state.charts[id] = new Chart(document.getElementById(id), config);
}

function drawTimeSeries(data) {
  const labels = data.series.map((row) => bucketLabel(row.group, data.bucket));
  draw("chart-spend", {
    data: {
      labels,
      datasets: [
        { type: "bar", label: "Spend (USD)", data: data.series.map((r) => r.cost), backgroundColor: "rgba(139, 124, 255, .75)",
          borderRadius: 3, yAxisID: "cost", order: 2 },
        { type: "line", label: "Requests", data: data.series.map((r) => r.requests), borderColor: "#2dd4bf",
          backgroundColor: "#2dd4bf", pointRadius: 0, borderWidth: 2, cubicInterpolationMode: "monotone", yAxisID: "requests", order: 1 },
        { type: "line", label: "Errors", data: data.series.map((r) => r.errors), borderColor: "#f2555a",
          backgroundColor: "#f2555a", pointRadius: 0, borderWidth: 1.5, cubicInterpolationMode: "monotone", yAxisID: "requests", order: 0 },
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      plugins: { tooltip: { callbacks: { label: (c) => c.dataset.yAxisID === "cost" ? " Spend " + usd(c.parsed.y) : " " + c.dataset.label + " " + num(c.parsed.y) } } },
      scales: {
        x: { grid: { display: false }, ticks: { maxTicksLimit: 12, maxRotation: 0 } },
        cost: { position: "left", beginAtZero: true, ticks: { callback: (v) => usd(v) } },
        requests: { position: "right", beginAtZero: true, grid: { display: false }, ticks: { callback: (v) => num(v) } },
      },
    },
  });
  draw("chart-tokens", {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "Prompt", data: data.series.map((r) => r.prompt_tokens), borderColor: "#58a6ff", backgroundColor: "rgba(88, 166, 255, .25)", fill: true, pointRadius: 0, cubicInterpolationMode: "monotone", borderWidth: 1.5 },
        { label: "Completion", data: data.series.map((r) => r.completion_tokens), borderColor: "#f5b544", backgroundColor: "rgba(245, 181, 68, .25)", fill: true, pointRadius: 0, cubicInterpolationMode: "monotone", borderWidth: 1.5 },
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: { x: { grid: { display: false }, ticks: { maxTicksLimit: 8, maxRotation: 0 } },
        y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => num(v) } } },
      plugins: { tooltip: { callbacks: { label: (c) => " " + c.dataset.label + " " + num(c.parsed.y) } } },
    },
  });
}

function drawBreakdown(id, tableId, rows, labelOf, kind) {
  const top = rows.slice(0, 8);
  const labels = top.map(labelOf);
  const values = top.map((r) => r.cost);
  const useRequests = values.every((v) => v === 0);
  const data = useRequests ? top.map((r) => r.requests) : values;
  const colors = top.map((_, i) => PALETTE[i % PALETTE.length]);
  if (kind === "doughnut") {
    draw(id, { type: "doughnut", data: { labels, datasets: [{ data, backgroundColor: colors, borderColor: "#151b23", borderWidth: 2 }] },
      options: { cutout: "62%", plugins: { legend: { position: "right" },
        tooltip: { callbacks: { label: (c) => " " + c.label + ": " + (useRequests ? num(c.parsed) + " requests" : usd(c.parsed)) } } } } });
  } else {
    draw(id, { type: "bar", data: { labels, datasets: [{ data, backgroundColor: colors, borderRadius: 4, barThickness: 14 }] },
      options: { indexAxis: "y", plugins: { legend: { display: false },
        tooltip: { callbacks: { label: (c) => " " + (useRequests ? num(c.parsed.x) + " requests" : usd(c.parsed.x)) } } },
        scales: { x: { beginAtZero: true, ticks: { callback: (v) => useRequests ? num(v) : usd(v), maxTicksLimit: 5 } },
          y: { grid: { display: false }, ticks: { callback: function (v) { const s = this.getLabelForValue(v); return s.length > 22 ? s.slice(0, 21) + "…" : s; } } } } } });
  }
  const tableRows = rows.slice(0, 8).map((r, i) => el("tr", {},
    el("td", { title: labelOf(r) }, el("span", { class: "swatch" + (i < 8 ? "" : "") }), labelOf(r)),
    el("td", { class: "num muted", text: num(r.requests) + " req" }),
    el("td", { class: "num muted", text: num(r.prompt_tokens + r.completion_tokens) + " tok" }),
    el("td", { class: "num", text: usd(r.cost) })));
  tableRows.forEach((tr, i) => { tr.querySelector(".swatch").style.background = colors[i] || "#444"; });
  fillTable(document.getElementById(tableId), [{ label: "" }, { label: "", num: 1 }, { label: "", num: 1 }, { label: "", num: 1 }], tableRows, "No traffic in this window.");
  document.getElementById(tableId).querySelector("thead").remove();
}

/* ---------- tabs ---------- */

async function loadOverview() {
  const data = await api("/dashboard/api/overview?window=" + state.window);
  const t = data.totals;
  document.getElementById("stat-cost").textContent = usd(t.cost);
  document.getElementById("stat-cost-sub").textContent = t.requests ? usd(t.cost / t.requests) + " per request" : "no requests";
  document.getElementById("stat-requests").textContent = num(t.requests);
  document.getElementById("stat-requests-sub").textContent = num(t.cancelled) + " cancelled";
  document.getElementById("stat-tokens").textContent = num(t.prompt_tokens + t.completion_tokens);
  document.getElementById("stat-tokens-sub").textContent = num(t.prompt_tokens) + " in · " + num(t.completion_tokens) + " out";
  document.getElementById("stat-errors").textContent = pct(t.error_rate);
  document.getElementById("stat-errors-sub").textContent = num(t.errors) + " failed requests";
  document.getElementById("stat-latency").textContent = ms(t.avg_latency_ms);
  document.getElementById("stat-latency-sub").textContent = "first token " + ms(t.avg_ttft_ms);
  document.getElementById("bucket-note").textContent = "per " + data.bucket;
  drawTimeSeries(data);
  drawBreakdown("chart-models", "table-models", data.by_model, (r) => r.group, "bar");
  drawBreakdown("chart-providers", "table-providers", data.by_provider, (r) => r.group || "(none)", "doughnut");
  drawBreakdown("chart-keys", "table-keys", data.by_key, (r) => r.name, "bar");
}

function circuitBadge(live) {
  const state_ = live.circuit || "closed";
  const kind = state_ === "open" ? "bad" : state_.startsWith("half") ? "warn" : live.attempts ? "ok" : "idle";
  return el("span", { class: "badge " + kind, text: state_.replace("_", "-") });
}

async function loadEndpoints() {
  const data = await api("/dashboard/api/endpoints?window=" + state.window);
  const rows = data.endpoints.map((e) => {
    const p = e.percentiles || {};
    const errKind = e.error_rate > 0.2 ? "bad" : e.error_rate > 0.05 ? "warn" : "";
    return el("tr", {},
      el("td", {}, el("div", { text: e.model }), el("div", { class: "muted small mono", text: e.upstream_model || "(not configured)" })),
      el("td", { text: e.provider }),
      el("td", { class: "num", text: num(e.requests) }),
      el("td", {}, el("div", { class: "usage" }, bar(e.error_rate * 5, errKind), el("span", { text: pct(e.error_rate) }))),
      el("td", { class: "num", text: ms(p.latency_p50) }),
      el("td", { class: "num", text: ms(p.latency_p90) }),
      el("td", { class: "num", text: ms(p.latency_p99) }),
      el("td", { class: "num", text: ms(p.ttft_p50) }),
      el("td", { class: "num", text: ms(p.ttft_p90) }),
      el("td", { class: "num", text: ms(p.ttft_p99) }),
      el("td", { class: "num", text: e.live.attempts ? num(e.live.failures) + " / " + num(e.live.attempts) : "–" }),
      el("td", {}, circuitBadge(e.live)),
      el("td", { class: "num", text: usd(e.cost) }));
  });
  fillTable(document.getElementById("table-endpoints"), [
    { label: "Model" }, { label: "Provider" }, { label: "Requests", num: 1 }, { label: "Errors" },
    { label: "p50", num: 1 }, { label: "p90", num: 1 }, { label: "p99", num: 1 },
    { label: "TTFT p50", num: 1 }, { label: "TTFT p90", num: 1 }, { label: "TTFT p99", num: 1 },
    { label: "Failed attempts", num: 1 }, { label: "Circuit" }, { label: "Cost", num: 1 }], rows, "No endpoints configured.");
}

function statusBadge(g) {
  const kind = g.status === "success" ? "ok" : g.status === "cancelled" ? "warn" : "bad";
  return el("span", { class: "badge " + kind, text: g.status === "success" ? String(g.http_status) : g.status + " " + g.http_status });
}

async function loadGenerations() {
  const params = new URLSearchParams({ limit: "100" });
  const status = document.getElementById("filter-status").value;
  const model = document.getElementById("filter-model").value.trim();
  if (status) params.set("status", status);
  if (model) params.set("model", model);
  const data = await api("/dashboard/api/generations?" + params);
  const rows = [];
  data.generations.forEach((g) => {
    const detail = el("tr", { class: "attempts", hidden: true }, el("td", { colspan: 9 },
      el("strong", { text: "Attempts: " }),
      g.attempts.length ? g.attempts.map((a, i) => el("span", { class: "attempt" },
        el("span", { class: "muted", text: (i + 1) + "." }), a.provider + " · " + (a.upstream_model || a.model || ""),
        el("span", { class: "badge " + (a.status === 200 ? "ok" : "bad"), text: String(a.status ?? "–") }),
        el("span", { class: "muted", text: ms(a.latency_ms) + (a.error ? " · " + a.error : "") }))) : el("span", { class: "muted", text: "none recorded" }),
      g.error ? el("div", { class: "muted", text: "Error: " + g.error }) : null));
    const row = el("tr", { class: "expandable", title: "Show attempts", onclick: () => { detail.hidden = !detail.hidden; } },
      el("td", { class: "small", text: when(g.created_at_ms) }),
      el("td", { class: "mono small", text: g.id }),
      el("td", { text: g.key_name }),
      el("td", {}, el("div", { text: g.model }), el("div", { class: "muted small", text: g.provider ? "via " + g.provider : "" })),
      el("td", {}, statusBadge(g)),
      el("td", { class: "num", text: num(g.prompt_tokens) + " / " + num(g.completion_tokens) }),
      el("td", { class: "num", text: usd(g.cost) }),
      el("td", { class: "num", text: ms(g.latency_ms) }),
      el("td", { class: "num", text: String(g.attempts.length) }));
    rows.push(row, detail);
  });
  fillTable(document.getElementById("table-generations"), [
    { label: "Time" }, { label: "Generation" }, { label: "Key" }, { label: "Model" }, { label: "Status" },
    { label: "Tokens in / out", num: 1 }, { label: "Cost", num: 1 }, { label: "Latency", num: 1 }, { label: "Attempts", num: 1 }],
  rows, "No generations yet.");
}

async function keyAction(path, body) {
  await api(path, { method: "POST", body: JSON.stringify(body) });
  await loadKeys();
}

function list(text) {
  const items = (text || "").split(",").map((s) => s.trim()).filter(Boolean);
  return items.length ? items : null;
}

function policyText(p) {
  const parts = [];
  if (p.models) parts.push("models: " + p.models.join(", "));
  if (p.providers) parts.push("providers: " + p.providers.join(", "));
  if (p.max_price) parts.push("max $/M: " + Object.entries(p.max_price).map(([k, v]) => k + " " + v).join(", "));
  return parts.join("; ") || "any model";
}

function policyFields(f, body) {
  const models = list(f.get("models")), providers = list(f.get("providers"));
  if (models) body.models = models;
  if (providers) body.providers = providers;
  if (f.get("max_prompt") || f.get("max_completion")) {
    body.max_price = {};
    if (f.get("max_prompt")) body.max_price.prompt = Number(f.get("max_prompt"));
    if (f.get("max_completion")) body.max_price.completion = Number(f.get("max_completion"));
  }
}

async function fillTeamChoices() {
  const data = await api("/dashboard/api/teams");
  const select = document.querySelector("#create-key select[name=team]");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", text: "none" }), ...data.teams.map((t) => el("option", { value: t.name, text: t.name })));
  select.value = chosen;
}

async function loadKeys() {
  const [data] = await Promise.all([api("/dashboard/api/keys"), fillTeamChoices()]);
  document.getElementById("keys-count").textContent = data.keys.length + " keys";
  const rows = data.keys.map((k) => {
    const fraction = k.limit ? k.usage / k.limit : 0;
    const kind = fraction >= 1 ? "bad" : fraction >= 0.8 ? "warn" : "";
    const status = k.disabled ? el("span", { class: "badge bad", text: "disabled" })
      : k.expired ? el("span", { class: "badge warn", text: "expired" }) : el("span", { class: "badge ok", text: "active" });
    const limits = [k.rate_limit ? num(k.rate_limit.requests) + " req / " + per(k.rate_limit.interval) : null,
      k.token_limit ? num(k.token_limit.tokens) + " tok / " + per(k.token_limit.interval) : null,
      k.user_limit !== null && k.user_limit !== undefined ? usd(k.user_limit) + " per end user" + (k.limit_reset ? " " + k.limit_reset : "") : null,
      k.user_rate_limit ? num(k.user_rate_limit.requests) + " req / " + per(k.user_rate_limit.interval) + " per end user" : null,
    ].filter(Boolean).join(", ") || "–";
    const config = k.source === "config";
    return el("tr", { "data-key": k.name },
      el("td", {}, el("div", { text: k.name }), el("div", { class: "muted small mono", text: k.label })),
      el("td", {}, status, k.log_content ? [" ", el("span", { class: "badge idle", title: "Prompts and completions are written to the generation log", text: "logs content" })] : null),
      el("td", {}, k.limit !== null
        ? el("div", { class: "usage" }, bar(fraction, kind), el("span", { text: usd(k.usage) + " of " + usd(k.limit) + (k.limit_reset ? " " + k.limit_reset : "") }))
        : el("span", { class: "muted", text: "no limit" })),
      el("td", { class: "num", text: usd(k.usage_total) }),
      el("td", { text: limits }),
      el("td", { text: k.team || "–" }),
      el("td", { class: "small", text: policyText(k) }),
      el("td", { class: "small muted", text: new Date(k.created_at).toLocaleDateString() }),
      el("td", { class: "num" },
        config ? el("span", { class: "muted small", text: "from switchpoint.yaml" }) : !canWrite ? null : [
          el("button", { class: "ghost small", type: "button", text: k.disabled ? "Enable" : "Disable",
            onclick: () => keyAction("/dashboard/api/keys/update", { hash: k.hash, disabled: !k.disabled }).catch(showError) }), " ",
          el("button", { class: "danger small", type: "button", text: "Revoke",
            onclick: () => { if (confirm("Revoke key " + k.name + "? Clients using it stop working at once.")) keyAction("/dashboard/api/keys/revoke", { hash: k.hash }).catch(showError); } })]));
  });
  fillTable(document.getElementById("table-keys-admin"), [
    { label: "Key" }, { label: "Status" }, { label: "Usage against limit" }, { label: "All-time", num: 1 },
    { label: "Rate limits" }, { label: "Team" }, { label: "Allowed" }, { label: "Created" }, { label: "", num: 1 }],
    rows, "No keys yet: create one above.");
}

async function loadTeams() {
  const data = await api("/dashboard/api/teams");
  document.getElementById("teams-count").textContent = data.teams.length + " teams";
  const rows = data.teams.map((t) => {
    const fraction = t.limit ? t.usage / t.limit : 0;
    const kind = fraction >= 1 ? "bad" : fraction >= 0.8 ? "warn" : "";
    const limits = [t.rate_limit ? num(t.rate_limit.requests) + " req / " + t.rate_limit.interval : null,
      t.token_limit ? num(t.token_limit.tokens) + " tok / " + t.token_limit.interval : null].filter(Boolean).join(", ") || "–";
    return el("tr", { "data-team": t.name },
      el("td", { text: t.name }),
      el("td", {}, t.limit !== null
        ? el("div", { class: "usage" }, bar(fraction, kind), el("span", { text: usd(t.usage) + " of " + usd(t.limit) + (t.limit_reset ? " " + t.limit_reset : "") }))
        : el("span", { class: "muted", text: "no limit · " + usd(t.usage) + " spent" })),
      el("td", { text: limits }),
      el("td", { class: "small", text: policyText(t) }),
      el("td", { class: "num", text: num(t.keys) }),
      el("td", { class: "num" }, t.source === "config" ? el("span", { class: "muted small", text: "from switchpoint.yaml" })
        : el("button", { class: "danger small", type: "button", text: "Delete",
          onclick: () => { if (confirm("Delete team " + t.name + "?")) teamAction("/dashboard/api/teams/delete", { name: t.name }).catch(showError); } })));
  });
  fillTable(document.getElementById("table-teams"), [
    { label: "Team" }, { label: "Usage against limit" }, { label: "Rate limits" }, { label: "Allowed" },
    { label: "Keys", num: 1 }, { label: "", num: 1 }], rows, "No teams yet: create one above.");
}

async function teamAction(path, body) {
  await api(path, { method: "POST", body: JSON.stringify(body) });
  await loadTeams();
}

async function createTeam(event) {
  event.preventDefault();
  const form = event.target;
  const f = new FormData(form);
  const body = { name: f.get("name").trim() };
  if (f.get("limit")) body.limit = Number(f.get("limit"));
  if (f.get("limit_reset")) body.limit_reset = f.get("limit_reset");
  if (f.get("rate")) body.rate_limit = { requests: Number(f.get("rate")), interval: 60 };
  if (f.get("tokens")) body.token_limit = { tokens: Number(f.get("tokens")), interval: 60 };
  policyFields(f, body);
  try {
    await api("/dashboard/api/teams", { method: "POST", body: JSON.stringify(body) });
    form.reset();
    showError(null);
    await loadTeams();
  } catch (error) { showError(error); }
}

async function createKey(event) {
  event.preventDefault();
  const form = event.target;
  const f = new FormData(form);
  const body = { name: f.get("name").trim() };
  if (f.get("limit")) body.limit = Number(f.get("limit"));
  if (f.get("limit_reset")) body.limit_reset = f.get("limit_reset");
  if (f.get("rate")) body.rate_limit = { requests: Number(f.get("rate")), interval: 60 };
  if (f.get("tokens")) body.token_limit = { tokens: Number(f.get("tokens")), interval: 60 };
  if (f.get("user_limit")) body.user_limit = Number(f.get("user_limit"));
  if (f.get("user_rate")) body.user_rate_limit = { requests: Number(f.get("user_rate")), interval: 60 };
  if (f.get("log_content")) body.log_content = true;
  if (f.get("team")) body.team = f.get("team");
  policyFields(f, body);
  try {
    const created = await api("/dashboard/api/keys", { method: "POST", body: JSON.stringify(body) });
    document.getElementById("created-key-value").textContent = created.key;
    document.getElementById("created-key").hidden = false;
    form.reset();
    showError(null);
    await loadKeys();
  } catch (error) { showError(error); }
}

async function loadUsers() {
  const data = await api("/dashboard/api/users?window=" + state.window);
  const rows = data.users.map((u) => el("tr", { "data-user": u.user === null ? "" : u.user },
    el("td", {}, u.user === null ? el("span", { class: "muted", text: "(none named)" }) : el("span", { class: "mono", text: u.user })),
    el("td", { text: u.key_name }),
    el("td", { class: "num", text: num(u.requests) }),
    el("td", { class: "num", text: num(u.errors) }),
    el("td", { class: "num", text: num(u.prompt_tokens) + " / " + num(u.completion_tokens) }),
    el("td", { class: "num", text: usd(u.cost) })));
  fillTable(document.getElementById("table-users"), [
    { label: "End user" }, { label: "Key" }, { label: "Requests", num: 1 }, { label: "Errors", num: 1 },
    { label: "Tokens in / out", num: 1 }, { label: "Cost", num: 1 }], rows, "No requests in this window.");
}

function changes(entry) {
  /* The settings that differ between before and after (all of them for a key made or deleted). */
  const before = entry.before || {}, after = entry.after || {};
  const show = (v) => v === null || v === undefined ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v);
  const both = entry.before && entry.after, only = entry.after || entry.before || {};
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((n) => both ? JSON.stringify(before[n]) !== JSON.stringify(after[n]) : only[n] !== null && only[n] !== false);
  return names.map((n) => el("div", { class: "small" }, el("span", { class: "muted", text: n + ": " }),
    both ? show(before[n]) + " → " + show(after[n]) : show(only[n])));
}

async function loadAudit() {
  const params = new URLSearchParams({ limit: "50" });
  if (state.auditBefore) params.set("before", state.auditBefore);
  const data = await api("/dashboard/api/audit?" + params);
  state.auditNext = data.next_before;
  document.getElementById("audit-older").disabled = !data.next_before;
  document.getElementById("audit-newest").disabled = !state.auditBefore;
  const rows = data.data.map((e) => el("tr", { "data-audit": String(e.id) },
    el("td", { class: "small", text: when(e.at) }),
    el("td", { text: e.actor }),
    el("td", {}, el("span", { class: "badge " + (e.action.endsWith("delete") || e.action.endsWith("revoke") || e.action.endsWith("disable") ? "bad" : e.action.endsWith("create") ? "ok" : "idle"), text: e.action })),
    el("td", { text: e.target }),
    el("td", {}, changes(e))));
  fillTable(document.getElementById("table-audit"), [
    { label: "Time" }, { label: "Who" }, { label: "Action" }, { label: "What" }, { label: "Changes" }], rows, "No changes recorded yet.");
}

const LOADERS = { overview: loadOverview, endpoints: loadEndpoints, generations: loadGenerations, users: loadUsers, keys: loadKeys, teams: loadTeams, audit: loadAudit };

async function refresh() {
  try {
    await LOADERS[state.tab]();
    showError(null);
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    document.body.dataset.loaded = state.tab;
  } catch (error) { showError(error); }
}

function selectTab(name) {
  if (!LOADERS[name]) name = "overview";
  state.tab = name;
  document.querySelectorAll(".tabs a").forEach((a) => a.classList.toggle("active", a.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((s) => { s.hidden = s.id !== "tab-" + name; });
  delete document.body.dataset.loaded;
  refresh();
}

function applyRole() {
  document.getElementById("whoami").textContent = me.user + " · " + me.role + (me.team ? " (" + me.team + ")" : "");
  document.body.dataset.role = me.role;
  if (!canWrite) document.getElementById("create-key").closest(".panel").hidden = true;
  if (me.role === "team-admin") {
    for (const tab of ["endpoints", "audit"]) {  // endpoint traffic and the audit log span every team
      delete LOADERS[tab];
      document.querySelector(`.tabs a[data-tab="${tab}"]`).hidden = true;
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  applyRole();
  setupCharts();
  document.querySelectorAll("#window button").forEach((button) => button.addEventListener("click", () => {
    state.window = button.dataset.window;
    document.querySelectorAll("#window button").forEach((b) => b.classList.toggle("active", b === button));
    delete document.body.dataset.loaded;
    refresh();
  }));
  window.addEventListener("hashchange", () => selectTab(location.hash.slice(1)));
  document.getElementById("create-key").addEventListener("submit", createKey);
  document.getElementById("create-team").addEventListener("submit", createTeam);
  document.getElementById("filter-apply").addEventListener("click", () => refresh());
  document.getElementById("audit-older").addEventListener("click", () => { state.auditBefore = state.auditNext; refresh(); });
  document.getElementById("audit-newest").addEventListener("click", () => { state.auditBefore = null; refresh(); });
  document.getElementById("dismiss-key").addEventListener("click", () => {
    document.getElementById("created-key").hidden = true;
    document.getElementById("created-key-value").textContent = "";
  });
  document.getElementById("copy-key").addEventListener("click", () => {
    navigator.clipboard.writeText(document.getElementById("created-key-value").textContent).catch(() => {});
  });
  selectTab(location.hash.slice(1) || "overview");
  setInterval(() => { if (!document.hidden && !["keys", "teams", "audit"].includes(state.tab)) refresh(); }, 30000);
});
