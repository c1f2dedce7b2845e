// The GraphQL client of the explorer: this server's /graphql, with the key kept for this tab.
const KEY_ITEM = "idgraph.apiKey";

export const keyStore = {
  get: () => window.sessionStorage.getItem(KEY_ITEM) || "",
  set: (key) => window.sessionStorage.setItem(KEY_ITEM, key),
  forget: () => window.sessionStorage.removeItem(KEY_ITEM),
};

export class ApiError extends Error {}

// Runs a document; resolves to {data, errors} (field errors included), rejects with ApiError
// when nothing ran (no or a wrong key, a limit, the server down).
export async function graphql(query, variables = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const key = keyStore.get();
  if (key) headers.Authorization = "Bearer " + key;
  let response;
  try {
    response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  } catch (error) {
    throw new ApiError("idgraph cannot be reached: " + error.message);
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) {
    throw new ApiError("The API needs a valid key: type it above (an analyst key sees everything here).");
  }
  if (!response.ok || !("data" in body)) {
    const first = (body.errors || [])[0];
    throw new ApiError(first ? first.message : "HTTP " + response.status);
  }
  return { data: body.data, errors: body.errors || [] };
}

// Field errors by the field of `root` they concern: {history: "Forbidden: ...", ...}.
export function errorsByField(errors, root) {
  const found = {};
  for (const error of errors) {
    const path = error.path || [];
    if (path[0] === root && path.length > 1) found[path[1]] = error;
  }
  return found;
}
