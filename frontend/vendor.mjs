// Copies the browser libraries idgraph serves itself from node_modules (installed by `npm ci`
// from package-lock.json) into the Python package, with their licences: the GraphQL console
// and the profile explorer then load nothing from a CDN and work offline. Run by `make assets`.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, "..", "src", "idgraph", "api", "http", "static", "vendor");
const files = {
  "react.production.min.js": "react/umd/react.production.min.js",
  "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
  "graphiql.min.js": "graphiql/graphiql.min.js",
  "graphiql.min.css": "graphiql/graphiql.min.css",
  "graphiql-plugin-explorer.umd.js": "@graphiql/plugin-explorer/dist/index.umd.js",
  "graphiql-plugin-explorer.css": "@graphiql/plugin-explorer/dist/style.css",
  "cytoscape.min.js": "cytoscape/dist/cytoscape.min.js",
};
const licences = ["react", "react-dom", "graphiql", "@graphiql/plugin-explorer", "cytoscape"];

rmSync(target, { recursive: true, force: true });
mkdirSync(join(target, "licences"), { recursive: true });
for (const [name, source] of Object.entries(files)) {
  copyFileSync(join(here, "node_modules", source), join(target, name));
}
const versions = {};
for (const pkg of licences) {
  const folder = join(here, "node_modules", pkg);
  const meta = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
  versions[pkg] = meta.version;
  const text = existsSync(join(folder, "LICENSE"))
    ? readFileSync(join(folder, "LICENSE"), "utf8")
    : `${pkg} ${meta.version}: licence ${meta.license} (the package ships no LICENSE file)\n`;
  writeFileSync(join(target, "licences", `${pkg.replace("@", "").replace("/", "__")}.txt`), text);
}
// Written last: its presence tells idgraph the copy is complete.
writeFileSync(join(target, "manifest.json"), JSON.stringify({ files, versions }, null, 2) + "\n");
console.log(`vendored ${Object.keys(files).length} files into ${target}`);
