#!/usr/bin/env bash
# Builds the Go HBONE peers into test/interop/bin/ using only the standard
# library: no module downloads (GOPROXY=off), go.mod never rewritten
# (-mod=readonly, not -mod=mod), caches under /tmp.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GOPROXY=off GOFLAGS=-mod=readonly GOTOOLCHAIN=local GO111MODULE=on CGO_ENABLED=0
export GOCACHE="${GOCACHE:-/tmp/ambient-interop-gocache}"
export GOPATH="${GOPATH:-/tmp/ambient-interop-gopath}"

mkdir -p "$here/bin"
cd "$here/go"
go vet ./...
go build -trimpath -o "$here/bin/" ./hbone-client ./hbone-server
echo "built $here/bin/hbone-client $here/bin/hbone-server"
