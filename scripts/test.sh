#!/usr/bin/env bash
# test.sh - THE test command: installs deps, builds, runs the Check unit tests, the pytest integration suite, a fuzz smoke run and the browser tests.
#
# Works as root on a fresh Debian 12, non-interactively (CI=true, no stdin).
# Prints each runner's own summary, then a last line "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# the nginx journey under valgrind (tests/integration/test_nginx.py) takes ~20 s: always on
export FG_VALGRIND=${FG_VALGRIND:-1}

bash scripts/install-deps.sh </dev/null || { echo "test.sh: install-deps failed"; echo "0 passed, 1 failed"; exit 1; }
bash scripts/build.sh </dev/null || { echo "test.sh: build failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0

# ---- unit tests (Check, via automake's test harness)
echo
echo "===== unit tests: make check ====="
ulog=$(mktemp /tmp/freigabe-check.XXXXXX)
make -j2 check </dev/null >"$ulog" 2>&1
urc=$?
grep -E '^(PASS|FAIL|XFAIL|XPASS|ERROR|SKIP): ' "$ulog" || true
for l in tests/unit/test_*.log; do
  [ -f "$l" ] || continue
  line=$(grep -E '^[0-9]+%: Checks: ' "$l" | tail -n 1)
  [ -n "$line" ] && echo "  $(basename "$l" .log): $line"
done
grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$ulog" || true
upass=$(sed -n 's/^# PASS: *\([0-9]*\).*/\1/p' "$ulog" | tail -n 1)
ufail=0
for k in FAIL XPASS ERROR; do
  n=$(sed -n "s/^# $k: *\([0-9]*\).*/\1/p" "$ulog" | tail -n 1)
  ufail=$((ufail + ${n:-0}))
done
passed=$((passed + ${upass:-0}))
if [ $urc -ne 0 ]; then
  echo "make check failed (exit $urc); details:"
  if [ "$ufail" -eq 0 ]; then
    tail -n 60 "$ulog"        # failed before running tests (e.g. a compile error)
    ufail=1
  fi
  for l in tests/unit/test_*.log; do
    [ -f "$l" ] || continue
    if grep -qE '^(FAIL|ERROR)' "${l%.log}.trs" 2>/dev/null || grep -q ':[EF]:' "$l"; then
      echo "----- $l -----"; tail -n 40 "$l"
    fi
  done
fi
failed=$((failed + ufail))
rm -f "$ulog"

# ---- integration tests (real Redis, Apache and an upstream portal)
echo
echo "===== integration tests: pytest ====="
plog=$(mktemp /tmp/freigabe-pytest.XXXXXX)
timeout -k 15 "${FG_PYTEST_TIMEOUT:-900}" /usr/bin/python3 -m pytest -v -p no:cacheprovider \
  -rfE tests/integration </dev/null 2>&1 | tee "$plog"
prc=${PIPESTATUS[0]}
summary=$(grep -E '^=+ .*(passed|failed|error|no tests ran).* in [0-9.]+s' "$plog" | tail -n 1)
pp=$(echo "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true)
pf=$(echo "$summary" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || true)
pe=$(echo "$summary" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+' || true)
passed=$((passed + ${pp:-0}))
pfail=$(( ${pf:-0} + ${pe:-0} ))
if [ $prc -ne 0 ] && [ $pfail -eq 0 ]; then
  echo "pytest exited with $prc (timeout, crash or collection error)"
  pfail=1
fi
failed=$((failed + pfail))
rm -f "$plog"

# ---- fuzz smoke (libFuzzer + ASan/UBSan on every engine parser, a few seconds each)
echo
echo "===== fuzz targets: tests/fuzz/run.sh -t ${FG_FUZZ_SECONDS:-5} ====="
flog=$(mktemp /tmp/freigabe-fuzz.XXXXXX)
fbuild=$(mktemp -d /tmp/freigabe-fuzz-build.XXXXXX)
FUZZ_BUILD=$fbuild sh tests/fuzz/run.sh -t "${FG_FUZZ_SECONDS:-5}" -j 2 </dev/null 2>&1 | tee "$flog"
frc=${PIPESTATUS[0]}
fp=$(grep -cE '^fuzz_[a-z]+: ok' "$flog" || true)
ff=$(grep -cE '^fuzz_[a-z]+: FAILED' "$flog" || true)
if [ "$frc" -ne 0 ] && [ "$ff" -eq 0 ]; then
  echo "fuzz targets did not build or run (exit $frc)"
  ff=1
fi
echo "fuzz: $fp passed, $ff failed"
passed=$((passed + fp))
failed=$((failed + ff))
rm -rf "$flog" "$fbuild"

# ---- browser tests (Debian's chromium driven by playwright-core, against Apache and nginx)
echo
echo "===== browser tests: node --test tests/browser ====="
blog=$(mktemp /tmp/freigabe-browser.XXXXXX)
if (cd tests/browser && npm ci --no-audit --no-fund </dev/null >"$blog.npm" 2>&1); then
  timeout -k 15 "${FG_BROWSER_TIMEOUT:-600}" node --test --test-concurrency=1 tests/browser/ \
    </dev/null 2>&1 | tee "$blog"
  brc=${PIPESTATUS[0]}
else
  echo "npm ci in tests/browser failed:"
  tail -n 30 "$blog.npm"
  brc=1
fi
bp=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$blog" | tail -n 1)
bfail=0
for k in fail cancelled; do
  n=$(sed -n "s/^# $k \([0-9]*\)$/\1/p" "$blog" | tail -n 1)
  bfail=$((bfail + ${n:-0}))
done
passed=$((passed + ${bp:-0}))
if [ $brc -ne 0 ] && [ $bfail -eq 0 ]; then
  echo "browser tests exited with $brc (timeout, crash or npm failure)"
  bfail=1
fi
failed=$((failed + bfail))
rm -f "$blog" "$blog.npm"

echo
echo "unit: make check exit $urc; integration: pytest exit $prc; fuzz: exit $frc; browser: node --test exit $brc"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $urc -eq 0 ] && [ $prc -eq 0 ] && [ $frc -eq 0 ] && [ $brc -eq 0 ]
