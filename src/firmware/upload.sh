#!/bin/sh
# crashbox firmware upload: packs an ESP-IDF build into a firmware bundle and uploads it.
#
# Usage (from the project root, after `idf.py build`):
#   curl -fsSL <crashbox>/api/pipeline/upload.sh | CRASHBOX_TOKEN=<pipeline token> sh -s -- [model_code] [firmware.bin]
#
# Auto-detect: with no firmware argument, build/project_description.json gives the project
# name; the firmware is build/<project_name>.bin and, with no model_code either, the model code
# is the project name.
#
# The bundle is a flat ZIP of <model>.bin, <model>.elf, <model>.map (found next to the .bin and
# renamed to the model code), sdkconfig and a generated version.json with git_commit,
# idf_version and firmware_version.
#
# Environment:
#   CRASHBOX_TOKEN      required: a crashbox API token with role "pipeline"
#                       (crashbox token create --role pipeline --name ci)
#   CRASHBOX_URL        optional: overrides the server URL baked in below
#   CRASHBOX_SDKCONFIG  optional: the sdkconfig to include (default ./sdkconfig)
#
# Needs curl, and zip (python3's zipfile is used when zip is missing).
set -eu

BACKEND_URL='@BACKEND_URL@'
DESC="build/project_description.json"

die() {
    echo "Error: $*" >&2
    exit 1
}

# json_string FILE KEY: the string value of a top-level key (jq when present, else sed on the
# one-key-per-line layout ESP-IDF writes).
json_string() {
    if command -v jq >/dev/null 2>&1; then
        jq -r --arg k "$2" '.[$k] // empty | tostring' "$1" </dev/null
    else
        sed -n "s/^[[:space:]]*\"$2\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$1" | head -n 1
    fi
}

# json_escape VALUE: VALUE (or "unknown" when empty) as the inside of a JSON string.
json_escape() {
    printf '%s' "${1:-unknown}" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g'
}

main() {
    URL="${CRASHBOX_URL:-$BACKEND_URL}"
    URL="${URL%/}"
    [ -n "${CRASHBOX_TOKEN:-}" ] || die "CRASHBOX_TOKEN is not set (a crashbox API token with role pipeline)"
    command -v curl >/dev/null 2>&1 || die "curl is required"

    MODEL="${1:-}"
    BIN="${2:-}"
    if [ -z "$BIN" ]; then
        [ -f "$DESC" ] || die "$DESC not found: run from the project root after idf.py build, or pass <model_code> <firmware.bin>"
        PROJECT=$(json_string "$DESC" project_name)
        [ -n "$PROJECT" ] || die "cannot read project_name from $DESC"
        BIN="build/$PROJECT.bin"
        [ -n "$MODEL" ] || MODEL="$PROJECT"
        echo "Auto-detected from $DESC: model=$MODEL, file=$BIN"
    fi
    case "$MODEL" in
        "" | *[!a-z0-9_]*) die "model code must contain only lowercase letters, numbers, and underscores: '$MODEL'" ;;
    esac

    BASE="${BIN%.bin}"
    ELF="$BASE.elf"
    MAP="$BASE.map"
    SDKCONFIG="${CRASHBOX_SDKCONFIG:-sdkconfig}"
    MISSING=""
    for f in "$BIN" "$ELF" "$MAP" "$SDKCONFIG"; do
        [ -f "$f" ] || MISSING="$MISSING $f"
    done
    [ -z "$MISSING" ] || die "missing files:$MISSING"

    GIT_COMMIT=$(git rev-parse HEAD 2>/dev/null </dev/null || true)
    IDF_VERSION=""
    FW_VERSION=""
    if [ -f "$DESC" ]; then
        IDF_VERSION=$(json_string "$DESC" git_revision)
        FW_VERSION=$(json_string "$DESC" project_version)
    fi

    WORK=$(mktemp -d "${TMPDIR:-/tmp}/crashbox-upload.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    trap 'exit 130' INT TERM
    B="$WORK/bundle"
    mkdir "$B"
    cp "$BIN" "$B/$MODEL.bin"
    cp "$ELF" "$B/$MODEL.elf"
    cp "$MAP" "$B/$MODEL.map"
    cp "$SDKCONFIG" "$B/sdkconfig"
    printf '{"git_commit": "%s", "idf_version": "%s", "firmware_version": "%s"}\n' \
        "$(json_escape "$GIT_COMMIT")" "$(json_escape "$IDF_VERSION")" "$(json_escape "$FW_VERSION")" \
        >"$B/version.json"

    ZIP="$WORK/firmware.zip"
    if command -v zip >/dev/null 2>&1; then
        zip -q -j "$ZIP" "$B/$MODEL.bin" "$B/$MODEL.elf" "$B/$MODEL.map" "$B/sdkconfig" "$B/version.json" </dev/null
    elif command -v python3 >/dev/null 2>&1; then
        python3 - "$ZIP" "$B/$MODEL.bin" "$B/$MODEL.elf" "$B/$MODEL.map" "$B/sdkconfig" "$B/version.json" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for f in sys.argv[2:]:
        z.write(f, os.path.basename(f))
PY
    else
        die "zip (or python3) is required to build the bundle"
    fi

    echo "Uploading firmware bundle for model $MODEL to $URL ..."
    RESP="$WORK/response.json"
    # The token goes through curl's config on stdin, so it never shows in the process list.
    STATUS=$(printf 'header = "Authorization: Bearer %s"\n' "$CRASHBOX_TOKEN" |
        curl -sS -K - -o "$RESP" -w '%{http_code}' -X POST \
            -H "Content-Type: application/zip" --data-binary "@$ZIP" \
            "$URL/api/pipeline/models/$MODEL/firmware") || die "cannot reach $URL"
    if [ "$STATUS" != "200" ]; then
        die "upload failed with HTTP $STATUS: $(cat "$RESP" 2>/dev/null || true)"
    fi
    VERSION=$(sed -n 's/.*"firmware_version":"\([^"]*\)".*/\1/p' "$RESP")
    if grep -q '"warnings":\["' "$RESP"; then
        echo "Warning: $(sed -n 's/.*"warnings":\[\(.*\)\].*/\1/p' "$RESP")" >&2
    fi
    echo "Success: Uploaded firmware version $VERSION"
}

main "$@"
