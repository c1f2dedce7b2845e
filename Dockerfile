# The browser libraries of the GraphQL console and the profile explorer, from npm by the
# lockfile (make assets does the same outside Docker): idgraph serves them itself.
FROM node:20-slim AS assets
WORKDIR /build/frontend
COPY frontend/package.json frontend/package-lock.json frontend/vendor.mjs ./
RUN npm ci --no-audit --no-fund && node vendor.mjs

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY cypher ./cypher
COPY --from=assets /build/src/idgraph/api/http/static/vendor ./src/idgraph/api/http/static/vendor
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["idgraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
