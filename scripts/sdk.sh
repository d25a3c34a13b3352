# The official Svix SDKs that the SDK end-to-end scripts in tests/sdk/ drive Herald
# with. Sourced (by scripts/lib.sh), not executed; needs lib.sh's apt_install.
#
# ensure_sdk_clients creates, once:
#   target/sdk-venv-v2  PyPI svix 2.x   -> HERALD_TEST_SDK_PYTHON_V2
#   target/sdk-venv-v1  PyPI svix 1.x   -> HERALD_TEST_SDK_PYTHON_V1
#   tests/sdk/js/node_modules (npm ci)  -> HERALD_TEST_SDK_JS_DIR
# A marker file holding the pinned version makes reruns instant and a changed pin
# rebuild the environment. Keep the pins in step with tests/src/sdk.rs.

HERALD_SDK_PYTHON_V2_PIN="svix==2.9.1"
HERALD_SDK_PYTHON_V1_PIN="svix==1.99.1"

# sdk_python_venv DIR REQUIREMENT: a venv at DIR with REQUIREMENT installed.
sdk_python_venv() {
  local venv="$1" requirement="$2"
  if [ ! -f "$venv/.herald-ready" ] || [ "$(cat "$venv/.herald-ready")" != "$requirement" ]; then
    echo "==> $venv: pip install $requirement" >&2
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      if declare -F apt_install >/dev/null; then apt_install python3-venv; fi
      rm -rf "$venv"
      python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement" </dev/null >&2
    printf '%s' "$requirement" >"$venv/.herald-ready"
  fi
}

ensure_sdk_clients() {
  local root="$PWD"
  sdk_python_venv "$root/target/sdk-venv-v2" "$HERALD_SDK_PYTHON_V2_PIN"
  sdk_python_venv "$root/target/sdk-venv-v1" "$HERALD_SDK_PYTHON_V1_PIN"
  export HERALD_TEST_SDK_PYTHON_V2="$root/target/sdk-venv-v2/bin/python"
  export HERALD_TEST_SDK_PYTHON_V1="$root/target/sdk-venv-v1/bin/python"

  local js="$root/tests/sdk/js"
  if ! command -v npm >/dev/null 2>&1; then
    if declare -F apt_install >/dev/null; then apt_install nodejs npm; fi
  fi
  # npm ci again whenever the lock file changed since the last install.
  if [ ! -f "$js/node_modules/.herald-ready" ] || ! cmp -s "$js/package-lock.json" "$js/node_modules/.herald-ready"; then
    echo "==> tests/sdk/js: npm ci" >&2
    (cd "$js" && CI=true npm ci --silent --no-audit --no-fund </dev/null >&2)
    cp "$js/package-lock.json" "$js/node_modules/.herald-ready"
  fi
  export HERALD_TEST_SDK_JS_DIR="$js"
}
