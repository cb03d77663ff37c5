# shellcheck shell=bash
# Shared by compute-node.sh and storage-node.sh (sourced, not run).
# Expects /etc/strata/strata.env, written by the instance's user data.

STRATA_HOME=/opt/strata
STRATA_LOG_DIR=/var/log/strata
# shellcheck source=/dev/null
source /etc/strata/strata.env
# shellcheck source=nodes/node-setup/aws.sh
source /etc/strata/aws.sh # the AWS seam, written by the user data
# shellcheck source=nodes/node-setup/boot.sh
source /etc/strata/boot.sh # retry, imds, apt_install, fail; written by the user data

# JSON is read one way on a node: jq.
# One field of a JSON secret in Secrets Manager (empty if the field is not there yet).
secret_field() {
  aws_get_secret "$1" | jq -r --arg field "$2" '.[$field] // ""'
}

# Whether a secret holds a field yet: until a node publishes it, a secret holds the random
# string CloudFormation made it with, which is not JSON.
secret_has() {
  aws_get_secret "$1" | jq -Rse --arg field "$2" '(fromjson? // null) | type == "object" and has($field)' >/dev/null
}

# The state store URL with the node role's own user and password (letters and digits:
# nothing to encode), for the node's environment file.
state_url() {
  local user password
  user=$(secret_field "${STRATA_CACHE_SECRET_ARN}" username)
  password=$(secret_field "${STRATA_CACHE_SECRET_ARN}" password)
  echo "rediss://${user}:${password}@${STRATA_CACHE_HOST}:${STRATA_CACHE_PORT}"
}

# Storage node 0 publishes the S3 keys and RGW's CA in the object-store secret once Ceph
# is up; until then the secret holds the random string CloudFormation made it with.
wait_for_object_store_keys() {
  retry 3600 "storage node 0 to publish the object-store keys in ${STRATA_OBJECTS_SECRET_ARN}" \
    secret_has "${STRATA_OBJECTS_SECRET_ARN}" accessKeyId
}

# The node's environment file, read by systemd as root: the state store URL with its user's
# password, RGW's S3 keys, the offload thresholds. The node reads its secrets from there (its
# environment), never from its command line, which any local user can read in ps. RGW's CA
# goes where the node itself (user strata) can read it, so that Node.js trusts RGW's TLS.
# RGW's keys are not AWS_*: the AWS SDK takes the instance role (and AWS_REGION) for the
# function code bucket on S3.
write_node_env() {
  local ca=/usr/local/share/strata/rgw-ca.pem
  wait_for_object_store_keys
  install -d -m 0755 "$(dirname "${ca}")"
  secret_field "${STRATA_OBJECTS_SECRET_ARN}" caCertificate > "${ca}"
  chmod 0644 "${ca}"
  install -d -m 0700 /etc/strata
  (
    umask 077
    cat > /etc/strata/node.env <<ENV
STRATA_STATE_URL=$(state_url)
STRATA_OBJECTS_ACCESS_KEY_ID=$(secret_field "${STRATA_OBJECTS_SECRET_ARN}" accessKeyId)
STRATA_OBJECTS_SECRET_ACCESS_KEY=$(secret_field "${STRATA_OBJECTS_SECRET_ARN}" secretAccessKey)
AWS_REGION=${STRATA_REGION}
NODE_EXTRA_CA_CERTS=${ca}
OFFLOAD_THRESHOLDS='${STRATA_OFFLOAD_THRESHOLDS}'
ENV
  )
}

# Ships the node's metrics (EMF records, which CloudWatch turns into metrics), its
# invocation log and its output to the node log group.
start_cloudwatch_agent() {
  cat > "${STRATA_HOME}/cloudwatch-agent.json" <<JSON
{
  "agent": { "run_as_user": "root" },
  "logs": {
    "logs_collected": {
      "files": {
        "collect_list": [
          { "file_path": "${STRATA_LOG_DIR}/metrics.emf", "log_group_name": "${STRATA_LOG_GROUP}", "log_stream_name": "{instance_id}/metrics" },
          { "file_path": "${STRATA_LOG_DIR}/invocations.log", "log_group_name": "${STRATA_LOG_GROUP}", "log_stream_name": "{instance_id}/invocations" },
          { "file_path": "${STRATA_LOG_DIR}/node.log", "log_group_name": "${STRATA_LOG_GROUP}", "log_stream_name": "{instance_id}/node" }
        ]
      }
    }
  }
}
JSON
  aws_cloudwatch_agent_start "${STRATA_HOME}/cloudwatch-agent.json"
}

# Keeps the node's logs (metrics, invocations, output) from filling its disk: rotated at
# 100 MB or daily, five kept, compressed; checked every hour. copytruncate, because
# systemd and the node keep the files open; the CloudWatch agent follows a truncated file.
install_log_rotation() {
  cat > /etc/logrotate.d/strata <<CONF
${STRATA_LOG_DIR}/*.log ${STRATA_LOG_DIR}/*.emf {
  daily
  maxsize 100M
  rotate 5
  compress
  delaycompress
  missingok
  notifempty
  copytruncate
}
CONF
  cat > /etc/systemd/system/strata-logrotate.service <<UNIT
[Unit]
Description=Strata: rotate the node's logs
[Service]
Type=oneshot
ExecStart=/usr/sbin/logrotate /etc/logrotate.d/strata
UNIT
  cat > /etc/systemd/system/strata-logrotate.timer <<UNIT
[Unit]
Description=Strata: rotate the node's logs every hour
[Timer]
OnCalendar=hourly
Persistent=true
[Install]
WantedBy=timers.target
UNIT
  systemctl daemon-reload
  systemctl enable --now strata-logrotate.timer
}

# A systemd unit for one of Strata's processes, run as the unprivileged user strata.
# SIGTERM drains the node; it may take the whole stop timeout to finish its work.
install_unit() {
  local name=$1 description=$2 command=$3
  id strata >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin strata
  # Root's folder, the node's files made in it beforehand: root opens node.log (systemd's
  # append:) and appends to metrics.emf (the Ceph health timer), and in a folder of its own
  # the node could swap a file for a symlink to anything root can write.
  install -d -o root -g root -m 0755 "${STRATA_LOG_DIR}"
  local file
  for file in metrics.emf invocations.log node.log; do
    [ -f "${STRATA_LOG_DIR}/${file}" ] || install -o strata -g strata -m 0644 /dev/null "${STRATA_LOG_DIR}/${file}"
  done
  cat > "/etc/systemd/system/${name}.service" <<UNIT
[Unit]
Description=${description}
Wants=network-online.target
After=network-online.target

[Service]
User=strata
EnvironmentFile=/etc/strata/node.env
ExecStart=${command}
Restart=always
RestartSec=2
TimeoutStopSec=300
StandardOutput=append:${STRATA_LOG_DIR}/node.log
StandardError=append:${STRATA_LOG_DIR}/node.log
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
ReadWritePaths=${STRATA_LOG_DIR}

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now "${name}.service"
}
