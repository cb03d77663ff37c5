#!/bin/bash
# Ceph on one EC2 storage node, from Debian's packages. Safe to run again: it changes
# nothing that is already right.
#
# A node's place in the cluster outlives its instance (lib/constructs/ceph-cluster.ts): a
# fixed private address, claimed here, and its EBS data volumes, attached here. Its
# Ceph name (storage-N) names its monitor, manager, RGW and CRUSH host.
#
# Node 0 creates the cluster the first time: keys, a monmap with every monitor (v2 and
# v1 addresses), RGW's TLS certificate from a CA of the cluster's own; it publishes them
# in the cluster secret. Every other node, and any node that replaces one, takes them from
# there. The monitors form their quorum; each volume becomes a raw-mode BlueStore OSD
# (activated at every boot by strata-osd-activate.service); RGW serves S3 over TLS. Node 0
# then sets up the data pool (nodes/ceph/pool.sh), the RGW user and the bucket, and
# publishes the S3 keys and the CA in the object-store secret for the compute nodes.
#
# Settings come from /etc/strata/strata.env (written by the user data):
#   STRATA_REGION STRATA_VPC_CIDR STRATA_CEPH_INDEX STRATA_CEPH_NAME STRATA_CEPH_ADDRESS
#   STRATA_CEPH_MONS ("storage-0=ADDRESS ...") STRATA_CEPH_FAILURE_DOMAIN (zone|host)
#   STRATA_CEPH_NODES STRATA_OSD_VOLUMES STRATA_CEPH_SECRET_ARN STRATA_OBJECTS_SECRET_ARN
#   STRATA_PG_NUM STRATA_PG_AUTOSCALE STRATA_BUCKET STRATA_RGW_PORT STRATA_RGW_NAME STRATA_OSD_MEMORY_TARGET
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=nodes/node-setup/common.sh
source "${here}/../node-setup/common.sh" # the settings, the AWS seam, retry, imds, jq readers
# storage-node.sh, which runs this, signals the failure to CloudFormation.
trap 'echo "Ceph setup failed (nodes/ceph/aws-cluster.sh line ${LINENO})" >&2' ERR

keys=/etc/ceph/bootstrap
node=${STRATA_CEPH_NAME}
address=${STRATA_CEPH_ADDRESS}

# A command whose output says nothing while it fails (a ceph command before there is a quorum).
quietly() { "$@" >/dev/null 2>&1; }
# A JSON object from NAME=FILE pairs, each file's content base64-encoded (no content on a command line).
files_json() {
  local pair
  for pair in "$@"; do base64 -w0 "${pair#*=}" | jq -Rc --arg name "${pair%%=*}" '{($name): .}'; done | jq -cs add
}
# Writes one base64 field of a JSON object (stdin) to a file, with a mode.
field_to_file() {
  (umask 077 && jq -er --arg field "$1" '.[$field]' | base64 -d > "$2")
  chmod "$3" "$2"
}

# The fixed address: moved onto this instance's interface at AWS, and added in the OS at every boot.
claim_address() {
  local primary mac interface
  primary=$(imds meta-data/local-ipv4)
  mac=$(imds meta-data/mac)
  retry 300 "the fixed address ${address}" aws_claim_address "${address}" "$(imds "meta-data/network/interfaces/macs/${mac}/interface-id")"
  interface=$(ip -o -4 addr show | awk -v ip="${primary}" '$4 ~ "^" ip "/" { print $2; exit }')
  cat > /etc/systemd/system/strata-address.service <<UNIT
[Unit]
Description=Strata: this storage node's fixed address ${address} on ${interface}
Wants=network-online.target
After=network-online.target
Before=ceph.target ceph-mon.target ceph-mgr.target ceph-osd.target ceph-radosgw.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip addr replace ${address}/32 dev ${interface}

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now strata-address.service
}

# The data volumes: attached (again, after a replacement) to this instance; their devices in osd_devices.
attach_volumes() {
  local volume letter=f
  osd_devices=()
  for volume in ${STRATA_OSD_VOLUMES}; do
    osd_devices+=("$(aws_attach_volume "${volume}" "/dev/sd${letter}" "${instance}")")
    letter=$(echo "${letter}" | tr 'a-y' 'b-z')
  done
  echo "data volumes: ${osd_devices[*]}"
}

