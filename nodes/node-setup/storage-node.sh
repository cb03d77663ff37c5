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

# metrics.emf has two writers: the storage agent (user strata) and the Ceph health timer
# (root, for the admin keyring). Whichever writes first creates the file, so create it
# here, the agent's, before either starts: a root-owned file would lock the agent out.
id strata >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin strata
install -d -o strata -g strata "${STRATA_LOG_DIR}"
emf=${STRATA_LOG_DIR}/metrics.emf
[ -e "${emf}" ] || install -o strata -g strata -m 0644 /dev/null "${emf}"

start_cloudwatch_agent
install_unit strata-storage-agent "Strata storage agent (near-data stages and metrics agent)" \
  "/usr/bin/node ${STRATA_HOME}/storage-agent.js --id ${instance} --host ${ip} --port ${STRATA_PORT} \
--slots ${STRATA_SLOTS} --state \${STATE_URL} --s3-endpoint https://localhost:${STRATA_RGW_PORT} --s3-bucket ${STRATA_BUCKET} \
--thresholds \${OFFLOAD_THRESHOLDS} --emf-file ${STRATA_LOG_DIR}/metrics.emf"

# Ceph's health as a metric every 30 s (Strata/CephHealth: 0 ok, 1 warn, 2 error), so that
# every one-minute period of the CephUnhealthy alarm (missing data breaches) has a value.
# It appends to the agent's file; if the file is gone, it creates it as the agent's again.
install -m 0755 "${STRATA_HOME}/ceph/health-metric.sh" /usr/local/bin/strata-ceph-health-metric
cat > /etc/systemd/system/strata-ceph-health.service <<UNIT
[Unit]
Description=Strata: Ceph health as a CloudWatch metric
[Service]
Type=oneshot
ExecStart=/bin/sh -c '[ -e ${emf} ] || install -o strata -g strata -m 0644 /dev/null ${emf}; /usr/local/bin/strata-ceph-health-metric >> ${emf}'
UNIT
cat > /etc/systemd/system/strata-ceph-health.timer <<UNIT
[Unit]
Description=Strata: Ceph health every 30 seconds
[Timer]
OnBootSec=30s
OnUnitActiveSec=30s
AccuracySec=1s
[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload
systemctl enable --now strata-ceph-health.timer
