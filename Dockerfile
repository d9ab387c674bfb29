# syntax=docker/dockerfile:1

# Build stage. Runs on the build host's platform and cross-compiles for the
# target, so `docker buildx build --platform linux/amd64,linux/arm64` needs
# no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src

# Module downloads get their own layer: it is rebuilt only when go.mod or
# go.sum change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ARG TARGETOS TARGETARCH
# Static, reproducible binary: no cgo (the final image has no libc),
# no local paths (-trimpath), no symbol/debug tables (-s -w).
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/hanko-authz ./cmd/hanko-authz

# Runtime stage: distroless static has CA certificates (needed for Hanko's
# HTTPS JWKS endpoint) and tzdata, but no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hanko-authz /hanko-authz
# The distroless "nonroot" user; matches runAsUser in
# deploy/kubernetes/deployment.yaml.
USER 65532:65532
# 9001: gRPC (SessionService, ext_authz Check, health, reflection).
# 9002: HTTP (/healthz, /readyz, /metrics, /authz/).
EXPOSE 9001 9002
# No HEALTHCHECK: Kubernetes ignores it and probes /healthz and /readyz
# itself, and the image has no shell or curl to run one with.
ENTRYPOINT ["/hanko-authz"]
CMD ["serve"]
