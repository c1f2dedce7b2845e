// Runs graphql-http's GraphQL-over-HTTP server audits against a live server and prints the
// results as JSON: [{id, name, status: "ok" | "warn" | "error", reason}].
// Usage: node audit.mjs http://127.0.0.1:8000/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}
const results = await auditServer({ url, fetchFn: fetch });
console.log(JSON.stringify(results.map(({ id, name, status, reason }) =>
  ({ id, name, status, reason: reason ?? null }))));
