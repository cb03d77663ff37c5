#!/bin/bash
# Usage: drain-on-termination.sh UNIT LIFECYCLE_HOOK REGION
# Waits until Auto Scaling marks this instance for termination (IMDS target lifecycle
# state), stops UNIT (SIGTERM: the node deregisters and finishes what it runs), then
# completes the lifecycle action so the termination goes on.
set -euo pipefail
unit=$1 hook=$2
export STRATA_REGION=$3
# shellcheck source=nodes/node-setup/aws.sh
source /etc/strata/aws.sh # the AWS seam, written by the user data

imds() {
  local token
  token=$(curl -sf -m 5 -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  curl -sf -m 5 -H "X-aws-ec2-metadata-token: ${token}" "http://169.254.169.254/latest/$1"
}

until [ "$(imds meta-data/autoscaling/target-lifecycle-state || true)" = Terminated ]; do sleep 5; done
echo "terminating: draining ${unit}"
systemctl stop "${unit}"
aws_complete_lifecycle_action "${hook}" "$(imds meta-data/tags/instance/aws:autoscaling:groupName)" "$(imds meta-data/instance-id)"
echo "drained; termination continues"
