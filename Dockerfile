# syntax=docker/dockerfile:1
# One image, every role (the command picks it: receiver, admin, worker --entity E,
# scheduler, migrate, dlq …). Built in three steps so that a code change rebuilds
# only our crates: cargo-chef cooks the dependency layer from the lock file alone.
# The shipped binary is stripped; its debug info is a separate artifact
# (`docker build --target debug-symbols --output type=local,dest=out .`) that a
# crash report or `perf` on a copy can use through the binary's debuglink.

ARG RUST_VERSION=1.95
FROM lukemathwalker/cargo-chef:latest-rust-${RUST_VERSION}-slim-bookworm AS chef
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: cached until Cargo.toml or Cargo.lock change.
RUN cargo chef cook --release --package hris-sync --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked -p hris-sync \
 && objcopy --only-keep-debug target/release/hris-sync /hris-sync.debug \
 && objcopy --strip-debug --strip-unneeded --add-gnu-debuglink=/hris-sync.debug \
      target/release/hris-sync /hris-sync \
 && ls -l /hris-sync /hris-sync.debug

# The debug info, exported on its own, never shipped.
FROM scratch AS debug-symbols
COPY --from=build /hris-sync.debug /

# glibc and CA roots, no shell, no package manager, uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="hris-sync" \
      org.opencontainers.image.description="Keeps a learning platform's people in sync with the HR system, through Kombo" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /hris-sync /usr/local/bin/hris-sync
USER nonroot:nonroot
ENV LOG_FORMAT=json RUST_LOG=info
# 8080: the receiver (webhooks, its /metrics); 8082: the admin API (internal);
# 9090: /metrics of workers, scheduler and admin.
EXPOSE 8080 8082 9090
ENTRYPOINT ["/usr/local/bin/hris-sync"]
CMD ["--help"]
