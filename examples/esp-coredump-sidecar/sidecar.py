#!/usr/bin/env python3
"""Reference parse sidecar for crashbox: Espressif's esp-coredump behind the sidecar protocol.

    GET /parse-coredump?core=<dump file>&elf=<app ELF file>&chip=<esp-idf target>
    200 {"output": "<esp-coredump info_corefile report>"}
    4xx/5xx {"error": "<why>"}

`core` and `elf` are basenames of files that crashbox copied into the transfer directory shared
with this process (PARSE_SIDECAR_XFER_DIR on the crashbox side, --xfer-dir here). Anything else
(paths, dot files, symlinks leading out of the directory) is refused.

Each request copies both files into a fresh temporary directory, writes a small gdb wrapper there
and runs

    python -m esp_coredump --chip <chip> info_corefile -t <fmt> -c <core> --gdb <wrapper> <elf>

with a timeout. The wrapper starts Debian's gdb-multiarch with `-iex 'set osabi none'`; without
it gdb names the FreeRTOS tasks `LWP ...` and esp-coredump fails. gdb-multiarch has RISC-V but no
Xtensa support, and Espressif's Xtensa gdb is not in the public registries, so Xtensa chips
(esp32, esp32s2, esp32s3) are answered with 422 unless `xtensa-<chip>-elf-gdb` is on PATH.

Format: crashbox devices upload the bare ELF core (`-t elf`; note that esp-coredump then does not
check that the app ELF matches the dump); a full core dump partition image is `-t raw`, UART
base64 text `-t b64`. The format is sniffed from the file.

Only the Python standard library is used; esp-coredump must be installed in the interpreter that
runs this script (see README.md).
"""

import argparse
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RISCV_CHIPS = {
    "esp32c2", "esp32c3", "esp32c5", "esp32c6", "esp32c61",
    "esp32h2", "esp32h21", "esp32h4", "esp32p4",
}
XTENSA_CHIPS = {"esp32", "esp32s2", "esp32s3"}
MAX_OUTPUT = 4 << 20  # bytes of report returned; crashbox accepts up to 8 MiB
MAX_INPUT = 512 << 20  # bytes of an input file (the app ELF is the large one)

log = logging.getLogger("esp-coredump-sidecar")


class Refused(Exception):
    """A request this sidecar answers with an error status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def config_from_args(argv=None):
    p = argparse.ArgumentParser(description="crashbox parse sidecar running esp-coredump")
    p.add_argument("--xfer-dir", default=os.environ.get("PARSE_SIDECAR_XFER_DIR"),
                   help="transfer directory shared with crashbox (env PARSE_SIDECAR_XFER_DIR)")
    p.add_argument("--bind", default=os.environ.get("SIDECAR_BIND", "127.0.0.1:8081"),
                   help="HOST:PORT to listen on; port 0 picks a free one (env SIDECAR_BIND)")
    p.add_argument("--gdb", default=os.environ.get("SIDECAR_GDB", "gdb-multiarch"),
                   help="gdb for RISC-V chips (env SIDECAR_GDB)")
    p.add_argument("--esp-coredump", default=os.environ.get("SIDECAR_ESP_COREDUMP"),
                   help="command running esp-coredump (default: this Python with -m esp_coredump)")
    p.add_argument("--timeout", type=float, default=float(os.environ.get("SIDECAR_TIMEOUT", "100")),
                   help="seconds one esp-coredump run may take (keep it below crashbox's 120)")
    p.add_argument("--max-parallel", type=int, default=int(os.environ.get("SIDECAR_MAX_PARALLEL", "2")),
                   help="esp-coredump runs at once; further requests wait")
    args = p.parse_args(argv)
    if not args.xfer_dir:
        p.error("--xfer-dir (or PARSE_SIDECAR_XFER_DIR) is required")
    if not os.path.isdir(args.xfer_dir):
        p.error(f"transfer directory {args.xfer_dir!r} does not exist")
    host, _, port = args.bind.rpartition(":")
    try:
        args.bind_addr = (host or "127.0.0.1", int(port))
    except ValueError:
        p.error(f"--bind {args.bind!r} is not HOST:PORT")
    args.xfer_dir = os.path.realpath(args.xfer_dir)
    args.esp_coredump = (shlex.split(args.esp_coredump) if args.esp_coredump
                         else [sys.executable, "-m", "esp_coredump"])
    return args


def input_path(xfer_dir, name, what):
    """The file `name` inside `xfer_dir`, or Refused: basenames only, no escapes."""
    if not name:
        raise Refused(HTTPStatus.BAD_REQUEST, f"missing query parameter: {what}")
    if (name != os.path.basename(name) or name in (".", "..") or name.startswith(".")
            or "\0" in name or "\\" in name):
        raise Refused(HTTPStatus.BAD_REQUEST, f"{what} must be a plain file name in the transfer directory")
    path = os.path.realpath(os.path.join(xfer_dir, name))
    if os.path.dirname(path) != xfer_dir:
        raise Refused(HTTPStatus.BAD_REQUEST, f"{what} leads out of the transfer directory")
    if not os.path.isfile(path):
        raise Refused(HTTPStatus.NOT_FOUND, f"{what} file {name} not found in the transfer directory")
    if os.path.getsize(path) > MAX_INPUT:
        raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"{what} file {name} is too large")
    return path


def core_format(path):
    """esp-coredump's -t for this dump: elf, raw (partition image) or b64 (UART text)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(b"\x7fELF"):
        return "elf"
    text = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n \t")
    if head and all(c in text for c in head.replace(b"CORE DUMP START", b"").replace(b"CORE DUMP END", b"")):
        return "b64"
    return "raw"


