#!/usr/bin/env bash
# Installs what the end-to-end suite (tests/e2e) needs besides the oxeye binary: Prometheus (Debian's package,
# 2.42 on Debian 12) and the pinned Python packages. Run as root; safe to run again.
#
#   sudo scripts/install-test-deps.sh            # then: python3 -m pytest tests/e2e
#   PYTHON=/path/to/python3.11 scripts/install-test-deps.sh
set -euo pipefail

PYTHON="${PYTHON:-python3}"

# Versions the suite was written and run against.
PYTHON_PACKAGES=(
  "pytest==9.2.0"
  "opentelemetry-api==1.45.2"
  "opentelemetry-sdk==1.45.2"
  "opentelemetry-exporter-otlp==1.45.2"
  "python-logging-loki==0.3.1"
  "websocket-client==1.8.0"
)

if [[ "$(id -u)" -ne 0 ]]; then
  echo "install-test-deps.sh: run as root (apt-get needs it)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends prometheus python3 python3-pip ca-certificates

# Debian's own interpreter is "externally managed" (PEP 668); a pyenv or venv interpreter is not.
pip_flags=()
stdlib_dir="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"
if [[ -f "$stdlib_dir/EXTERNALLY-MANAGED" && -z "${VIRTUAL_ENV:-}" ]]; then
  pip_flags+=(--break-system-packages)
fi
"$PYTHON" -m pip install "${pip_flags[@]}" "${PYTHON_PACKAGES[@]}"

command -v prometheus >/dev/null || { echo "prometheus was not installed" >&2; exit 1; }
prometheus --version 2>&1 | head -n 1
"$PYTHON" -c 'import pytest, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http, logging_loki, websocket; print("python test dependencies ok")'
