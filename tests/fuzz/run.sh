#!/bin/sh
# tests/fuzz/run.sh - builds and runs the libFuzzer targets for the engine's parsers.
#
# Usage (from anywhere; paths are relative to this script):
#   tests/fuzz/run.sh [-t SECONDS] [-j N] [build|run|all] [TARGET...]
#   tests/fuzz/run.sh repro TARGET FILE...     # re-run crashing inputs, print the trace
#
#   build          compile the engine (shared/*.c) and the targets into $FUZZ_BUILD
#   run            run each target for SECONDS (default 30) with -jobs=1-style single
#                  processes, N targets at a time (default 1); seeds come from
#                  corpus/<target>/ (read only), new inputs go to $FUZZ_BUILD/corpus/<target>/,
#                  crashes/leaks/timeouts to $FUZZ_BUILD/artifacts/<target>/
#   all (default)  build, then run
#   TARGET         any of: parse device config keyfile token util page branding hiredis action
#                  (default: all of them)
#
# Environment: CC (default clang), FUZZ_BUILD (default <this dir>/build), FUZZ_FLAGS (extra
# libFuzzer flags, e.g. "-max_len=8192"), FUZZ_ARENA=checked|engine (default checked: every
# arena allocation gets its own malloc block so ASan sees overflows between arena strings; see
# fuzz_arena.c), FUZZ_SUPP=0 (run without ubsan.supp, the suppressions of findings already
# reported against the engine; repro never uses it). Needs clang with libFuzzer, pkg-config,
# libsodium, jansson and hiredis (headers + libs). The engine does not include config.h;
# -I of the repository top is passed anyway for any file that does.
#
# Examples:
#   tests/fuzz/run.sh                       # build, then 30 s per target, one at a time
#   tests/fuzz/run.sh -t 120 -j 2 run parse device
#   tests/fuzz/run.sh repro action tests/fuzz/build/artifacts/action/crash-1234
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CC=${CC:-clang}
FUZZ_BUILD=${FUZZ_BUILD:-$here/build}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
FUZZ_ARENA=${FUZZ_ARENA:-checked}
ALL_TARGETS="parse device config keyfile token util page branding hiredis action"

seconds=30
par=1
while getopts t:j:h opt; do
    case $opt in
    t) seconds=$OPTARG ;;
    j) par=$OPTARG ;;
    *) sed -n '2,29p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

mode=all
case ${1:-} in
build | run | all | repro) mode=$1; shift ;;
esac

# UBSan stays recoverable at compile time so that known findings can be suppressed (ubsan.supp);
# every target sets halt_on_error=1 itself (fuzz_common.h), so any other UB stops the run.
SAN="-fsanitize=address,undefined"
DEPS_CFLAGS=$(pkg-config --cflags libsodium jansson hiredis)
DEPS_LIBS=$(pkg-config --libs libsodium jansson hiredis)
CFLAGS="-g -O1 -std=gnu11 -Wall -Wno-unused-parameter $SAN -I$top/shared -I$top $DEPS_CFLAGS"

build() {
    obj=$FUZZ_BUILD/obj
    mkdir -p "$obj"
    engine=""
    for src in "$top"/shared/fg_*.c; do
        o=$obj/$(basename "$src" .c).o
        extra=""
        if [ "$FUZZ_ARENA" = checked ] && [ "$(basename "$src")" = fg_util.c ]; then
            # no inlining of the arena functions into their callers in this file, so that the
            # weakened symbols below are really replaced everywhere
            extra="-fno-inline -fPIC -fsemantic-interposition"
        fi
        $CC $CFLAGS $extra -fsanitize=fuzzer-no-link -c "$src" -o "$o"
        engine="$engine $o"
    done
    if [ "$FUZZ_ARENA" = checked ]; then
        objcopy --weaken-symbol=fg_arena_new --weaken-symbol=fg_arena_free \
            --weaken-symbol=fg_arena_alloc "$obj/fg_util.o"
        $CC $CFLAGS -fsanitize=fuzzer-no-link -c "$here/fuzz_arena.c" -o "$obj/fuzz_arena.o"
        engine="$engine $obj/fuzz_arena.o"
    fi
    for t in $targets; do
        echo "build fuzz_$t"
        $CC $CFLAGS -fsanitize=fuzzer "$here/fuzz_$t.c" $engine $DEPS_LIBS -lpthread \
            -o "$FUZZ_BUILD/fuzz_$t"
    done
}

supp_options() {
    if [ "${FUZZ_SUPP:-1}" != 0 ] && [ -f "$here/ubsan.supp" ]; then
        echo "halt_on_error=1:print_stacktrace=1:suppressions=$here/ubsan.supp"
    else
        echo "halt_on_error=1:print_stacktrace=1"
    fi
}

run_one() {
    t=$1
    mkdir -p "$FUZZ_BUILD/corpus/$t" "$FUZZ_BUILD/artifacts/$t"
    dict=""
    [ -f "$here/dict/$t.dict" ] && dict="-dict=$here/dict/$t.dict"
    echo "run fuzz_$t for ${seconds}s (log: $FUZZ_BUILD/fuzz_$t.log)"
    # shellcheck disable=SC2086
    if UBSAN_OPTIONS=${UBSAN_OPTIONS:-$(supp_options)} \
        "$FUZZ_BUILD/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$FUZZ_BUILD/artifacts/$t/" $dict $FUZZ_FLAGS \
        "$FUZZ_BUILD/corpus/$t" "$here/corpus/$t" >"$FUZZ_BUILD/fuzz_$t.log" 2>&1; then
        echo "fuzz_$t: ok  $(grep -E '^#[0-9]+.*DONE' "$FUZZ_BUILD/fuzz_$t.log" | tail -1)"
    else
        echo "fuzz_$t: FAILED, see $FUZZ_BUILD/fuzz_$t.log and $FUZZ_BUILD/artifacts/$t/"
        return 1
    fi
}

run() {
    status=0
    pids=""
    n=0
    for t in $targets; do
        run_one "$t" &
        pids="$pids $!"
        n=$((n + 1))
        if [ "$n" -ge "$par" ]; then
            for p in $pids; do wait "$p" || status=1; done
            pids=""
            n=0
        fi
    done
    for p in $pids; do wait "$p" || status=1; done
    return $status
}

if [ "$mode" = repro ]; then
    t=$1
    shift
    [ -x "$FUZZ_BUILD/fuzz_$t" ] || { targets=$t; build; }
    mkdir -p "$FUZZ_BUILD/artifacts/$t"
    exec "$FUZZ_BUILD/fuzz_$t" -artifact_prefix="$FUZZ_BUILD/artifacts/$t/repro-" "$@"
fi

targets=${*:-$ALL_TARGETS}
for t in $targets; do
    [ -f "$here/fuzz_$t.c" ] || { echo "unknown target: $t (have: $ALL_TARGETS)" >&2; exit 2; }
done
case $mode in
build) build ;;
run) run ;;
all) build && run ;;
esac