# Every monitor, in every node's mon_host and in the first monmap; this node's monitor, if it runs one.
read_monitors() {
  local pair name ip
  mon_host='' monmap_args=() my_mon=''
  for pair in ${STRATA_CEPH_MONS}; do
    name=${pair%%=*} ip=${pair#*=}
    mon_host+="${mon_host:+,}[v2:${ip}:3300,v1:${ip}:6789]"
    monmap_args+=(--addv "${name}" "[v2:${ip}:3300,v1:${ip}:6789]")
    if [ "${name}" = "${node}" ]; then my_mon=${name}; fi
  done
}

write_conf() {
  cat > /etc/ceph/ceph.conf <<CONF
[global]
fsid = ${fsid}
mon_host = ${mon_host}
public_network = ${STRATA_VPC_CIDR}
public_addr = ${address}
cluster_addr = ${address}
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
# Encrypt every connection (msgr2 secure mode) between daemons and clients.
ms_cluster_mode = secure
ms_service_mode = secure
ms_client_mode = secure
ms_mon_cluster_mode = secure
ms_mon_service_mode = secure
ms_mon_client_mode = secure
osd_pool_default_size = 3
osd_pool_default_min_size = 2
osd_memory_target = ${STRATA_OSD_MEMORY_TARGET}
client_mount_timeout = 30

[osd]
# CRUSH places each copy of a PG in another ${STRATA_CEPH_FAILURE_DOMAIN}: the AZ, or (with two AZs) the node.
crush_location = root=default zone=${zone} host=${node}

# No rgw_dns_name: with one, RGW takes any other Host (localhost, an address) for a bucket
# name, and the clients here all address buckets by path.
[client.rgw.${node}]
rgw_frontends = beast ssl_endpoint=0.0.0.0:${STRATA_RGW_PORT} ssl_certificate=/etc/ceph/rgw.crt ssl_private_key=/etc/ceph/rgw.key
CONF
  # RGW runs as ceph and reads its certificate and key.
  chown ceph:ceph /etc/ceph/rgw.crt /etc/ceph/rgw.key
  chmod 0644 /etc/ceph/rgw.crt
  chmod 0600 /etc/ceph/rgw.key
}

# Node 0, the first time: the keys, the first monmap and RGW's certificate (from a CA of
# the cluster's own, which compute nodes trust), published in the cluster secret.
create_cluster() {
  echo "creating the cluster"
  fsid=$(uuidgen)
  ceph-authtool --create-keyring "${keys}/mon.keyring" --gen-key -n mon. --cap mon 'allow *'
  ceph-authtool --create-keyring /etc/ceph/ceph.client.admin.keyring --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
  install -d -o ceph -g ceph /var/lib/ceph/bootstrap-osd
  ceph-authtool --create-keyring /var/lib/ceph/bootstrap-osd/ceph.keyring --gen-key -n client.bootstrap-osd \
    --cap mon 'profile bootstrap-osd' --cap mgr 'allow r'
  ceph-authtool "${keys}/mon.keyring" --import-keyring /etc/ceph/ceph.client.admin.keyring
  ceph-authtool "${keys}/mon.keyring" --import-keyring /var/lib/ceph/bootstrap-osd/ceph.keyring
  monmaptool --create --fsid "${fsid}" "${monmap_args[@]}" "${keys}/monmap"
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj '/CN=Strata Ceph CA' \
    -keyout "${keys}/ca.key" -out "${keys}/ca.crt" 2>/dev/null
  openssl req -newkey rsa:3072 -nodes -subj "/CN=${STRATA_RGW_NAME}" -keyout /etc/ceph/rgw.key -out "${keys}/rgw.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\n' "${STRATA_RGW_NAME}" > "${keys}/rgw.ext"
  openssl x509 -req -in "${keys}/rgw.csr" -CA "${keys}/ca.crt" -CAkey "${keys}/ca.key" -CAcreateserial \
    -days 3650 -extfile "${keys}/rgw.ext" -out /etc/ceph/rgw.crt 2>/dev/null
  aws_put_secret "${STRATA_CEPH_SECRET_ARN}" "$(files_json mon="${keys}/mon.keyring" admin=/etc/ceph/ceph.client.admin.keyring \
    bootstrapOsd=/var/lib/ceph/bootstrap-osd/ceph.keyring monmap="${keys}/monmap" rgwCert=/etc/ceph/rgw.crt rgwKey=/etc/ceph/rgw.key \
    caCert="${keys}/ca.crt" fsid=<(printf '%s' "${fsid}"))"
}

# Every other node, and any node that replaces one: the keys from the cluster secret.
join_cluster() {
  local cluster file
  retry 3600 "storage node 0 to publish the cluster keys in ${STRATA_CEPH_SECRET_ARN}" secret_has "${STRATA_CEPH_SECRET_ARN}" fsid
  cluster=$(aws_get_secret "${STRATA_CEPH_SECRET_ARN}")
  printf '%s' "${cluster}" | field_to_file fsid "${keys}/fsid" 0640
  fsid=$(cat "${keys}/fsid")
  for file in mon="${keys}/mon.keyring" monmap="${keys}/monmap" caCert="${keys}/ca.crt" admin=/etc/ceph/ceph.client.admin.keyring \
    rgwCert=/etc/ceph/rgw.crt rgwKey=/etc/ceph/rgw.key; do
    printf '%s' "${cluster}" | field_to_file "${file%%=*}" "${file#*=}" 0600
  done
  install -d -o ceph -g ceph /var/lib/ceph/bootstrap-osd
  printf '%s' "${cluster}" | field_to_file bootstrapOsd /var/lib/ceph/bootstrap-osd/ceph.keyring 0600
}

# This node's monitor. One with no store joins the quorum as it is now once the cluster has
# been up (formed), not the first monmap.
start_monitor() {
  local monmap=${keys}/monmap
  [ -n "${my_mon}" ] || return 0
  if [ ! -e "/var/lib/ceph/mon/ceph-${node}/keyring" ]; then
    if ${formed}; then
      retry 3600 "a monitor quorum to join" quietly timeout 60 ceph mon getmap -o "${keys}/monmap.now"
      monmap=${keys}/monmap.now
    fi
    install -d -o ceph -g ceph "/var/lib/ceph/mon/ceph-${node}"
    chgrp ceph "${monmap}" "${keys}/mon.keyring"
    chmod 0640 "${monmap}" "${keys}/mon.keyring"
    runuser -u ceph -- ceph-mon --mkfs -i "${node}" --monmap "${monmap}" --keyring "${keys}/mon.keyring"
  fi
  systemctl enable --now "ceph-mon@${node}"
}

# The first quorum forms once two monitors run; until then each ceph command times out (client_mount_timeout).
wait_for_quorum() {
  retry 3600 "a monitor quorum" quietly ceph -s
}

# Every pool places its copies by this rule: one per AZ (or per node with two AZs). Set
# by node 0 before any pool exists (the manager's and RGW's make themselves when they start).
set_crush_rule() {
  local rule
  [ "${STRATA_CEPH_INDEX}" = 0 ] || return 0
  ceph osd crush rule create-replicated strata default "${STRATA_CEPH_FAILURE_DOMAIN}" 2>/dev/null || true
  rule=$(ceph osd crush rule dump strata --format json | jq -er .rule_id)
  [ "$(ceph config get mon osd_pool_default_crush_rule)" = "${rule}" ] || ceph config set global osd_pool_default_crush_rule "${rule}"
}

start_manager() {
  [ -n "${my_mon}" ] || return 0
  install -d -o ceph -g ceph "/var/lib/ceph/mgr/ceph-${node}"
  ceph auth get-or-create "mgr.${node}" mon 'allow profile mgr' osd 'allow *' mds 'allow *' > "/var/lib/ceph/mgr/ceph-${node}/keyring"
  chown ceph:ceph "/var/lib/ceph/mgr/ceph-${node}/keyring"
  systemctl enable --now "ceph-mgr@${node}"
}

# OSDs: a raw-mode BlueStore OSD on each data volume; one of this cluster's already there
# (a replaced instance, or a second run) is kept. Anything else on a volume stops the script.
# They are activated at every boot (strata-osd-activate.service); their ids go in mine.
make_osds() {
  local device id
  for device in "${osd_devices[@]}"; do
    if ceph-volume raw list "${device}" --format json | jq -e --arg fsid "${fsid}" 'any(.[]; .ceph_fsid == $fsid)' >/dev/null; then
      echo "${device}: an OSD of this cluster"
    elif [ -z "$(lsblk -no FSTYPE "${device}" | tr -d '[:space:]')" ] &&
      ceph-volume raw list "${device}" --format json | jq -e 'length == 0' >/dev/null; then
      ceph-volume raw prepare --bluestore --data "${device}"
    else
      echo "${device} holds data that is not an OSD of this cluster; not touching it" >&2
      return 1
    fi
  done
  install -m 0755 "${here}/osd-activate.sh" /usr/local/sbin/strata-osd-activate
  cat > /etc/systemd/system/strata-osd-activate.service <<UNIT
[Unit]
Description=Strata: activate this node's raw-mode Ceph OSDs
After=local-fs.target strata-address.service
Before=ceph-osd.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/strata-osd-activate

[Install]
WantedBy=ceph-osd.target
UNIT
  install -d /etc/systemd/system/ceph-osd@.service.d
  printf '[Unit]\nAfter=strata-osd-activate.service\nWants=strata-osd-activate.service\n' > /etc/systemd/system/ceph-osd@.service.d/strata-activate.conf
  systemctl daemon-reload
  systemctl enable strata-osd-activate.service
  echo "$(date +%T) activating this node's OSDs"
  systemctl restart strata-osd-activate.service
  mine=$(strata-osd-activate --list)
  for id in ${mine}; do systemctl enable --now "ceph-osd@${id}"; done
  echo "$(date +%T) OSDs ${mine//$'\n'/ } started"
}

# "up ADDRESS" or "down" for an OSD, as the monitors have it.
osd_up_at() {
  timeout 60 ceph osd dump --format json |
    jq -r --argjson id "$1" '[.osds[] | select(.osd == $id)][0] | if . != null and .up != 0 then "up " + .public_addr else "down" end'
}

# An OSD under this node's name that is on none of its volumes was on a volume that is
# gone: its copies are elsewhere, so it leaves the cluster (Ceph then backfills). Its
# daemon is dead, whatever the monitors say: it listened on this node's fixed address,
# which this instance holds now. A fast replacement gets here before the monitors have
# marked it down (osd_heartbeat_grace and two reporters), and `osd purge` refuses an OSD
# that is up, so it is marked down here rather than left `down, in` until
# mon_osd_down_out_interval (600 s) ends.
#
# Each ceph call here has 60 s and is tried again for up to 10 minutes (a monitor op once
# blocked 559 s here in a rehearsal); each is safe to repeat, a down or a purge that the
# monitors applied before the timeout included.
purge_lost_osds() {
  local ids id state
  echo "$(date +%T) looking for OSDs of ${node} on lost volumes"
  ids=$(retry 600 "the monitors to list the OSDs under ${node}" osds_under_node)
  for id in ${ids}; do
    grep -qx "${id}" <<<"${mine}" && continue
    state=$(retry 600 "the monitors to say whether osd.${id} is up" osd_up_at "${id}")
    if [ "${state}" != down ]; then
      case "${state}" in
        "up ${address}:"* | "up [v2:${address}:"*) ;;
        *) echo "osd.${id} is under ${node} but up at another address (${state#up }); not touching it" >&2; continue ;;
      esac
      echo "osd.${id} was this node's and the monitors still had it up at this node's address: marking it down"
      retry 600 "the monitors to mark osd.${id} down" timeout 60 ceph osd down "${id}"
    fi
    echo "osd.${id} was this node's and its volume is gone: purging it"
    retry 600 "the monitors to purge osd.${id}" timeout 60 ceph osd purge "${id}" --yes-i-really-mean-it
  done
}
# The OSD ids under this node in CRUSH: none before one of its OSDs has booted (no such bucket, ENOENT).
osds_under_node() {
  local status=0
  timeout 60 ceph osd ls-tree "${node}" 2>/dev/null || status=$?
  [ "${status}" -ne 2 ] || return 0
  return "${status}"
}

