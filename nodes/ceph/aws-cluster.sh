#!/bin/bash
# Ceph on one EC2 storage node, from Debian's packages. Node 0 creates the cluster:
# monitor, manager, keys, RGW's TLS certificate; it publishes them in the cluster
# secret. The other nodes wait for that secret and join as monitors. Every node adds
# its EBS data volumes as OSDs and runs RGW (S3 over TLS). Node 0 then sets up the
# data pool (nodes/ceph/pool.sh), the RGW user and the bucket, and publishes the S3 keys
# and the CA certificate in the object-store secret for the compute nodes.
#
# Settings come from /etc/strata/strata.env (written by the user data):
#   STRATA_REGION STRATA_VPC_CIDR STRATA_CEPH_INDEX STRATA_CEPH_FIRST_IP (empty on node 0) STRATA_CEPH_NODES
#   STRATA_CEPH_SECRET_ARN STRATA_OBJECTS_SECRET_ARN STRATA_OSDS_PER_NODE STRATA_PG_NUM
#   STRATA_PG_AUTOSCALE STRATA_BUCKET STRATA_RGW_PORT STRATA_RGW_NAME STRATA_OSD_MEMORY_TARGET
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=nodes/node-setup/common.sh
source "${here}/../node-setup/common.sh" # the settings, imds, the AWS seam
# A JSON object from NAME=FILE pairs, each file's content base64-encoded.
files_json() { node -e 'const fs = require("fs"); console.log(JSON.stringify(Object.fromEntries(process.argv.slice(1).map((a) => { const [k, f] = a.split("="); return [k, fs.readFileSync(f).toString("base64")]; }))))' "$@"; }
# Writes one base64 field of a JSON object (stdin) to a file.
field_to_file() { node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => require("fs").writeFileSync(process.argv[2], Buffer.from(JSON.parse(s)[process.argv[1]], "base64"), { mode: 0o600 }))' "$1" "$2"; }

host=$(hostname -s)
ip=$(imds meta-data/local-ipv4)
STRATA_CEPH_FIRST_IP=${STRATA_CEPH_FIRST_IP:-${ip}} # node 0 is the first monitor
keys=/etc/ceph/bootstrap
install -d -m 0700 "${keys}"

write_conf() {
  cat > /etc/ceph/ceph.conf <<CONF
[global]
fsid = $1
mon_host = ${STRATA_CEPH_FIRST_IP}
public_network = ${STRATA_VPC_CIDR}
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

[client.rgw.${host}]
rgw_frontends = beast ssl_endpoint=0.0.0.0:${STRATA_RGW_PORT} ssl_certificate=/etc/ceph/rgw.crt ssl_private_key=/etc/ceph/rgw.key
rgw_dns_name = ${STRATA_RGW_NAME}
CONF
}

start_mon() {
  install -d -o ceph -g ceph "/var/lib/ceph/mon/ceph-${host}"
  sudo -u ceph ceph-mon --mkfs -i "${host}" --monmap "$1" --keyring "${keys}/mon.keyring"
  systemctl enable --now "ceph-mon@${host}"
}

start_mgr() {
  install -d -o ceph -g ceph "/var/lib/ceph/mgr/ceph-${host}"
  ceph auth get-or-create "mgr.${host}" mon 'allow profile mgr' osd 'allow *' mds 'allow *' > "/var/lib/ceph/mgr/ceph-${host}/keyring"
  chown ceph:ceph "/var/lib/ceph/mgr/ceph-${host}/keyring"
  systemctl enable --now "ceph-mgr@${host}"
}

if [ "${STRATA_CEPH_INDEX}" = 0 ]; then
  fsid=$(uuidgen)
  write_conf "${fsid}"
  ceph-authtool --create-keyring "${keys}/mon.keyring" --gen-key -n mon. --cap mon 'allow *'
  ceph-authtool --create-keyring /etc/ceph/ceph.client.admin.keyring --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
  install -d -o ceph -g ceph /var/lib/ceph/bootstrap-osd
  ceph-authtool --create-keyring /var/lib/ceph/bootstrap-osd/ceph.keyring --gen-key -n client.bootstrap-osd \
    --cap mon 'profile bootstrap-osd' --cap mgr 'allow r'
  ceph-authtool "${keys}/mon.keyring" --import-keyring /etc/ceph/ceph.client.admin.keyring
  ceph-authtool "${keys}/mon.keyring" --import-keyring /var/lib/ceph/bootstrap-osd/ceph.keyring
  chown ceph:ceph "${keys}/mon.keyring"
  monmaptool --create --add "${host}" "${ip}" --fsid "${fsid}" "${keys}/monmap"
  start_mon "${keys}/monmap"
  # RGW's certificate, from a CA of the cluster's own; compute nodes trust the CA.
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj '/CN=Strata Ceph CA' \
    -keyout "${keys}/ca.key" -out "${keys}/ca.crt" 2>/dev/null
  openssl req -newkey rsa:3072 -nodes -subj "/CN=${STRATA_RGW_NAME}" -keyout /etc/ceph/rgw.key -out "${keys}/rgw.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\n' "${STRATA_RGW_NAME}" > "${keys}/rgw.ext"
  openssl x509 -req -in "${keys}/rgw.csr" -CA "${keys}/ca.crt" -CAkey "${keys}/ca.key" -CAcreateserial \
    -days 3650 -extfile "${keys}/rgw.ext" -out /etc/ceph/rgw.crt 2>/dev/null
  aws_put_secret "${STRATA_CEPH_SECRET_ARN}" "$(files_json mon="${keys}/mon.keyring" admin=/etc/ceph/ceph.client.admin.keyring \
    bootstrapOsd=/var/lib/ceph/bootstrap-osd/ceph.keyring rgwCert=/etc/ceph/rgw.crt rgwKey=/etc/ceph/rgw.key \
    caCert="${keys}/ca.crt" fsid=<(printf '%s' "${fsid}"))"
