// The identity graph: identities as nodes coloured by namespace, links as edges labelled with
// their source and last date; refused links dashed red, unlinked ones dotted grey; identities
// outside the profile (kept out by a refused link) drawn hollow.
import { day, el, keyOf } from "./dom.js";

const PALETTE = ["#2f5bd3", "#d35f2f", "#2f9e6b", "#8e44ad", "#c0962f", "#1f8fa8", "#c23b7d",
                 "#5d6d2f", "#6d4c41", "#455a8a"];

export function colourOf(namespace, namespaces) {
  return PALETTE[namespaces.indexOf(namespace) % PALETTE.length];
}

export function linkId(link) {
  return keyOf(link.a) + "|" + keyOf(link.b) + "|" + link.source;
}

function elements(identities, links) {
  const members = new Set(identities.map(keyOf));
  const nodes = new Map(identities.map((i) => [keyOf(i), { namespace: i.namespace, value: i.value, outside: false }]));
  for (const link of links) {
    for (const end of [link.a, link.b]) {
      if (!nodes.has(keyOf(end))) nodes.set(keyOf(end), { namespace: end.namespace, value: end.value, outside: true });
    }
  }
  const namespaces = [...new Set([...nodes.values()].map((n) => n.namespace))].sort();
  const nodeElements = [...nodes].map(([key, n]) => ({
    data: { id: key, label: n.value, namespace: n.namespace, colour: colourOf(n.namespace, namespaces) },
    classes: n.outside || !members.has(key) ? "outside" : "",
  }));
  const edgeElements = links.map((link) => ({
    data: { id: linkId(link), source: keyOf(link.a), target: keyOf(link.b),
            label: link.source + " · " + day(link.lastSeen) + (link.status === "active" ? "" : " · " + link.status) },
    classes: link.status,
  }));
  return { namespaces, elements: [...nodeElements, ...edgeElements] };
}

const STYLE = [
  { selector: "node", style: { "background-color": "data(colour)", label: "data(label)", "font-size": 10,
                               "text-valign": "bottom", "text-margin-y": 4, width: 22, height: 22, color: "#1d2433" } },
  { selector: "node.outside", style: { "background-opacity": 0.15, "border-width": 2, "border-style": "dashed",
                                        "border-color": "data(colour)" } },
  { selector: "edge", style: { width: 2, "line-color": "#8a93a6", "curve-style": "bezier", label: "data(label)",
                               "font-size": 8, color: "#4a5163", "text-rotation": "autorotate",
                               "text-background-color": "#fff", "text-background-opacity": 0.85,
                               "text-background-padding": 1 } },
  { selector: "edge.refused", style: { "line-style": "dashed", "line-color": "#c0392b", color: "#b3261e" } },
  { selector: "edge.unlinked", style: { "line-style": "dotted" } },
  { selector: "edge.on-path", style: { width: 5, "line-color": "#f2b01e", "z-index": 10 } },
];

export function drawGraph(container, legend, identities, links) {
  const { namespaces, elements: items } = elements(identities, links);
  const cy = window.cytoscape({ container, elements: items, style: STYLE,
                                layout: { name: "cose", animate: false, randomize: false, padding: 30 } });
  container.dataset.nodes = String(cy.nodes().length);
  container.dataset.edges = String(cy.edges().length);
  legend.replaceChildren(
    ...namespaces.map((ns) => el("span", {}, el("span", { class: "swatch", style: "background:" + colourOf(ns, namespaces) }), ns)),
    el("span", {}, el("span", { class: "line" }), "active"),
    el("span", {}, el("span", { class: "line refused" }), "refused"),
    el("span", {}, el("span", { class: "line unlinked" }), "unlinked"),
    el("span", {}, "hollow: outside this profile"));
  return cy;
}
