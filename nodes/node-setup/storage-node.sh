#!/bin/bash
# Sets up a Ceph storage node on Debian 12: Ceph from Debian's packages (the same
# version the tests boot), Node.js 22 (NodeSource), the SSM and CloudWatch agents,
# then the Ceph daemons (nodes/ceph/aws-cluster.sh) and the storage agent as a systemd unit.
set -euo pipefail
# shellcheck source=nodes/node-setup/common.sh
source "$(dirname "$0")/common.sh"
arch=$(dpkg --print-architecture)

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends ca-certificates curl gnupg openssl uuid-runtime lvm2 \
  ceph-mon ceph-mgr ceph-osd ceph-common radosgw # ceph-volume comes with ceph-osd
install -d -m 0755 /etc/apt/keyrings
curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_22.x nodistro main" > /etc/apt/sources.list.d/nodesource.list
apt-get update
apt-get install -y nodejs
for agent in amazon-ssm-agent amazon-cloudwatch-agent; do
  if ! dpkg -s "${agent}" >/dev/null 2>&1; then
    case ${agent} in
      amazon-ssm-agent) url="https://s3.${STRATA_REGION}.amazonaws.com/amazon-ssm-${STRATA_REGION}/latest/debian_${arch}/amazon-ssm-agent.deb" ;;
      amazon-cloudwatch-agent) url="https://amazoncloudwatch-agent-${STRATA_REGION}.s3.${STRATA_REGION}.amazonaws.com/debian/${arch}/latest/amazon-cloudwatch-agent.deb" ;;
    esac
    curl -fsSL -o "/tmp/${agent}.deb" "${url}"
    apt-get install -y "/tmp/${agent}.deb"
  fi
done
systemctl enable --now amazon-ssm-agent

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
