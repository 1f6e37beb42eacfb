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

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cachegate /usr/local/bin/cachegate
USER nonroot:nonroot
EXPOSE 8080 9091
ENTRYPOINT ["/usr/local/bin/cachegate"]
CMD ["-config", "/etc/cachegate/cachegate.yaml"]
