#!/usr/bin/env bash
# The test command: installs what the end-to-end tests run (Envoy, and Redis
# when its install script exists), points the tests at them, and runs every
# test of both modules with the race detector. Extra arguments go to both
# `go test` runs (e.g. scripts/test.sh -short).
#
# When an install fails, the tests that need it skip, with a line naming the
# install script; with CI set, the failure ends the run instead.
set -euo pipefail
cd "$(dirname "$0")/.."

# install VAR SCRIPT: run SCRIPT and export VAR as the last line it printed.
install() {
	local var=$1 script=$2 out
	if [ -n "${!var:-}" ] || [ ! -x "$script" ]; then
		return 0
	fi
	if out=$("$script"); then
		printf '%s\n' "$out" | sed '$d' >&2
		export "$var=$(printf '%s\n' "$out" | tail -n 1)"
	elif [ -n "${CI:-}" ]; then
		echo "test.sh: $script failed" >&2
		exit 1
	else
		echo "test.sh: $script failed; the tests that need it will skip" >&2
	fi
}

install HANKOAUTH_ENVOY scripts/install-envoy.sh
install HANKOAUTH_REDIS_SERVER scripts/install-redis.sh

go test -race "$@" ./... && go -C deploy test -race "$@" ./...
