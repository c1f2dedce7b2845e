// The GraphQL console: GraphiQL on this server's /graphql, with the API key the profile
// explorer keeps for this tab (sessionStorage) as the default Authorization header.
(function () {
  "use strict";
  const KEY_ITEM = "idgraph.apiKey";
  const EXAMPLE = `# idgraph's GraphQL API. Send your key in the Headers tab below:
#   {"Authorization": "Bearer <key>"}
# (none needed when the server has no keys and you are on this machine).
# Run with Ctrl-Enter. The profile explorer is at /explore.

{
  profile(identity: {namespace: "email", value: "Jane.Doe@Example.com "}) {
    id
    primaryIdentity { namespace value }
    identities { namespace value }
    attributes
  }
}
`;
  const params = new URLSearchParams(window.location.search);
  const url = window.location.origin + "/graphql";
  const socketUrl = url.replace(/^http/, "ws");
  const key = window.sessionStorage.getItem(KEY_ITEM);
  const defaultHeaders = key ? JSON.stringify({ Authorization: "Bearer " + key }, null, 2) : "";

  const fetcher = GraphiQL.createFetcher({
    url: url,
    subscriptionUrl: socketUrl,
    wsConnectionParams: key ? { apiKey: key } : {},
  });

  function Console() {
    const explorer = GraphiQLPluginExplorer.explorerPlugin();
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultQuery: EXAMPLE,
      query: params.get("query") || undefined,
      defaultHeaders: defaultHeaders,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(Console));
})();
