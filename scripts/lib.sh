# Shared by scripts/run and scripts/test: find what Herald needs, install what is
# missing from Debian's packages, start what is not running. Sourced, not executed.

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    echo "==> apt-get update" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2
    apt_updated=1
  fi
  echo "==> apt-get install -y $*" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null >&2
}

# Installs the Redis server binary if it is missing (it does not start Debian's service).
need_redis_binary() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
}

redis_answers() { # host port
  redis-cli -h "$1" -p "$2" ping 2>/dev/null | grep -q PONG
}

postgres_answers() { # url
  psql "$1" -Atqc 'select 1' >/dev/null 2>&1
}

# The suite also starts PostgreSQL servers of its own (initdb, pg_ctl) to stop them
# under load: make sure the server programs are installed, whatever serves 5432.
ensure_postgres_server_programs() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
}

# Makes sure a PostgreSQL answers on 127.0.0.1:5432 and exports
# HERALD_TEST_POSTGRES_URL with credentials that work.
ensure_postgres() {
  local trust="postgres://postgres@127.0.0.1:5432/postgres"
  local password="postgres://postgres:herald@127.0.0.1:5432/postgres"
  command -v psql >/dev/null || apt_install postgresql-client
  for url in "${HERALD_TEST_POSTGRES_URL:-}" "$trust" "$password"; do
    if [ -n "$url" ] && postgres_answers "$url"; then
      export HERALD_TEST_POSTGRES_URL="$url"
      return
    fi
  done
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "==> starting PostgreSQL $version" >&2
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q && break
    sleep 1
  done
  if postgres_answers "$trust"; then
    export HERALD_TEST_POSTGRES_URL="$trust"
    return
  fi
  # Debian's default authentication asks for a password over TCP: give the test user one.
  as_root runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'herald'" >&2
  postgres_answers "$password" || { echo "PostgreSQL is running but refuses connections" >&2; exit 1; }
  export HERALD_TEST_POSTGRES_URL="$password"
}

# Makes sure a Redis answers on 127.0.0.1:6379 and exports HERALD_TEST_REDIS_URL.
ensure_test_redis() {
  need_redis_binary
  if ! redis_answers 127.0.0.1 6379; then
    echo "==> starting Redis on 127.0.0.1:6379" >&2
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
    for _ in $(seq 1 30); do redis_answers 127.0.0.1 6379 && break; sleep 0.2; done
  fi
  export HERALD_TEST_REDIS_URL="redis://127.0.0.1:6379"
}

# Creates target/test-venv with the independent verifiers (standardwebhooks for v1,
# PyNaCl for v1a) and exports HERALD_TEST_PYTHON. The marker names the packages, as
# tests/src/verifier.rs does, so a venv made for fewer is made again.
ensure_verifier_venv() {
  local venv="$PWD/target/test-venv"
  if [ ! -f "$venv/.herald-ready-standardwebhooks-pynacl" ]; then
    rm -rf "$venv"
    mkdir -p "$PWD/target"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      apt_install python3-venv
      rm -rf "$venv"
      python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check standardwebhooks pynacl >&2
    touch "$venv/.herald-ready-standardwebhooks-pynacl"
  fi
  export HERALD_TEST_PYTHON="$venv/bin/python"
}

need_rust_components() {
  cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt >&2
  cargo clippy --version >/dev/null 2>&1 || rustup component add clippy >&2
}

# Drops what earlier test runs left behind: their databases and Redis keys. Every
# test uses fresh names, so this is housekeeping, not isolation.
clean_test_leftovers() {
  local base="${HERALD_TEST_POSTGRES_URL%/*}"
  psql "$HERALD_TEST_POSTGRES_URL" -Atqc \
    "select datname from pg_database where datname like 'herald\_test\_%' or datname like 'herald\_store\_test\_%'" |
    while read -r name; do
      psql "$base/postgres" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
  redis-cli -h 127.0.0.1 -p 6379 --scan --pattern 'herald-test-*' | xargs -r -n 500 redis-cli -h 127.0.0.1 -p 6379 del >/dev/null
  redis-cli -h 127.0.0.1 -p 6379 --scan --pattern 'herald-queue-test-*' | xargs -r -n 500 redis-cli -h 127.0.0.1 -p 6379 del >/dev/null
}

# The official Svix SDKs for the SDK end-to-end tests (ensure_sdk_clients).
. "$(dirname "${BASH_SOURCE[0]}")/sdk.sh"
# schemathesis for the API fuzzing test (ensure_schemathesis).
. "$(dirname "${BASH_SOURCE[0]}")/fuzz.sh"
# The dashboard's build (build_dashboard) and the browser for its tests (ensure_chromium).
. "$(dirname "${BASH_SOURCE[0]}")/dashboard.sh"
# Prometheus rules, scrape config and Grafana dashboard checks (ensure_promtool, check_deploy).
. "$(dirname "${BASH_SOURCE[0]}")/observability.sh"
