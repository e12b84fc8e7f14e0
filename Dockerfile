# syntax=docker/dockerfile:1
# One image for every Node part of the compose world (control plane, sidecars, gateway, services,
# chaos-init); compose.yaml picks the entry module with `command`. Multi-arch: the node base image
# is published for amd64 and arm64, and better-sqlite3 compiles for the build platform when no
# prebuilt binary is available.
# Node 24, an LTS line (package.json engines: >=22; CI runs the suite on Node 24 too). Pinned by tag.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# ── toolchain: python3/make/g++ for better-sqlite3's native build ─────────────────────────────
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./

# ── build: all dependencies, TypeScript compiled to dist/ ─────────────────────────────────────
FROM toolchain AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY deploy/tsconfig.docker.json deploy/
COPY services services
COPY mesh mesh
COPY world world
COPY bus bus
COPY chaos chaos
COPY lib lib
RUN npx tsc -p deploy/tsconfig.docker.json

# ── deps: production dependencies only ────────────────────────────────────────────────────────
FROM toolchain AS deps
RUN npm ci --omit=dev --no-audit --no-fund

# ── runtime: no compiler, no dev dependencies, not root ───────────────────────────────────────
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist dist
# The control plane loads the default Istio config from config/default on its first start, and
# serves the dashboard's files from dashboard/ beside dist/ (mesh/control-plane/dashboard/static.ts).
COPY config config
COPY dashboard dashboard
# Named volumes mounted at /data (and the mail provider's CA volume at /etc/mail-provider) start out with
# this directory's owner: the unprivileged node user.
RUN mkdir -p /data /etc/mail-provider && chown node:node /data /etc/mail-provider
USER node
CMD ["node", "dist/mesh/sidecar/main.js"]
