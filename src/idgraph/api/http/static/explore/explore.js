// The profile explorer: look up an identity, then see its merged profile with provenance, the
// identity graph, the explanation of a link, the events, the history and the audiences. A
// plain client of the GraphQL API (api.js); everything shown comes from the API.
import { ApiError, errorsByField, graphql, keyStore } from "./api.js";
import { clear, el, keyOf, show, when } from "./dom.js";
import { drawGraph, linkId } from "./graph.js";
import { segmentsSelection } from "./segments.js";

// One query per part: a field the key's role may not read makes its part null (the fields are
// non-null lists), so the parts a role may not see are asked for on their own.
const PARTS = {
  core: `id size createdAt updatedAt isTestProfile
    primaryIdentity { namespace value }
    identities { namespace value firstSeen lastSeen }
    attributeProvenance {
      path value source recordId timestamp
      beaten { value source recordId timestamp }
    }
    events(first: 50) { edges { node { id source type timestamp properties } } pageInfo { hasNextPage } }`,
  links: `links(first: 100) {
      a { namespace value } b { namespace value }
      source status reason firstSeen lastSeen count lastRecordId
    }`,
  history: "history { at kind related reason cause }",
};
const partQuery = (selection) =>
  `query Explore($identity: IdentityInput!) { profile(identity: $identity) { id ${selection} } }`;
const EXPLAIN = `query Explain($a: IdentityInput!, $b: IdentityInput!) {
  explain(identity: $a, otherIdentity: $b) {
    sameProfile message
    links { a { namespace value } b { namespace value } source status reason lastSeen count }
  }
}`;

const $ = (selector) => document.querySelector(selector);
const state = { profile: null, cy: null, asked: null };
window.idgraphExplorer = state; // for people poking at it in the console, and for the tests

function status(text, isError = false) {
  $("#status").textContent = text;
  $("#status").className = isError ? "error" : "";
}

function note(field, error) {
  const node = document.querySelector(`.note[data-for="${field}"]`);
  if (!node) return;
  node.textContent = error ? describe(error) : "";
  node.className = error ? "note error" : "note";
}

function info(field, text) {
  const node = document.querySelector(`.note[data-for="${field}"]`);
  if (node && !node.textContent) node.textContent = text;
}

function describe(error) {
  const code = (error.extensions || {}).code;
  if (code === "FORBIDDEN") return "Your key's role may not see this (an analyst key may).";
  return error.message;
}

function parseIdentity(text) {
  const at = text.indexOf(":");
  if (at < 1) throw new ApiError(`"${text}" is not namespace:value`);
  return { namespace: text.slice(0, at).trim(), value: text.slice(at + 1) };
}

// -- sections -----------------------------------------------------------------------------

function renderSummary(p) {
  clear($("#summary"),
    el("h2", {}, "Profile ", el("code", { id: "profile-id" }, p.id)),
    el("dl", {},
      el("dt", {}, "Primary identity"), el("dd", {}, keyOf(p.primaryIdentity)),
      el("dt", {}, "Identities"), el("dd", {}, String(p.size)),
      el("dt", {}, "Created"), el("dd", {}, when(p.createdAt)),
      el("dt", {}, "Updated"), el("dd", {}, when(p.updatedAt)),
      el("dt", {}, "Test profile"), el("dd", {}, p.isTestProfile ? "yes" : "no")),
    el("table", { id: "identities" },
      el("thead", {}, el("tr", {}, el("th", {}, "Identity"), el("th", {}, "First seen"), el("th", {}, "Last seen"))),
      el("tbody", {}, p.identities.map((i) =>
        el("tr", {}, el("td", {}, keyOf(i)), el("td", {}, when(i.firstSeen)), el("td", {}, when(i.lastSeen)))))));
}

function renderAttributes(values) {
  const rows = (values || []).map((v) => {
    const row = el("tr", { tabindex: 0, dataset: { path: v.path } },
      el("td", {}, v.path), el("td", {}, show(v.value)), el("td", {}, v.source), el("td", {}, when(v.timestamp)));
    row.addEventListener("mouseenter", () => showProvenance(row, v));
    row.addEventListener("focus", () => showProvenance(row, v));
    row.addEventListener("mouseleave", () => hideProvenance(row));
    row.addEventListener("blur", () => hideProvenance(row));
    row.addEventListener("click", () => togglePin(row, v));
    return row;
  });
  clear($("#attributes tbody"), rows.length ? rows : el("tr", {}, el("td", { colspan: 4 }, "No attributes.")));
}

