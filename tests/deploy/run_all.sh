#!/bin/sh
# Runs every deploy test (each bounded by a timeout) and prints a summary; exits non-zero when
# any failed. Register with ctest as one test, e.g.
#   add_test(NAME deploy COMMAND sh ${PROJECT_SOURCE_DIR}/tests/deploy/run_all.sh)
# BASTION_BIN selects the binary the tests check configs and libraries against.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tests="compose_test.sh dockerfile_test.sh probe_test.sh firewall_netns_test.sh k8s_test.sh systemd_test.sh"
limit=${DEPLOY_TEST_TIMEOUT:-300}
passed=0
failed=0
failures=""
for t in $tests; do
  echo "=== $t"
  start=$(date +%s)
  if timeout "$limit" sh "$here/$t"; then
    passed=$((passed + 1))
    echo "=== $t: passed ($(( $(date +%s) - start )) s)"
  else
    rc=$?
    failed=$((failed + 1))
    failures="$failures $t"
    [ "$rc" = 124 ] && echo "=== $t: timed out after $limit s"
    echo "=== $t: FAILED (exit $rc, $(( $(date +%s) - start )) s)"
  fi
done
echo
[ -n "$failures" ] && echo "failed:$failures"
echo "deploy: $passed passed, $failed failed"
[ "$failed" = 0 ]