else
  echo "waiting for node 0 to publish the cluster secret"
  until aws_get_secret "${STRATA_CEPH_SECRET_ARN}" | grep -q '"fsid"'; do sleep 10; done
  cluster=$(aws_get_secret "${STRATA_CEPH_SECRET_ARN}")
  printf '%s' "${cluster}" | field_to_file fsid "${keys}/fsid"
  write_conf "$(cat "${keys}/fsid")"
  printf '%s' "${cluster}" | field_to_file mon "${keys}/mon.keyring"
  printf '%s' "${cluster}" | field_to_file admin /etc/ceph/ceph.client.admin.keyring
  install -d -o ceph -g ceph /var/lib/ceph/bootstrap-osd
  printf '%s' "${cluster}" | field_to_file bootstrapOsd /var/lib/ceph/bootstrap-osd/ceph.keyring
  printf '%s' "${cluster}" | field_to_file rgwCert /etc/ceph/rgw.crt
  printf '%s' "${cluster}" | field_to_file rgwKey /etc/ceph/rgw.key
  chown ceph:ceph "${keys}/mon.keyring"
  ceph mon getmap -o "${keys}/monmap"
  start_mon "${keys}/monmap"
fi
start_mgr

# OSDs: every unused, unpartitioned disk but the root disk (EBS volumes show as NVMe).
root_disk=$(lsblk -no PKNAME "$(findmnt -no SOURCE /)")
for disk in $(lsblk -dpno NAME,TYPE | awk '$2 == "disk" { print $1 }'); do
  [ "${disk}" = "/dev/${root_disk}" ] && continue
  [ -z "$(lsblk -no FSTYPE "${disk}" | tr -d '[:space:]')" ] || continue
  [ "$(lsblk -no NAME "${disk}" | wc -l)" -eq 1 ] || continue
  ceph-volume lvm create --data "${disk}"
done

# RGW.
install -d -o ceph -g ceph "/var/lib/ceph/radosgw/ceph-rgw.${host}"
ceph auth get-or-create "client.rgw.${host}" mon 'allow rw' osd 'allow rwx' > "/var/lib/ceph/radosgw/ceph-rgw.${host}/keyring"
chown ceph:ceph "/var/lib/ceph/radosgw/ceph-rgw.${host}/keyring" /etc/ceph/rgw.key
chmod 0600 /etc/ceph/rgw.key

if [ "${STRATA_CEPH_INDEX}" = 0 ]; then
  # The data pool before RGW creates it with the defaults.
  bash "${here}/pool.sh" --pool default.rgw.buckets.data --pg-num "${STRATA_PG_NUM}" --autoscale "${STRATA_PG_AUTOSCALE}" \
    --size 3 --min-size 2 --application rgw
fi
systemctl enable --now "ceph-radosgw@rgw.${host}"

if [ "${STRATA_CEPH_INDEX}" = 0 ]; then
  echo "waiting for $(( STRATA_CEPH_NODES * STRATA_OSDS_PER_NODE )) OSDs"
  until [ "$(ceph osd stat --format json | grep -o '"num_up_osds":[0-9]*' | cut -d: -f2)" -ge $(( STRATA_CEPH_NODES * STRATA_OSDS_PER_NODE )) ]; do sleep 10; done
  user=$(radosgw-admin user info --uid strata 2>/dev/null || radosgw-admin user create --uid strata --display-name 'Strata functions')
  access=$(printf '%s' "${user}" | grep -o '"access_key": "[^"]*"' | head -1 | cut -d'"' -f4)
  secret_key=$(printf '%s' "${user}" | grep -o '"secret_key": "[^"]*"' | head -1 | cut -d'"' -f4)
  until curl -sf --cacert "${keys}/ca.crt" "https://localhost:${STRATA_RGW_PORT}" >/dev/null; do sleep 2; done
  s3() { AWS_ACCESS_KEY_ID=${access} AWS_SECRET_ACCESS_KEY=${secret_key} aws s3api "$@" --endpoint-url "https://localhost:${STRATA_RGW_PORT}" --ca-bundle "${keys}/ca.crt" --region "${STRATA_REGION}"; }
  s3 head-bucket --bucket "${STRATA_BUCKET}" 2>/dev/null || s3 create-bucket --bucket "${STRATA_BUCKET}" >/dev/null
  aws_put_secret "${STRATA_OBJECTS_SECRET_ARN}" "$(ACCESS=${access} SECRET=${secret_key} CA="${keys}/ca.crt" node -e \
    'console.log(JSON.stringify({ accessKeyId: process.env.ACCESS, secretAccessKey: process.env.SECRET, caCertificate: require("fs").readFileSync(process.env.CA, "utf8") }))')"
else
  echo "waiting for node 0 to publish the object-store keys"
  until aws_get_secret "${STRATA_OBJECTS_SECRET_ARN}" | grep -q accessKeyId; do sleep 10; done
fi
echo "ceph on ${host}: ready"
