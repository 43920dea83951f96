# flowgate container image.
#
#   docker build -t flowgate .
#   docker run --rm -p 8080:8080 flowgate
#
# The default configuration is config/dev.toml, whose users are DEVELOPMENT CREDENTIALS
# (password = user name). For anything else mount your own settings file over
# /etc/flowgate/flowgate.toml (and models under /etc/flowgate/models), e.g.
#   docker run -v $PWD/prod.toml:/etc/flowgate/flowgate.toml:ro -p 8080:8080 flowgate
# Any setting can also be overridden with FLOWGATE__<SECTION>__<KEY> variables.

# --- build -------------------------------------------------------------------------
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# rustls everywhere: no OpenSSL headers needed.
COPY . .
RUN cargo build --release --locked -p flowgate \
 && install -D -m 0755 target/release/flowgate /out/flowgate

# --- runtime -----------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 flowgate \
 && useradd --system --uid 10001 --gid flowgate --no-create-home --shell /usr/sbin/nologin flowgate
COPY --from=build /out/flowgate /usr/local/bin/flowgate
COPY config/models /etc/flowgate/models
COPY config/dev.toml /etc/flowgate/flowgate.toml
ENV FLOWGATE_CONFIG=/etc/flowgate/flowgate.toml \
    FLOWGATE__SERVER__BIND=0.0.0.0:8080 \
    FLOWGATE__ENGINES__LOCAL__MODELS_DIR=/etc/flowgate/models \
    FLOWGATE__LOG__FORMAT=json
USER flowgate:flowgate
EXPOSE 8080
# GET /runningstatus answers 200 while every engine is up (no credentials needed).
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
  CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET /runningstatus HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 && head -n1 <&3 | grep -q " 200 "'
# Validate settings and models before serving; SIGTERM stops gracefully.
ENTRYPOINT ["/usr/local/bin/flowgate"]
CMD ["serve"]