# RGW; node 0 sets up the data pool before RGW creates it with the defaults.
start_rgw() {
  echo "$(date +%T) starting RGW"
  install -d -o ceph -g ceph "/var/lib/ceph/radosgw/ceph-rgw.${node}"
  ceph auth get-or-create "client.rgw.${node}" mon 'allow rw' osd 'allow rwx' > "/var/lib/ceph/radosgw/ceph-rgw.${node}/keyring"
  chown ceph:ceph "/var/lib/ceph/radosgw/ceph-rgw.${node}/keyring"
  if [ "${STRATA_CEPH_INDEX}" = 0 ]; then
    bash "${here}/pool.sh" --pool default.rgw.buckets.data --pg-num "${STRATA_PG_NUM}" --autoscale "${STRATA_PG_AUTOSCALE}" \
      --size 3 --min-size 2 --application rgw
  fi
  systemctl enable --now "ceph-radosgw@rgw.${node}"
}

up_osds_at_least() { [ "$(timeout 60 ceph osd stat --format json | jq -r '.num_up_osds // 0')" -ge "$1" ]; }
rgw_answers() { curl -sf -m 5 --cacert "${keys}/ca.crt" "https://localhost:${STRATA_RGW_PORT}" >/dev/null; }

# Node 0, the first time, once every OSD is up: the RGW user and the bucket, and the S3
# keys and the CA in the object-store secret for the compute nodes. Every other node, or a
# later run, waits for them there.
publish_object_store() {
  local osds user access secret_key reader read_access read_secret_key
  if [ "${STRATA_CEPH_INDEX}" != 0 ] || ${formed}; then
    wait_for_object_store_keys
    return 0
  fi
  osds=$((STRATA_CEPH_NODES * $(wc -w <<<"${STRATA_OSD_VOLUMES}")))
  retry 3600 "${osds} OSDs up" up_osds_at_least "${osds}"
  user=$(radosgw-admin user info --uid strata 2>/dev/null || radosgw-admin user create --uid strata --display-name 'Strata functions')
  access=$(jq -er '.keys[0].access_key' <<<"${user}")
  secret_key=$(jq -er '.keys[0].secret_key' <<<"${user}")
  retry 300 "RGW to answer on https://localhost:${STRATA_RGW_PORT}" rgw_answers
  s3() { AWS_ACCESS_KEY_ID=${access} AWS_SECRET_ACCESS_KEY=${secret_key} aws s3api "$@" --endpoint-url "https://localhost:${STRATA_RGW_PORT}" --ca-bundle "${keys}/ca.crt" --region "${STRATA_REGION}"; }
  s3 head-bucket --bucket "${STRATA_BUCKET}" 2>/dev/null || s3 create-bucket --bucket "${STRATA_BUCKET}" >/dev/null
  # The compute nodes only read: a user of their own, allowed to get and list by the bucket's
  # policy, its keys in the secret they are given (published before the owner's, which
  # marks the cluster formed).
  reader=$(radosgw-admin user info --uid strata-reader 2>/dev/null || radosgw-admin user create --uid strata-reader --display-name 'Strata compute nodes (read only)')
  read_access=$(jq -er '.keys[0].access_key' <<<"${reader}")
  read_secret_key=$(jq -er '.keys[0].secret_key' <<<"${reader}")
  jq -cn --arg bucket "${STRATA_BUCKET}" '{Version: "2012-10-17", Statement: [{Effect: "Allow", Principal: {AWS: ["arn:aws:iam:::user/strata-reader"]}, Action: ["s3:GetObject", "s3:ListBucket"], Resource: ["arn:aws:s3:::\($bucket)", "arn:aws:s3:::\($bucket)/*"]}]}' \
    > "${keys}/read-policy.json"
  s3 put-bucket-policy --bucket "${STRATA_BUCKET}" --policy "file://${keys}/read-policy.json"
  aws_put_secret "${STRATA_OBJECTS_READ_SECRET_ARN}" "$(ACCESS=${read_access} SECRET=${read_secret_key} jq -cn --rawfile ca "${keys}/ca.crt" \
    '{ accessKeyId: env.ACCESS, secretAccessKey: env.SECRET, caCertificate: $ca }')"
  aws_put_secret "${STRATA_OBJECTS_SECRET_ARN}" "$(ACCESS=${access} SECRET=${secret_key} jq -cn --rawfile ca "${keys}/ca.crt" \
    '{ accessKeyId: env.ACCESS, secretAccessKey: env.SECRET, caCertificate: $ca }')"
}

main() {
  instance=$(imds meta-data/instance-id)
  zone=$(imds meta-data/placement/availability-zone)
  # The monitor runs as ceph and reads its monmap and keyring here (group ceph); the CA's key stays root's (0600).
  install -d -m 0750 -o root -g ceph "${keys}"
  claim_address
  attach_volumes
  read_monitors
  if [ "${STRATA_CEPH_INDEX}" = 0 ] && ! secret_has "${STRATA_CEPH_SECRET_ARN}" fsid; then
    create_cluster
  else
    join_cluster
  fi
  write_conf
  # Whether the cluster has been up before (node 0 publishes the S3 keys once it is).
  formed=false
  if secret_has "${STRATA_OBJECTS_SECRET_ARN}" accessKeyId; then formed=true; fi
  start_monitor
  wait_for_quorum
  set_crush_rule
  start_manager
  make_osds
  purge_lost_osds
  start_rgw
  publish_object_store
  echo "$(date +%T) ceph on ${node} (${address}): ready"
}

main "$@"
