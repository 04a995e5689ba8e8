#!/usr/bin/env bash
# Installs what the end-to-end test with the reference parse sidecar needs (idempotent):
#   - Debian's gdb-multiarch (decodes the RISC-V chips; see examples/esp-coredump-sidecar/);
#   - Espressif's esp-coredump in a Python venv at $CRASHBOX_SIDECAR_VENV (default
#     target/sidecar-venv).
# Prints the line `CRASHBOX_SIDECAR_PYTHON=<venv python>`; export it for `cargo test` (the test
# also finds the default venv by itself and says clearly when it skips).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${CRASHBOX_SIDECAR_VENV:-target/sidecar-venv}"
ESP_COREDUMP_SPEC="${ESP_COREDUMP_SPEC:-esp-coredump~=1.17}"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@"
}

if ! command -v gdb-multiarch >/dev/null 2>&1; then
    echo "== installing gdb-multiarch"
    apt_install gdb-multiarch
fi

if ! "$VENV/bin/python" -c 'import esp_coredump' >/dev/null 2>&1; then
    echo "== installing $ESP_COREDUMP_SPEC into $VENV"
    mkdir -p "$(dirname "$VENV")"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check "$ESP_COREDUMP_SPEC"
fi

"$VENV/bin/python" -m esp_coredump --version >/dev/null
echo "CRASHBOX_SIDECAR_PYTHON=$(cd "$VENV" && pwd)/bin/python"
