// Small DOM helpers: elements built from data with textContent only (never HTML from data).
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== undefined && child !== null));
  return node;
}

export function when(iso) {
  if (!iso) return el("time", {}, "—");
  const text = iso.replace("T", " ").replace(/(\.\d+)?(\+00:00|Z)$/, " UTC");
  return el("time", { datetime: iso }, text);
}

export function day(iso) {
  return iso ? iso.slice(0, 10) : "?";
}

export function show(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export const keyOf = (identity) => identity.namespace + ":" + identity.value;