function showProvenance(row, v) {
  const tip = $("#provenance");
  const beaten = v.beaten.length
    ? el("ul", {}, v.beaten.map((b) => el("li", { class: "beaten" },
        show(b.value), " from ", b.source, " (record ", b.recordId, ", ", when(b.timestamp), ")")))
    : el("p", { class: "beaten" }, "No other source gave a value.");
  clear(tip, el("h3", {}, v.path, " = ", show(v.value)),
    el("div", {}, "from ", el("strong", {}, v.source), ", record ", v.recordId, ", at ", when(v.timestamp)),
    el("div", {}, v.beaten.length ? "It beat:" : ""), beaten);
  const box = row.getBoundingClientRect();
  tip.style.left = Math.min(box.left + 24, window.innerWidth - 460) + "px";
  tip.style.top = box.bottom + 4 + "px";
  tip.hidden = false;
}

function hideProvenance(row) {
  if (!row.classList.contains("pinned")) $("#provenance").hidden = true;
}

function togglePin(row, v) {
  const wasPinned = row.classList.contains("pinned");
  document.querySelectorAll("#attributes tr.pinned").forEach((r) => r.classList.remove("pinned"));
  if (!wasPinned) { row.classList.add("pinned"); showProvenance(row, v); } else $("#provenance").hidden = true;
}

function renderGraph(p) {
  if (state.cy) state.cy.destroy();
  state.cy = drawGraph($("#graph"), $("#legend"), p.identities, p.links || []);
  const keys = new Set(p.identities.map(keyOf));
  for (const link of p.links || []) [link.a, link.b].forEach((i) => keys.add(keyOf(i)));
  clear($("#members"), [...keys].sort().map((key) => el("option", { value: key })));
}

function renderTimeline(events) {
  const items = (events ? events.edges : []).map(({ node }) => el("li", {},
    when(node.timestamp), " ", el("span", { class: "kind" }, node.type), " from ", node.source,
    Object.keys(node.properties || {}).length ? el("div", { class: "note" }, show(node.properties)) : null));
  clear($("#timeline"), items.length ? items : el("li", {}, "No events."));
  if (events && events.pageInfo.hasNextPage) $("#timeline").append(el("li", { class: "note" }, "… older events not shown"));
}

function renderHistory(history) {
  const items = (history || []).map((c) => el("li", {},
    when(c.at), " ", el("span", { class: "kind" }, c.kind),
    c.related && c.related.length ? " with " + c.related.join(", ") : "",
    c.reason ? " — " + c.reason : "", c.cause ? el("div", { class: "note" }, "cause: " + c.cause) : null));
  clear($("#history"), items.length ? items : el("li", {}, "No history."));
}

function flatten(value, prefix = "", out = {}) {
  for (const [name, inner] of Object.entries(value || {})) {
    if (inner && typeof inner === "object" && !Array.isArray(inner)) flatten(inner, prefix + name + ".", out);
    else out[prefix + name] = inner;
  }
  return out;
}

function renderAudiences(memberships, available) {
  const rows = (memberships || []).map((m) => flatten(m));
  const columns = [...new Set(rows.flatMap(Object.keys))];
  clear($("#audiences thead"), el("tr", {}, columns.map((c) => el("th", {}, c))));
  clear($("#audiences tbody"), rows.map((r) => el("tr", {}, columns.map((c) => el("td", {}, r[c] === undefined ? "" : show(r[c]))))));
  if (!available) info("segments", "This server has no audiences (segments) yet.");
  else if (!rows.length) info("segments", "In no audience.");
}

// -- actions ------------------------------------------------------------------------------

// A part of the profile: {profile} or, when the key's role may not read it, {error}.
async function part(selection, identity) {
  const { data, errors } = await graphql(partQuery(selection), { identity });
  const field = errorsByField(errors, "profile");
  const error = Object.values(field)[0] || (data.profile === null && errors[0]);
  return error ? { profile: null, error } : { profile: data.profile, error: null };
}

