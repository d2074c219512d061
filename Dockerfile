# Bastion container image: built from source on Debian 12, run on debian:12-slim as uid 1001.
#   docker build -t bastion:0.1.0 .
#   docker run --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges:true \
#     -p 443:8443 -p 80:8080 -v bastion-data:/var/lib/bastion -v "$PWD/secrets:/run/secrets:ro" \
#     [-v "$PWD/bastion.yaml:/etc/bastion/bastion.yaml:ro"] bastion:0.1.0
# (or deploy/compose/docker-compose.yml: deploy/README.md)
# Secrets never go into this file (no ENV or ARG carries one): mount them as files (compose/Kubernetes
# secrets under /run/secrets) and point the config or BASTION_<KEY>_FILE at them.

############################ build ############################
FROM debian:12 AS build
# The build dependencies of scripts/install-deps.sh, without the test tools (tests are not built here).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev \
      libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libsqlite3-dev libpq-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The release preset (hardening flags, -O2), without ccache, tests or benchmarks.
RUN cmake --preset release -DCMAKE_CXX_COMPILER_LAUNCHER= -DBASTION_BUILD_TESTS=OFF -DBASTION_BUILD_BENCH=OFF \
 && cmake --build --preset release --target bastion bastion-demo-agent \
 && cmake --install build/release --prefix /opt/bastion --strip \
 && /opt/bastion/bin/bastion version

############################ runtime ############################
FROM debian:12-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="bastion" \
      org.opencontainers.image.description="Hardened, observable front door for MCP agents" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="NOASSERTION" \
      org.opencontainers.image.vendor="Bastion" \
      org.opencontainers.image.source="https://example.com/bastion" \
      org.opencontainers.image.documentation="https://example.com/bastion/deploy/README.md" \
      org.opencontainers.image.base.name="docker.io/library/debian:12-slim"
# Only the shared libraries the binaries link (tests/deploy/dockerfile_test.sh checks this list
# against ldd), plus libpq5, which Bastion opens at run time for a PostgreSQL store (not in ldd),
# and CA certificates for HTTPS upstreams and ACME.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libboost-url1.81.0 libssl3 libyaml-cpp0.7 libspdlog1.10 libfmt9 \
      libsqlite3-0 libpq5 libhiredis0.14 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 1001 bastion \
 && useradd --system --uid 1001 --gid 1001 --home-dir /var/lib/bastion --no-create-home \
      --shell /usr/sbin/nologin bastion \
 && install -d -o 1001 -g 1001 -m 0700 /var/lib/bastion \
 && install -d -o root -g root -m 0755 /etc/bastion
COPY --from=build /opt/bastion /opt/bastion
# Container defaults: TLS on 8443, redirect on 8080, admin on 8123 with a token (see the file).
COPY deploy/config/bastion.container.yaml /etc/bastion/bastion.yaml
COPY deploy/docker/bastion-admin-probe /usr/local/bin/bastion-admin-probe
ENV PATH=/opt/bastion/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The only writable places: this volume and a /tmp tmpfs (run with --read-only).
VOLUME ["/var/lib/bastion"]
WORKDIR /var/lib/bastion
USER 1001:1001
EXPOSE 8443 8080
STOPSIGNAL SIGTERM
# The admin listener needs its bearer token when it is not on loopback, which `bastion health`
# cannot send yet; the probe sends the token from $BASTION_ADMIN_TOKEN_FILE when that is set
# and behaves like `bastion health http://127.0.0.1:8123/healthz` otherwise.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bastion-admin-probe", "/healthz"]
ENTRYPOINT ["bastion"]
CMD ["serve", "-c", "/etc/bastion/bastion.yaml"]
