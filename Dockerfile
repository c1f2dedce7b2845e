# The browser libraries of the GraphQL console and the profile explorer, from npm by the
# lockfile (make assets does the same outside Docker): idgraph serves them itself.
FROM node:20-slim AS assets
WORKDIR /build/frontend
COPY frontend/package.json frontend/package-lock.json frontend/vendor.mjs ./
RUN npm ci --no-audit --no-fund && node vendor.mjs

FROM python:3.11-slim
# The server runs as an unprivileged system user (fixed ids, so orchestrators can check
# runAsNonRoot), never as root. It has a home: settings default the Neo4j cache to ~/.cache.
RUN groupadd --system --gid 10001 idgraph \
    && useradd --system --uid 10001 --gid idgraph --create-home --home-dir /home/idgraph \
       --shell /usr/sbin/nologin idgraph
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY cypher ./cypher
COPY --from=assets /build/src/idgraph/api/http/static/vendor ./src/idgraph/api/http/static/vendor
# Installed as root into the image's site-packages (read-only to the server); the working
# directory is the user's, for what it writes there (.idgraph/ state, rejects files).
RUN pip install --no-cache-dir . \
    && chown -R idgraph:idgraph /app
USER 10001:10001
EXPOSE 8000
CMD ["idgraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
