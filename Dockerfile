# One image for every role: ROLE=api | worker | all picks what the process runs.
# Build: docker build -t aegle .     Run: see docker-compose.yml and deploy/k8s/.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The plugin SDK is an npm workspace: npm ci links node_modules/@aegle/plugin-sdk to it.
COPY libs/plugin-sdk/package.json libs/plugin-sdk/package.json
RUN npm ci --ignore-scripts=false
COPY tsconfig.json tsconfig.build.json ./
COPY apps apps
COPY libs libs
COPY plugins plugins
COPY scripts scripts
COPY bin bin
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000 \
    AEGLE_CONFIG=/etc/aegle/aegle.config.yaml
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/package.json package.json
# The SDK workspace's manifest and JSON schemas (`npx aegle plugin new` points plugins at them); the
# engine runs the SDK compiled into dist/.
COPY --from=build /app/libs/plugin-sdk/package.json /app/libs/plugin-sdk/*.schema.json libs/plugin-sdk/
# `npx aegle …` in the container: the launcher runs the build (no dev dependencies here).
COPY --from=build /app/bin bin
# Plugins are read at start-up: manifest, model and model card.
COPY --from=build /app/plugins plugins
COPY deploy/aegle.config.yaml /etc/aegle/aegle.config.yaml
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM drains (see README, graceful shutdown); give it AEGLE_SHUTDOWN_TIMEOUT_MS to finish.
STOPSIGNAL SIGTERM
# --v8-pool-size=0: V8's background threads (concurrent GC, compilation) sized to the cores less one,
# instead of Node's fixed 4, which on a small machine took CPU from PostgreSQL (README, intake speed).
CMD ["node", "--v8-pool-size=0", "dist/apps/engine/src/main.js"]
