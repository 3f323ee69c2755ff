#!/usr/bin/env bash
# Builds the pgscale image (docker/k8s/Dockerfile) from this tree: a static Linux build of
# bin/pgscale and the host's CA certificates in a FROM scratch image, so no registry is needed.
#   docker/k8s/build-image.sh [IMAGE]     (default $PGSCALE_K8S_IMAGE, else pgscale/pgscale:dev)
# GOARCH=arm64 builds for arm64 nodes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
image=${1:-${PGSCALE_K8S_IMAGE:-pgscale/pgscale:dev}}
certs=${PGSCALE_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
version=$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)
(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH="${GOARCH:-amd64}" go build -trimpath \
	-ldflags "-s -w -X github.com/pgscale/pgscale/runner.Version=$version" -o "$ctx/pgscale" ./cmd/pgscale)
cp "$certs" "$ctx/ca-certificates.crt"
cp "$root/docker/k8s/Dockerfile" "$ctx/"
docker build --quiet -t "$image" "$ctx"
echo "built $image ($(du -h "$ctx/pgscale" | cut -f1) binary)"
