# syntax=docker/dockerfile:1
#
# flowgate container image: one static-ish binary on debian slim, running as an
# unprivileged user, settings and models under /etc/flowgate. See docs/operations.md.
#
#   docker build -t flowgate .
#   docker run --rm -p 8080:8080 -e FLOWGATE_ADMIN_PASSWORD='a real password' flowgate
#
# The built-in settings file is config/container.toml: the embedded engine, no user.
# FLOWGATE_ADMIN_PASSWORD gives a first administrator (user Administrator, or
# FLOWGATE_ADMIN_USER). Mount your own settings over /etc/flowgate/flowgate.toml (and
# models under /etc/flowgate/models) and override single keys with
# FLOWGATE__<SECTION>__<KEY>. `serve` refuses to listen beyond loopback with users whose
# password is their name (the development users of config/dev.toml).

# --- build --------------------------------------------------------------------------
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# rustls everywhere: no OpenSSL headers needed. The API explorer's assets come from the
# vendored Swagger UI crate: nothing is downloaded besides crates.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p flowgate --bin flowgate \
 && install -D -m 0755 target/release/flowgate /out/flowgate
# The image's settings: no user (no engine-specific variable is baked into the image;
# your own settings file may name its engines freely).
RUN install -m 0644 config/container.toml /out/flowgate.toml \
 && ! grep -q '^\[\[auth.users\]\]' /out/flowgate.toml

# --- runtime ------------------------------------------------------------------------
FROM debian:bookworm-slim
# No package manager run here: CA roots come from the build image.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN groupadd --system --gid 10001 flowgate \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin flowgate \
 && mkdir -p /var/lib/flowgate \
 && chown 10001:10001 /var/lib/flowgate
COPY --from=build /out/flowgate /usr/local/bin/flowgate
COPY config/models /etc/flowgate/models
COPY --from=build /out/flowgate.toml /etc/flowgate/flowgate.toml
ENV FLOWGATE_CONFIG=/etc/flowgate/flowgate.toml \
    FLOWGATE__SERVER__BIND=0.0.0.0:8080 \
    FLOWGATE__LOG__FORMAT=json \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Durable state of the embedded engine.
VOLUME ["/var/lib/flowgate"]
WORKDIR /var/lib/flowgate
USER 10001:10001
EXPOSE 8080
# GET /health/live answers 200 while the process serves (no credentials, no engine call).
# bash's /dev/tcp keeps curl out of the image.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health/live HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
# SIGTERM (docker stop) drains in-flight requests for server.shutdown_timeout_secs.
ENTRYPOINT ["/usr/local/bin/flowgate"]
CMD ["serve"]
