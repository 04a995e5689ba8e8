#!/usr/bin/env bash
# Installs what the end-to-end test with the reference parse sidecar needs (idempotent):
#   - Debian's gdb-multiarch (decodes the RISC-V chips; see examples/esp-coredump-sidecar/);
#   - Espressif's esp-coredump in a Python venv at $CRASHBOX_SIDECAR_VENV (default
#     target/sidecar-venv).
# Prints, on stdout and nothing else, the variables the tests read (progress goes to stderr):
#   CRASHBOX_SIDECAR_PYTHON  the venv's python (tests/sidecar_e2e.rs; it also finds the default
#                            venv by itself and says clearly when it skips)
#   ESP_COREDUMP_BIN, ESP_GDB  esp-coredump and a gdb-multiarch wrapper with `set osabi none`
#                            (tests/decode_differential.rs)
# so .ci/run can do:  eval "$(.ci/install-sidecar.sh | sed 's/^/export /')"
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${CRASHBOX_SIDECAR_VENV:-target/sidecar-venv}"
ESP_COREDUMP_SPEC="${ESP_COREDUMP_SPEC:-esp-coredump~=1.17}"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
    as_root apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >&2
}

if ! command -v gdb-multiarch >/dev/null 2>&1; then
    echo "== installing gdb-multiarch" >&2
    apt_install gdb-multiarch
fi

if ! "$VENV/bin/python" -c 'import esp_coredump' >/dev/null 2>&1; then
    echo "== installing $ESP_COREDUMP_SPEC into $VENV" >&2
    mkdir -p "$(dirname "$VENV")"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check "$ESP_COREDUMP_SPEC" >&2
fi

"$VENV/bin/python" -m esp_coredump --version >/dev/null
venv_bin="$(cd "$VENV" && pwd)/bin"
# gdb-multiarch names FreeRTOS tasks "LWP ..." unless the OS ABI is unset; esp-coredump then fails.
cat > "$venv_bin/gdb-riscv-esp" <<'WRAPPER'
#!/bin/sh
exec gdb-multiarch -iex 'set osabi none' "$@"
WRAPPER
chmod +x "$venv_bin/gdb-riscv-esp"

echo "CRASHBOX_SIDECAR_PYTHON=$venv_bin/python"
echo "ESP_COREDUMP_BIN=$venv_bin/esp-coredump"
echo "ESP_GDB=$venv_bin/gdb-riscv-esp"
