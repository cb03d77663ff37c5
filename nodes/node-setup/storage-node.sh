#!/bin/bash
# Sets up a Ceph storage node on Debian 12: Ceph from Debian's packages (the same
# version the tests boot), Node.js 22 (NodeSource), the SSM and CloudWatch agents,
# then the Ceph daemons (nodes/ceph/aws-cluster.sh) and the storage agent as a systemd unit.
set -euo pipefail
# shellcheck source=nodes/node-setup/common.sh
source "$(dirname "$0")/common.sh"

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends ca-certificates curl gnupg openssl uuid-runtime lvm2 \
  ceph-mon ceph-mgr ceph-osd ceph-common radosgw # ceph-volume comes with ceph-osd
aws_nodesource_install 22
aws_agent_debs_install

bash "${STRATA_HOME}/ceph/aws-cluster.sh"

ip=$(imds meta-data/local-ipv4)
instance=$(imds meta-data/instance-id)
write_node_env

start_cloudwatch_agent
install_unit strata-storage-agent "Strata storage agent (near-data stages and metrics agent)" \
  "/usr/bin/node ${STRATA_HOME}/storage-agent.js --id ${instance} --host ${ip} --port ${STRATA_PORT} \
--slots ${STRATA_SLOTS} --state \${STATE_URL} --s3-endpoint https://localhost:${STRATA_RGW_PORT} --s3-bucket ${STRATA_BUCKET} \
--thresholds \${OFFLOAD_THRESHOLDS} --emf-file ${STRATA_LOG_DIR}/metrics.emf"

# Ceph's health as a metric every minute (Strata/CephHealth: 0 ok, 1 warn, 2 error).
install -m 0755 "${STRATA_HOME}/ceph/health-metric.sh" /usr/local/bin/strata-ceph-health-metric
cat > /etc/systemd/system/strata-ceph-health.service <<UNIT
[Unit]
Description=Strata: Ceph health as a CloudWatch metric
[Service]
Type=oneshot
ExecStart=/bin/sh -c '/usr/local/bin/strata-ceph-health-metric >> ${STRATA_LOG_DIR}/metrics.emf'
UNIT
cat > /etc/systemd/system/strata-ceph-health.timer <<UNIT
[Unit]
Description=Strata: Ceph health every minute
[Timer]
OnBootSec=1min
OnUnitActiveSec=1min
[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload
systemctl enable --now strata-ceph-health.timer
