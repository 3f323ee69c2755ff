#!/usr/bin/env bash
# Builds the pgscale image (docker/k8s/Dockerfile) from this tree: a static Linux build of
# pgscale (CGO_ENABLED=0) and the host's CA certificates (for TLS to a cloud server) in a
# FROM scratch image, so no registry is needed. `make image` runs it.
#   docker/k8s/build-image.sh [IMAGE...]  (tags; default $PGSCALE_K8S_IMAGE, else pgscale/pgscale:dev)
# GOARCH=arm64 builds for arm64 nodes; PGSCALE_CA_CERTS names another CA bundle.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
images=("$@")
[[ ${#images[@]} -gt 0 ]] || images=("${PGSCALE_K8S_IMAGE:-pgscale/pgscale:dev}")
certs=${PGSCALE_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
[[ -r $certs ]] || { echo "build-image.sh: no CA certificates at $certs (install ca-certificates, or set PGSCALE_CA_CERTS)" >&2; exit 1; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
version=$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)
(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH="${GOARCH:-amd64}" go build -trimpath \
	-ldflags "-s -w -X github.com/pgscale/pgscale/internal/runner.Version=$version" -o "$ctx/pgscale" ./cmd/pgscale)
cp "$root/docker/k8s/Dockerfile" "$ctx/"
cp "$certs" "$ctx/ca-certificates.crt"
tags=()
for image in "${images[@]}"; do tags+=(-t "$image"); done
docker build --quiet "${tags[@]}" "$ctx" >/dev/null
echo "built ${images[*]} ($(du -h "$ctx/pgscale" | cut -f1) static binary, FROM scratch)"
