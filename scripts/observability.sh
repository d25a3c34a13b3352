# The observability deployment files: Prometheus alert rules and their unit tests, the
# example scrape config (deploy/prometheus) and the Grafana dashboard (deploy/grafana).
# Sourced by scripts/lib.sh, not executed; needs lib.sh's apt_install.

# ensure_promtool: promtool from Debian's prometheus package. Recommends are skipped
# (they would add the node exporter); the package's own service is not needed.
ensure_promtool() {
  command -v promtool >/dev/null || apt_install --no-install-recommends prometheus
  command -v promtool >/dev/null || { echo "promtool is missing after installing prometheus" >&2; exit 1; }
}

# check_deploy: every file in deploy/prometheus and deploy/grafana is valid, the alert
# rules pass their unit tests, and every herald_* metric they use is named in Herald's
# Rust code, so a renamed metric cannot leave a silent panel or a dead alert behind.
check_deploy() {
  ensure_promtool
  local prometheus="deploy/prometheus" dashboard="deploy/grafana/herald.json"
  deploy_check promtool check rules "$prometheus/alerts.yml"
  deploy_check promtool test rules "$prometheus/alerts_test.yml"
  deploy_check promtool check config "$prometheus/prometheus.yml"
  echo "==> python3 -m json.tool $dashboard" >&2
  python3 -m json.tool "$dashboard" >/dev/null || { echo "FAILED: $dashboard is not valid JSON" >&2; exit 1; }
  echo "==> metrics used in deploy/ are named in crates/" >&2
  local name unknown=""
  for name in $(grep -ohE 'herald_[a-z_]+' "$prometheus/alerts.yml" "$dashboard" | sort -u); do
    name="${name%_bucket}" name="${name%_sum}" name="${name%_count}"
    grep -rqF --include='*.rs' "\"$name\"" crates || unknown="$unknown $name"
  done
  if [ -n "$unknown" ]; then
    echo "FAILED: deploy/ uses metrics that no Rust file in crates/ names:$unknown" >&2
    exit 1
  fi
}

# deploy_check COMMAND...: runs it with its output on stderr; stops the script if it fails.
deploy_check() {
  echo "==> $*" >&2
  "$@" >&2 || { echo "FAILED: $*" >&2; exit 1; }
}
