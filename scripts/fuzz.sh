# schemathesis, which fuzzes Herald's API from docs/openapi.json in the end-to-end suite
# (tests/e2e/fuzz.rs). Sourced by scripts/lib.sh, not executed.
#
# ensure_schemathesis creates target/fuzz-venv once (the marker holds the pin, so a
# changed pin rebuilds it) and exports HERALD_TEST_SCHEMATHESIS. Keep the pin in step
# with tests/src/fuzz.rs.

# hypothesis is pinned too: schemathesis takes its newest release otherwise.
HERALD_SCHEMATHESIS_PIN="schemathesis==4.32.5 hypothesis==6.170.27"

ensure_schemathesis() {
  local venv="$PWD/target/fuzz-venv"
  if [ ! -f "$venv/.herald-ready" ] || [ "$(cat "$venv/.herald-ready")" != "$HERALD_SCHEMATHESIS_PIN" ]; then
    echo "==> $venv: pip install $HERALD_SCHEMATHESIS_PIN" >&2
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      apt_install python3-venv
      rm -rf "$venv"
      python3 -m venv "$venv"
    fi
    # shellcheck disable=SC2086 # the pin is a list of requirements
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $HERALD_SCHEMATHESIS_PIN </dev/null >&2
    printf '%s' "$HERALD_SCHEMATHESIS_PIN" >"$venv/.herald-ready"
  fi
  export HERALD_TEST_SCHEMATHESIS="$venv/bin/schemathesis"
}
