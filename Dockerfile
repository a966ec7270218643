# Portcullis container image: `docker build -t portcullis .`
# The image runs `portcullis serve` by default; `worker`, `migrate` or any other CLI command can replace it.

ARG NODE_IMAGE=node:20-bookworm-slim

# A compiler for better-sqlite3's native addon, in case no prebuilt binary matches. Kept out of the runtime image.
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# Compile the TypeScript with the dev dependencies.
FROM toolchain AS build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only.
FROM toolchain AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORTCULLIS_DATA_DIR=/var/lib/portcullis
# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 portcullis \
  && useradd --system --uid 10001 --gid portcullis --home-dir /app --shell /usr/sbin/nologin portcullis \
  && mkdir -p /var/lib/portcullis \
  && chown portcullis:portcullis /var/lib/portcullis
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY ports ./ports
USER 10001:10001
# The embedded SQLite database (when DATABASE_URL is not set) lives here.
VOLUME ["/var/lib/portcullis"]
EXPOSE 4545
# The slim image has no curl: Node's own fetch asks the liveness endpoint.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORTCULLIS_PORT || 4545) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
