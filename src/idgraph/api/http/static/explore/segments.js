// Audiences on the profile (`Profile.segments`), when this server has them: their shape is
// read from the schema (introspection), so the page works before and after segments exist.
const TYPE_REF = "kind name ofType { kind name ofType { kind name ofType { kind name } } }";
const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;
let cached;

function named(type) {
  while (type && !type.name) type = type.ofType;
  return type;
}

async function fieldsOf(graphql, typeName) {
  const { data } = await graphql(`query($n: String!) { __type(name: $n) { fields { name args { name type { kind } defaultValue } type { ${TYPE_REF} } } } }`, { n: typeName });
  return (data && data.__type && data.__type.fields) || [];
}

function callable(field) {
  return NAME.test(field.name) && field.args.every((a) => a.type.kind !== "NON_NULL" || a.defaultValue !== null);
}

async function selectionOf(graphql, typeName, depth) {
  const parts = [];
  for (const field of (await fieldsOf(graphql, typeName)).filter(callable)) {
    const type = named(field.type);
    if (type.kind === "SCALAR" || type.kind === "ENUM") parts.push(field.name);
    else if (type.kind === "OBJECT" && depth > 0) {
      const inner = await selectionOf(graphql, type.name, depth - 1);
      if (inner) parts.push(`${field.name} { ${inner} }`);
    }
  }
  return parts.join(" ");
}

// The selection `segments { ... }` for the profile query, or "" when there is no such field
// (or introspection is off on this server).
export async function segmentsSelection(graphql) {
  if (cached !== undefined) return cached;
  try {
    const field = (await fieldsOf(graphql, "Profile")).find((f) => f.name === "segments");
    const type = field && callable(field) ? named(field.type) : null;
    const inner = type && type.kind === "OBJECT" ? await selectionOf(graphql, type.name, 1) : "";
    cached = inner ? `segments { ${inner} }` : "";
  } catch (error) {
    cached = "";
  }
  return cached;
}
