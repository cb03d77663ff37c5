#!/bin/bash
# Prints Ceph's health as one CloudWatch EMF record (namespace Strata, metric
# CephHealth: 0 HEALTH_OK, 1 HEALTH_WARN, 2 HEALTH_ERR or no answer), and the count
# of placement groups that are not active+clean (scrubbing or trimming still counts as clean).
# Usage: health-metric.sh [ceph CLI arguments, e.g. --conf FILE]
set -uo pipefail
status=$(timeout 20 ceph "$@" status --format json 2>/dev/null)
# jq reads the answer once: the health, the PG count, and the PGs that are clean.
read -r health total clean < <(printf '%s' "${status}" | jq -r '
  def clean: split("+") | (index("active") != null and index("clean") != null)
    and all(.[]; IN("active", "clean", "scrubbing", "deep", "snaptrim", "snaptrim_wait"));
  [.health.status // "none", .pgmap.num_pgs // 0,
   ([.pgmap.pgs_by_state[]? | select(.state_name | clean) | .count] | add // 0)] | @tsv' 2>/dev/null || true)
case ${health:-} in
  HEALTH_OK) value=0 ;;
  HEALTH_WARN) value=1 ;;
  *) value=2 ;;
esac
not_clean=$(( ${total:-0} - ${clean:-0} ))
printf '{"_aws":{"Timestamp":%s,"CloudWatchMetrics":[{"Namespace":"Strata","Dimensions":[["Role"]],"Metrics":[{"Name":"CephHealth","Unit":"None"},{"Name":"CephPgsNotClean","Unit":"Count"}]}]},"Role":"storage","CephHealth":%s,"CephPgsNotClean":%s}\n' \
  "$(date +%s%3N)" "${value}" "${not_clean}"
