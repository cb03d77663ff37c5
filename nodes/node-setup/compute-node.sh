#!/bin/bash
# Sets up a compute node on Amazon Linux 2023: Node.js, the CloudWatch agent, the
# runtime as a systemd unit, and the drain that runs when Auto Scaling terminates it.
# The node counts once it has registered in the state store: then it signals
# CloudFormation, which completes the compute stack when the group's first nodes have.
set -Eeuo pipefail
# shellcheck source=nodes/node-setup/common.sh
source "$(dirname "$0")/common.sh"
trap 'fail "compute node setup failed (line ${LINENO})"' ERR

retry 600 "the AL2023 packages" aws_dnf_install nodejs22 amazon-cloudwatch-agent logrotate jq
ln -sf "$(command -v node-22 || command -v node)" /usr/local/bin/node

ip=$(imds meta-data/local-ipv4)
instance=$(imds meta-data/instance-id)
write_node_env
# The first tier-2 and tier-3 policies' options (JSON, checked at synth); `strata policy set` changes them later.
cat >> /etc/strata/node.env <<ENV
NODE_POLICY_OPTIONS='${STRATA_NODE_POLICY_OPTIONS}'
OFFLOAD_POLICY_OPTIONS='${STRATA_OFFLOAD_POLICY_OPTIONS}'
ENV
install_log_rotation
# Tier 3 by locality: the node computes an object's PG and reads its primary's host from the
# placement map the storage agents publish into the state store (no ceph CLI or key here).
locality=''
if [ "${STRATA_LOCALITY}" = on ]; then locality=' --locality state'; fi

start_cloudwatch_agent
install_unit strata-compute-node "Strata compute node (runtime and metrics agent)" \
  "/usr/local/bin/node ${STRATA_HOME}/compute-node.js --id ${instance} --host ${ip} --port ${STRATA_PORT} \
--slots ${STRATA_SLOTS} --peers ${STRATA_VPC_CIDR} --peer-ports ${STRATA_PORT},${STRATA_STORAGE_PORT} --s3-endpoint ${STRATA_RGW_ENDPOINT} --s3-bucket ${STRATA_BUCKET} \
--node-policy ${STRATA_NODE_POLICY} --node-options \${NODE_POLICY_OPTIONS} \
--offload-policy ${STRATA_OFFLOAD_POLICY} --offload-options \${OFFLOAD_POLICY_OPTIONS} \
--emf-file ${STRATA_LOG_DIR}/metrics.emf --invocation-log ${STRATA_LOG_DIR}/invocations.log \
--functions $(aws_functions_location)${locality}"

install -m 0755 "${STRATA_HOME}/node-setup/drain-on-termination.sh" /usr/local/bin/strata-drain-on-termination
cat > /etc/systemd/system/strata-drain-on-termination.service <<UNIT
[Unit]
Description=Strata: drain this node when Auto Scaling terminates it, then let the termination go on
After=strata-compute-node.service

[Service]
ExecStart=/usr/local/bin/strata-drain-on-termination strata-compute-node ${STRATA_LIFECYCLE_HOOK} ${STRATA_REGION}
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now strata-drain-on-termination.service

# /health answers 200 once the node's heartbeat is in the state store.
retry 300 "the compute node to register in the state store" curl -sf -m 5 "http://${ip}:${STRATA_PORT}/health" >/dev/null ||
  fail "the compute node has not registered in the state store after 5 minutes: $(tail -5 "${STRATA_LOG_DIR}/node.log")"
echo "registered in the state store as ${instance} at ${ip}:${STRATA_PORT}"
aws_signal SUCCESS "${instance}" || echo "no CloudFormation operation waits for this node (a scale-out): not signalled"
