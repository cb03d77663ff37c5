#!/bin/bash
# Usage: drain-on-termination.sh UNIT LIFECYCLE_HOOK REGION
# Watches, for the instance's whole life, whether Auto Scaling marks it for termination
# (IMDS target lifecycle state); then stops UNIT (SIGTERM: the node deregisters and
# finishes what it runs, within the unit's stop timeout), and completes the lifecycle
# action so the termination goes on.
set -euo pipefail
unit=$1 hook=$2
export STRATA_REGION=$3
# shellcheck source=nodes/node-setup/aws.sh
source /etc/strata/aws.sh # the AWS seam, written by the user data
# shellcheck source=nodes/node-setup/boot.sh
source /etc/strata/boot.sh # retry, imds

terminating() { [ "$(imds meta-data/autoscaling/target-lifecycle-state || true)" = Terminated ]; }
# A watch, not a wait: it has no end but the instance's.
until terminating; do sleep 5; done
echo "terminating: draining ${unit}"
systemctl stop "${unit}"
group=$(imds meta-data/tags/instance/aws:autoscaling:groupName)
instance=$(imds meta-data/instance-id)
retry 300 "Auto Scaling to take the completed lifecycle action" aws_complete_lifecycle_action "${hook}" "${group}" "${instance}"
echo "drained; termination continues"
