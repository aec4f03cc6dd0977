# syntax=docker/dockerfile:1
# Multi-stage: build with the full toolchain, ship one static-ish binary on a
# small Debian runtime as a non-root user. One image, every role (the command
# picks it: receiver, admin, worker --entity E, scheduler, migrate, dlq …).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so that code changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY tests tests
COPY migrations migrations
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p hris-sync \
 && cp target/release/hris-sync /hris-sync

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin hris
COPY --from=build /hris-sync /usr/local/bin/hris-sync
USER 10001:10001
ENV LOG_FORMAT=json RUST_LOG=info
# 8080: receiver (webhooks, /metrics); 8082: admin API (internal); 9090:
# /metrics of workers, scheduler and admin.
EXPOSE 8080 8082 9090
ENTRYPOINT ["/usr/local/bin/hris-sync"]
CMD ["--help"]
