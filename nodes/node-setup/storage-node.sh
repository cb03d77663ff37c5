#!/bin/bash
# Sets up a Ceph storage node on Debian 12: Ceph from Debian's packages (the same
# version the tests boot), Node.js 22 (NodeSource), the SSM and CloudWatch agents, then
# the Ceph daemons (nodes/ceph/aws-cluster.sh) and the storage agent as a systemd unit.
# The node is done when Ceph says HEALTH_OK: then it signals CloudFormation, which
# completes the storage stack when every node has.
set -Eeuo pipefail
# shellcheck source=nodes/node-setup/common.sh
source "$(dirname "$0")/common.sh"
trap 'fail "storage node setup failed (line ${LINENO})"' ERR
instance=$(imds meta-data/instance-id)

apt_install ca-certificates curl gnupg openssl uuid-runtime logrotate jq \
  ceph-mon ceph-mgr ceph-osd ceph-common radosgw # ceph-volume comes with ceph-osd
retry 600 "Node.js 22 from NodeSource" aws_nodesource_install 22
retry 600 "the SSM and CloudWatch agents" aws_agent_debs_install
install_log_rotation

bash "${STRATA_HOME}/ceph/aws-cluster.sh"

write_node_env
# Tier 3 by locality: the agent publishes the data pool's placement map into the state store
# when the OSD map moves, with a read-only Ceph key of its own (made below, once Ceph is up).
placement=''
if [ "${STRATA_LOCALITY}" = on ]; then
  cat >> /etc/strata/node.env <<ENV
CEPH_ARGS='--id strata-agent'
PUBLISH_PLACEMENT='{"bucket":"${STRATA_BUCKET}","markerFile":"/etc/ceph/strata-bucket-marker"}'
ENV
  # shellcheck disable=SC2016 # systemd expands it, from node.env
  placement=' --publish-placement ${PUBLISH_PLACEMENT}'
fi
start_cloudwatch_agent
install_unit strata-storage-agent "Strata storage agent (near-data stages and metrics agent)" \
  "/usr/bin/node ${STRATA_HOME}/storage-agent.js --id ${instance} --host ${STRATA_CEPH_ADDRESS} --port ${STRATA_PORT} \
--slots ${STRATA_SLOTS} --peers ${STRATA_VPC_CIDR} --peer-ports ${STRATA_COMPUTE_PORT},${STRATA_PORT} --s3-endpoint https://localhost:${STRATA_RGW_PORT} --s3-bucket ${STRATA_BUCKET} \
--thresholds \${OFFLOAD_THRESHOLDS} --emf-file ${STRATA_LOG_DIR}/metrics.emf --functions $(aws_functions_location)${placement}"

# Ceph's health as a metric every 30 s (Strata/CephHealth: 0 ok, 1 warn, 2 error), so that
# every one-minute period of the CephUnhealthy alarm (missing data breaches) has a value.
# It appends to the agent's file as the agent's user (root only reads Ceph's health); if
# the file is gone, it creates it as the agent's again, in the root-owned log folder.
emf=${STRATA_LOG_DIR}/metrics.emf
install -m 0755 "${STRATA_HOME}/ceph/health-metric.sh" /usr/local/bin/strata-ceph-health-metric
cat > /etc/systemd/system/strata-ceph-health.service <<UNIT
[Unit]
Description=Strata: Ceph health as a CloudWatch metric
[Service]
Type=oneshot
ExecStart=/bin/sh -c '[ -e ${emf} ] || install -o strata -g strata -m 0644 /dev/null ${emf}; /usr/local/bin/strata-ceph-health-metric | runuser -u strata -- tee -a ${emf} >/dev/null'
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

ceph_health_ok() { [ "$(timeout 60 ceph health 2>/dev/null)" = HEALTH_OK ]; }
retry 2400 "Ceph to be HEALTH_OK" ceph_health_ok || fail "Ceph is not HEALTH_OK after 40 minutes: $(timeout 60 ceph health 2>&1)"
echo "Ceph: HEALTH_OK"
if [ "${STRATA_LOCALITY}" = on ]; then
  # Reads only: the OSD map (mon) and the PGs' primaries (mgr); no pool.
  key=/etc/ceph/ceph.client.strata-agent.keyring
  # umask: the keyring is never readable by all, not even before the chmod below.
  (umask 027 && retry 600 "the storage agent's Ceph key" timeout 60 ceph auth get-or-create client.strata-agent mon 'allow r' mgr 'allow r' -o "${key}")
  chown root:strata "${key}" && chmod 0640 "${key}"
  echo "the storage agent's read-only Ceph key: ${key}"
  # The bucket's marker, the prefix of its objects' RADOS names: radosgw-admin needs writes
  # (RGW's notify service) that the agent's key has not, so it is read here, as root, once
  # node 0 has made the bucket.
  bucket_marker() {
    timeout 60 radosgw-admin bucket stats --bucket "${STRATA_BUCKET}" 2>/dev/null | jq -er .marker > /etc/ceph/strata-bucket-marker.new &&
      chmod 0644 /etc/ceph/strata-bucket-marker.new && mv /etc/ceph/strata-bucket-marker.new /etc/ceph/strata-bucket-marker
  }
  retry 900 "the bucket's marker" bucket_marker
  echo "the bucket's marker: $(cat /etc/ceph/strata-bucket-marker)"
fi
aws_signal SUCCESS "${instance}" || echo "no CloudFormation operation waits for this node's signal (it replaces one, or runs again): not signalled"
