#!/bin/sh
# Installs the peers of the side-by-side benchmarks from Debian's archive: Prometheus and VictoriaMetrics.
# The packages' services are not needed (run.py starts its own instances on 127.0.0.1); stop them if you
# want the machine quiet while benchmarking: systemctl disable --now prometheus victoria-metrics
set -eu
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
$SUDO apt-get update
$SUDO apt-get install -y prometheus victoria-metrics
prometheus --version 2>&1 | head -n 1
victoria-metrics -version 2>&1 | head -n 1
