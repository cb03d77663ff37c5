#!/bin/bash
# Prints Ceph's health as one CloudWatch EMF record (namespace Strata, metric
# CephHealth: 0 HEALTH_OK, 1 HEALTH_WARN, 2 HEALTH_ERR or no answer), and the count
# of placement groups that are not active+clean (scrubbing or trimming still counts as clean).
# Usage: health-metric.sh [ceph CLI arguments, e.g. --conf FILE]
set -uo pipefail
status=$(timeout 20 ceph "$@" status --format json 2>/dev/null)
health=$(printf '%s' "${status}" | grep -o '"status":"HEALTH_[A-Z]*"' | head -1 | cut -d'"' -f4)
case ${health} in
  HEALTH_OK) value=0 ;;
  HEALTH_WARN) value=1 ;;
  *) value=2 ;;
esac
total=$(printf '%s' "${status}" | grep -o '"num_pgs":[0-9]*' | head -1 | cut -d: -f2)
# Clean: active and clean, whatever routine work it does besides (a scrub, a snapshot trim).
clean=$(printf '%s' "${status}" | grep -o '"state_name":"[a-z_+]*","count":[0-9]*' | awk -F'"' '
  {
    n = split($4, flags, "+"); core = 0; other = 0
    for (i = 1; i <= n; i++) {
      if (flags[i] == "active" || flags[i] == "clean") core++
      else if (flags[i] !~ /^(scrubbing|deep|snaptrim|snaptrim_wait)$/) other++
    }
    if (core == 2 && other == 0) sum += substr($7, 2)
  }
  END { print sum + 0 }')
not_clean=$(( ${total:-0} - ${clean:-0} ))
printf '{"_aws":{"Timestamp":%s,"CloudWatchMetrics":[{"Namespace":"Strata","Dimensions":[["Role"]],"Metrics":[{"Name":"CephHealth","Unit":"None"},{"Name":"CephPgsNotClean","Unit":"Count"}]}]},"Role":"storage","CephHealth":%s,"CephPgsNotClean":%s}\n' \
  "$(date +%s%3N)" "${value}" "${not_clean}"
