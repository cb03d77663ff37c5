#!/bin/bash
# Prints Ceph's health as one CloudWatch EMF record (namespace Strata, metric
# CephHealth: 0 HEALTH_OK, 1 HEALTH_WARN, 2 HEALTH_ERR or no answer), and the count
# of placement groups that are not active+clean.
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
clean=$(printf '%s' "${status}" | grep -o '"state_name":"active+clean","count":[0-9]*' | head -1 | cut -d: -f3)
not_clean=$(( ${total:-0} - ${clean:-0} ))
printf '{"_aws":{"Timestamp":%s,"CloudWatchMetrics":[{"Namespace":"Strata","Dimensions":[["Role"]],"Metrics":[{"Name":"CephHealth","Unit":"None"},{"Name":"CephPgsNotClean","Unit":"Count"}]}]},"Role":"storage","CephHealth":%s,"CephPgsNotClean":%s}\n' \
  "$(date +%s%3N)" "${value}" "${not_clean}"