async function lookUp(identity) {
  state.asked = identity; // looked up again when a key is typed in
  status("Looking up " + keyOf(identity) + " …");
  const segments = await segmentsSelection(graphql);
  const [core, links, past, audiences] = await Promise.all([
    part(PARTS.core, identity), part(PARTS.links, identity), part(PARTS.history, identity),
    segments ? part(segments, identity) : Promise.resolve({ profile: null, error: null })]);
  if (core.error) throw new ApiError(describe(core.error));
  const p = core.profile;
  if (!p) {
    $("#profile").hidden = true;
    status(`No profile holds ${keyOf(identity)} (after normalisation).`);
    return;
  }
  p.links = links.profile ? links.profile.links : [];
  p.history = past.profile ? past.profile.history : [];
  p.segments = audiences.profile ? audiences.profile.segments : [];
  state.profile = p;
  note("links", links.error);
  note("history", past.error);
  note("segments", audiences.error);
  $("#profile").hidden = false;
  renderSummary(p);
  renderAttributes(p.attributeProvenance);
  renderGraph(p);
  renderTimeline(p.events);
  renderHistory(p.history);
  renderAudiences(p.segments, Boolean(segments));
  $("#explain-a").value = identity.namespace + ":" + identity.value.trim();
  clear($("#explain-result"));
  status(`Profile ${p.id}: ${p.size} identities.`);
  history.replaceState(null, "", "?" + new URLSearchParams(identity).toString());
}

function pathOrder(links) {
  if (!links.length) return [];
  const first = links[0];
  const second = links[1];
  let current = second && [keyOf(second.a), keyOf(second.b)].includes(keyOf(first.a)) ? keyOf(first.b) : keyOf(first.a);
  const steps = [current];
  for (const link of links) {
    current = keyOf(link.a) === current ? keyOf(link.b) : keyOf(link.a);
    steps.push(link, current);
  }
  return steps;
}

async function explain(a, b) {
  const { data, errors } = await graphql(EXPLAIN, { a, b });
  if (!data || !data.explain) throw new ApiError(errors.length ? describe(errors[0]) : "No answer.");
  const result = data.explain;
  const steps = pathOrder(result.links).map((step) => typeof step === "string"
    ? el("span", { class: "path-identity path-step" }, step)
    : el("span", { class: "path-link path-step " + step.status, title: step.reason || "" },
         "— " + step.source + " · " + (step.lastSeen || "").slice(0, 10) + " · " + step.status + " —"));
  clear($("#explain-result"),
    el("p", {}, el("strong", {}, result.sameProfile ? "One profile: " : "Not one profile: "), result.message),
    el("div", { class: "path" }, steps));
  if (state.cy) {
    state.cy.edges().removeClass("on-path");
    for (const link of result.links) state.cy.getElementById(linkId(link)).addClass("on-path");
  }
}

function wire() {
  $("#key").value = keyStore.get();
  $("#key-state").textContent = keyStore.get() ? "key set for this tab" : "no key";
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    keyStore.set($("#key").value.trim());
    $("#key-state").textContent = $("#key").value.trim() ? "key set for this tab" : "no key";
    if (state.asked) run(() => lookUp(state.asked));
  });
  $("#forget-key").addEventListener("click", () => {
    keyStore.forget();
    $("#key").value = "";
    $("#key-state").textContent = "no key";
  });
  $("#lookup").addEventListener("submit", (event) => {
    event.preventDefault();
    run(() => lookUp({ namespace: $("#namespace").value.trim(), value: $("#value").value }));
  });
  $("#explain").addEventListener("submit", (event) => {
    event.preventDefault();
    run(() => explain(parseIdentity($("#explain-a").value), parseIdentity($("#explain-b").value)));
  });
  const asked = new URLSearchParams(window.location.search);
  if (asked.get("namespace") && asked.get("value")) {
    $("#namespace").value = asked.get("namespace");
    $("#value").value = asked.get("value");
    run(() => lookUp({ namespace: asked.get("namespace"), value: asked.get("value") }));
  }
}

async function run(action) {
  try {
    await action();
  } catch (error) {
    status(error.message, true);
    if (!(error instanceof ApiError)) console.error(error);
  }
}

wire();