def gdb_for(cfg, chip):
    """The gdb command for `chip`, or Refused."""
    if chip in RISCV_CHIPS:
        gdb = shutil.which(cfg.gdb)
        if not gdb:
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, f"{cfg.gdb} is not installed")
        # Without `set osabi none` gdb-multiarch treats the core as a Linux one ("LWP" threads).
        return [gdb, "-iex", "set osabi none"]
    if chip in XTENSA_CHIPS:
        gdb = shutil.which(f"xtensa-{chip}-elf-gdb")
        if not gdb:
            raise Refused(HTTPStatus.UNPROCESSABLE_ENTITY,
                          f"{chip} is an Xtensa chip and this sidecar has no Xtensa gdb "
                          f"(xtensa-{chip}-elf-gdb is not on PATH; gdb-multiarch cannot debug Xtensa)")
        return [gdb]
    raise Refused(HTTPStatus.BAD_REQUEST, f"unknown chip {chip!r}")


def run_esp_coredump(cfg, core, elf, chip):
    """Runs info_corefile in a temp dir of its own; returns the report text or raises Refused."""
    gdb = gdb_for(cfg, chip)
    with tempfile.TemporaryDirectory(prefix="esp-coredump-") as tmp:
        core_copy = os.path.join(tmp, "core")
        elf_copy = os.path.join(tmp, "app.elf")
        shutil.copyfile(core, core_copy)
        shutil.copyfile(elf, elf_copy)
        wrapper = os.path.join(tmp, "gdb")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec " + " ".join(shlex.quote(a) for a in gdb) + ' "$@"\n')
        os.chmod(wrapper, 0o700)
        cmd = cfg.esp_coredump + ["--chip", chip, "info_corefile", "-t", core_format(core_copy),
                                  "-c", core_copy, "--gdb", wrapper, elf_copy]
        env = dict(os.environ, HOME=tmp, TMPDIR=tmp)
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=cfg.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise Refused(HTTPStatus.GATEWAY_TIMEOUT, f"esp-coredump took longer than {cfg.timeout:g}s")
    text = out.decode("utf-8", "replace")
    if proc.returncode != 0 or "CORE DUMP START" not in text:
        # The last meaningful lines (a Python traceback ends with the exception).
        lines = (err.decode("utf-8", "replace") or text).splitlines()
        tail = [l.strip() for l in lines if l.strip(" \t^~")][-2:]
        raise Refused(HTTPStatus.INTERNAL_SERVER_ERROR,
                      f"esp-coredump failed (exit {proc.returncode}): " + " | ".join(tail))
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("espcoredump.py v"):
        lines = lines[1:]  # the version banner
    text = "".join(lines)
    if len(text.encode()) > MAX_OUTPUT:
        text = text.encode()[:MAX_OUTPUT].decode("utf-8", "ignore") + "\n[report truncated]\n"
    return text


class Handler(BaseHTTPRequestHandler):
    server_version = "esp-coredump-sidecar/1"
    cfg = None
    slots = None

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/healthz":
            return self.reply(HTTPStatus.OK, {"status": "ok", "gdb": shutil.which(self.cfg.gdb)})
        if url.path != "/parse-coredump":
            return self.reply(HTTPStatus.NOT_FOUND, {"error": "not found"})
        q = parse_qs(url.query)
        started = time.monotonic()
        chip = (q.get("chip") or [""])[0].strip().lower()
        try:
            core = input_path(self.cfg.xfer_dir, (q.get("core") or [""])[0], "core")
            elf = input_path(self.cfg.xfer_dir, (q.get("elf") or [""])[0], "elf")
            if not self.slots.acquire(timeout=self.cfg.timeout):
                raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, "too many parses in progress")
            try:
                output = run_esp_coredump(self.cfg, core, elf, chip)
            finally:
                self.slots.release()
        except Refused as e:
            log.warning("parse %s chip=%s: %d %s", self.path, chip, e.status, e.message)
            return self.reply(e.status, {"error": e.message})
        except Exception as e:  # a bug here must still answer, not drop the connection
            log.exception("parse %s failed", self.path)
            return self.reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"sidecar error: {e}"})
        log.info("parsed %s chip=%s in %.2fs", os.path.basename(core), chip, time.monotonic() - started)
        self.reply(HTTPStatus.OK, {"output": output})

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        log.debug("%s " + fmt, self.address_string(), *args)


def main(argv=None):
    logging.basicConfig(level=os.environ.get("SIDECAR_LOG", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    cfg = config_from_args(argv)
    Handler.cfg = cfg
    Handler.slots = threading.BoundedSemaphore(max(1, cfg.max_parallel))
    server = ThreadingHTTPServer(cfg.bind_addr, Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    log.info("transfer dir %s, gdb %s", cfg.xfer_dir, shutil.which(cfg.gdb) or f"{cfg.gdb} (not found)")
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()


if __name__ == "__main__":
    main()
