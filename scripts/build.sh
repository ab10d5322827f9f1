#!/usr/bin/env bash
# build.sh - configures and builds Freigabe in the source tree (autoreconf, configure, make).
#
# Quiet on success; on failure prints the failing step and the tail of its output.
# Set FG_RECONFIGURE=1 to force autoreconf + configure even when a Makefile exists.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp /tmp/freigabe-build.XXXXXX)
trap 'rm -f "$log"' EXIT

step() {
  local what="$1"; shift
  if ! "$@" >"$log" 2>&1; then
    echo "build.sh: FAILED at '$what': $*" >&2
    echo "----- last 100 lines of output -----" >&2
    tail -n 100 "$log" >&2
    echo "------------------------------------" >&2
    exit 1
  fi
}

mkdir -p m4   # ACLOCAL_AMFLAGS names it; git does not keep empty directories

if [ "${FG_RECONFIGURE:-0}" = 1 ] || [ ! -f Makefile ] || [ ! -x configure ] \
   || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
  step autoreconf autoreconf -fi
  step configure ./configure -q
fi

step make make -j2
warnings=$(grep -c 'warning:' "$log" || true)
if [ "$warnings" -gt 0 ]; then
  echo "build.sh: built with $warnings compiler warning(s):"
  grep 'warning:' "$log" | head -n 40
else
  echo "build.sh: build OK"
fi
