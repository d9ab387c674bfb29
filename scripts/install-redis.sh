#!/usr/bin/env bash
# Installs redis-server for the tests (Debian's package) when it is
# missing, and prints its path. Idempotent: quick when it is there.
# The tests run it themselves on a free loopback port; nothing is started
# here.
set -euo pipefail

if [[ -n "${HANKOAUTH_REDIS_SERVER:-}" && -x "${HANKOAUTH_REDIS_SERVER}" ]]; then
	echo "${HANKOAUTH_REDIS_SERVER}"
	exit 0
fi
if ! command -v redis-server >/dev/null 2>&1; then
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "install-redis: redis-server is missing and apt-get is not available; install Redis 6.2 or later" >&2
		exit 1
	fi
	sudo=""
	if [[ "$(id -u)" != 0 ]]; then
		sudo="sudo"
	fi
	echo "install-redis: installing redis-server with apt-get" >&2
	$sudo apt-get update -qq >&2
	# No service start: the tests run their own servers.
	DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends redis-server >&2
fi
command -v redis-server
