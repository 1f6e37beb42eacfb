# cachegate: a static binary on a distroless base, run as a non-root user.
# Mount the config at /etc/cachegate/cachegate.yaml.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The same build step CI runs.
RUN sh .ci/build /out/cachegate "$VERSION"
# The state directory (tls.acme.storage_dir under it), owned by the user
# cachegate runs as, so that a volume mounted there is writable.
RUN mkdir -p /out/state/certmagic

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cachegate /usr/local/bin/cachegate
COPY --from=build --chown=65532:65532 /out/state /var/lib/cachegate
USER nonroot:nonroot
EXPOSE 8080 9091
# The image has no shell or curl: cachegate health GETs /healthz on the
# config's admin.listen (exit 0 when it answers, 1 otherwise).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/cachegate", "health", "-config", "/etc/cachegate/cachegate.yaml"]
ENTRYPOINT ["/usr/local/bin/cachegate"]
CMD ["-config", "/etc/cachegate/cachegate.yaml"]
