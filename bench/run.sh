#!/usr/bin/env bash
# The load harness: builds hanko-authz, the harness and (when it can) the
# OPA Envoy plugin, then runs every server and its peers on 127.0.0.1 in one
# run and prints the table. Everything stops by itself when the run ends.
#
# Usage: bench/run.sh [--readme] [harness flags...]
#   --readme   rewrite the README's Numbers section and the plots in bench/plots/
#   harness flags: -rounds 3 -duration 3s -c 4,32 -sessions 300 -invalid 0.1 -flood 50
# Envoy comes from $HANKOAUTH_ENVOY, the PATH, or scripts/install-envoy.sh's
# install; without it the Envoy rows are skipped (said in the output).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

readme=()
if [ "${1:-}" = "--readme" ]; then
	shift
	readme=(-readme "$root/README.md" -plots "$root/bench/plots" -plots-url bench/plots)
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/hankobench.XXXXXX")
echo "output: $out" >&2
bin="$out/bin"
mkdir -p "$bin"

echo "building hanko-authz, the harness and ghz..." >&2
go -C "$root" build -o "$bin/hanko-authz" ./cmd/hanko-authz
go build -o "$bin/hankobench" .
go -C "$root" build -modfile=tools/go.mod -o "$bin/ghz" github.com/bojand/ghz/cmd/ghz

if [ -z "${HANKOAUTH_ENVOY:-}" ] && ! command -v envoy >/dev/null && [ -x "$root/scripts/install-envoy.sh" ]; then
	HANKOAUTH_ENVOY=$("$root/scripts/install-envoy.sh" 2>/dev/null | tail -n 1) || true
	[ -n "${HANKOAUTH_ENVOY:-}" ] && export HANKOAUTH_ENVOY
fi

# The OPA Envoy plugin, built from its Go module. Its module is not always
# served by the Go module proxy: then the harness runs the same policy with
# OPA's Go module behind a small ext_authz shim, and says so.
opa=()
opa_version=${OPA_ENVOY_PLUGIN_VERSION:-v1.10.1-envoy}
if GOBIN="$bin" go install "github.com/open-policy-agent/opa-envoy-plugin/cmd/opa-envoy-plugin@$opa_version" 2>"$out/opa-build.log"; then
	opa=(-opa-envoy-plugin "$bin/opa-envoy-plugin")
else
	echo "OPA Envoy plugin $opa_version could not be built ($(tail -n 1 "$out/opa-build.log")); using OPA's Go module with the same policy instead" >&2
fi

exec "$bin/hankobench" run -dir "$out" -hanko-authz "$bin/hanko-authz" -ghz "$bin/ghz" "${opa[@]}" "${readme[@]}" "$@"
