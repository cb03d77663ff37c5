#!/bin/bash
# A whole Ceph cluster on this host, on 127.0.0.1, inside one folder: MON, MGR, OSDs
# (BlueStore on sparse files), the data pool (nodes/ceph/pool.sh, 1 replica) and RGW with an
# S3 user. For tests and the local run; Debian's packages, no containers, no systemd.
#
# Usage: ceph-one-host.sh start DIR [--osds 3] [--base-port 17100] [--rgw-address 127.0.0.1]
#        ceph-one-host.sh stop DIR
#
# start prints, once the cluster is HEALTH_OK and RGW answers, the lines
#   CEPH_CONF=DIR/ceph.conf  RGW_ENDPOINT=http://127.0.0.1:PORT  S3_ACCESS_KEY=...  S3_SECRET_KEY=...
# Ports: the monitor takes BASE (msgr2) and BASE+1 (v1), RGW BASE+2, the other daemons
# BASE+10 to BASE+99; pick a BASE per cluster to run several on one host.
# stop ends the daemons by the PIDs they wrote, newest first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

usage() { sed -n '6,7p' "$0" | sed 's/^# //' >&2; exit 2; }
case ${1:-} in -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ $# -ge 2 ] || usage
command=$1 dir=$2
shift 2
osds=3 base=17100 rgw_address=127.0.0.1
while [ $# -gt 0 ]; do
  case $1 in
    --osds) osds=$2 ;;
    --base-port) base=$2 ;;
    --rgw-address) rgw_address=$2 ;; # where RGW listens besides loopback's view of it (0.0.0.0: every address)
    *) echo "ceph-one-host.sh: unknown argument $1" >&2; usage ;;
  esac
  shift 2 || usage
done

stop() {
  local pid_file pid pids=()
  # Newest first (RGW, OSDs, MGR, MON), all asked at once, then waited for together.
  for pid_file in "$1"/run/client.*.pid "$1"/run/osd.*.pid "$1"/run/mgr.*.pid "$1"/run/mon.*.pid; do
    [ -f "${pid_file}" ] || continue
    pids+=("$(cat "${pid_file}")")
    kill "${pids[-1]}" 2>/dev/null || true
    rm -f "${pid_file}"
  done
  running() { for pid in "${pids[@]}"; do kill -0 "${pid}" 2>/dev/null && return 0; done; return 1; }
  for _ in $(seq 100); do running || break; sleep 0.1; done
  for pid in "${pids[@]}"; do
    if kill -9 "${pid}" 2>/dev/null; then echo "ceph-one-host.sh: daemon ${pid} did not stop in 10 s; killed" >&2; fi
  done
}

if [ "${command}" = stop ]; then
  stop "${dir}"
  exit 0
fi
[ "${command}" = start ] || usage
if ! [[ ${osds} =~ ^[1-9]$ ]]; then echo "ceph-one-host.sh: --osds must be 1 to 9, got ${osds}" >&2; exit 2; fi
if ! [[ ${base} =~ ^[0-9]+$ ]] || [ "${base}" -lt 1024 ] || [ "${base}" -gt 65000 ]; then
  echo "ceph-one-host.sh: --base-port must be 1024 to 65000, got ${base}" >&2; exit 2
fi
for tool in ceph-mon ceph-mgr ceph-osd radosgw ceph ceph-authtool monmaptool radosgw-admin uuidgen jq; do # jq: pool.sh reads JSON with it
  command -v "${tool}" >/dev/null || { echo "ceph-one-host.sh: ${tool} is missing: apt-get install -y ceph-mon ceph-mgr ceph-osd ceph-common radosgw uuid-runtime jq" >&2; exit 1; }
done
[ ! -e "${dir}/ceph.conf" ] || { echo "ceph-one-host.sh: ${dir} already holds a cluster; stop it and use a fresh folder" >&2; exit 1; }

started=$(date +%s%N)
mkdir -p "${dir}"
dir=$(cd "${dir}" && pwd)
mkdir -p "${dir}"/{run,log,crash,mon,mgr,osd,rgw}
conf=${dir}/ceph.conf
export CEPH_CONF=${conf}
# If this script fails half-way, leave nothing running.
trap 'stop "${dir}"' ERR

cat > "${conf}" <<CONF
[global]
fsid = $(uuidgen)
mon_host = [v2:127.0.0.1:${base},v1:127.0.0.1:$(( base + 1 ))]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_port_min = $(( base + 10 ))
ms_bind_port_max = $(( base + 99 ))
run_dir = ${dir}/run
admin_socket = ${dir}/run/\$cluster-\$name.asok
pid_file = ${dir}/run/\$name.pid
log_file = ${dir}/log/\$name.log
crash_dir = ${dir}/crash
auth_allow_insecure_global_id_reclaim = false
mon_data_avail_warn = 5
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_crush_chooseleaf_type = 0
client_mount_timeout = 30

[client]
keyring = ${dir}/admin.keyring

[mon]
mon_data = ${dir}/mon/\$cluster-\$id
keyring = ${dir}/mon/\$cluster-\$id/keyring

[mgr]
mgr_data = ${dir}/mgr/\$cluster-\$id
keyring = ${dir}/mgr/\$cluster-\$id/keyring

[osd]
osd_data = ${dir}/osd/\$cluster-\$id
keyring = ${dir}/osd/\$cluster-\$id/keyring
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = 5368709120
osd_memory_target = 939524096

[client.rgw.gw]
keyring = ${dir}/rgw/keyring
rgw_frontends = beast endpoint=${rgw_address}:$(( base + 2 ))
rgw_data = ${dir}/rgw
CONF

# Monitor and manager.
ceph-authtool --create-keyring "${dir}/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "${dir}/admin.keyring" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool "${dir}/mon.keyring" --import-keyring "${dir}/admin.keyring" >/dev/null
monmaptool --create --addv a "[v2:127.0.0.1:${base},v1:127.0.0.1:$(( base + 1 ))]" \
  --fsid "$(sed -n 's/^fsid = //p' "${conf}")" "${dir}/monmap" >/dev/null
ceph-mon -i a --mkfs --monmap "${dir}/monmap" --keyring "${dir}/mon.keyring"
ceph-mon -i a
mkdir -p "${dir}/mgr/ceph-x"
ceph auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' -o "${dir}/mgr/ceph-x/keyring"
ceph-mgr -i x

# OSDs: each gets its id from the monitors and its key, then makes its BlueStore and
# starts; the mkfs runs are the slow part, so they run side by side.
for _ in $(seq "${osds}"); do
  uuid=$(uuidgen)
  id=$(ceph osd new "${uuid}")
  mkdir -p "${dir}/osd/ceph-${id}"
  ceph auth get-or-create "osd.${id}" mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' -o "${dir}/osd/ceph-${id}/keyring"
  { ceph-osd -i "${id}" --mkfs --osd-uuid "${uuid}" && ceph-osd -i "${id}"; } 2>>"${dir}/log/osd-start.log" &
done
wait

# Healthy means: every OSD up and in, the manager available, HEALTH_OK.
for _ in $(seq 240); do
  up=$(ceph osd stat --format json | grep -o '"num_up_osds":[0-9]*' | cut -d: -f2)
  if [ "${up}" = "${osds}" ] && ceph mgr stat --format json | grep -q '"available":true' && [ "$(ceph health)" = HEALTH_OK ]; then break; fi
  sleep 0.5
done
[ "$(ceph health)" = HEALTH_OK ] || { echo "ceph-one-host.sh: the cluster did not reach HEALTH_OK: $(ceph health detail)" >&2; exit 1; }
echo "HEALTH_OK after $(( ($(date +%s%N) - started) / 1000000 )) ms" >&2

# The data pool before RGW creates it with the defaults; one replica on one host.
bash "${here}/../nodes/ceph/pool.sh" --pool default.rgw.buckets.data --pg-num 128 --autoscale on --size 1 --min-size 1 --application rgw >&2

# RGW, and an S3 user for the functions' data.
ceph auth get-or-create client.rgw.gw mon 'allow rw' osd 'allow rwx' -o "${dir}/rgw/keyring"
radosgw -n client.rgw.gw
for _ in $(seq 240); do
  curl -s -o /dev/null "http://127.0.0.1:$(( base + 2 ))" && break
  sleep 0.5
done
if ! curl -s -o /dev/null "http://127.0.0.1:$(( base + 2 ))"; then
  echo "ceph-one-host.sh: RGW does not answer on 127.0.0.1:$(( base + 2 )) after 2 minutes; its log ends:" >&2
  tail -5 "${dir}/log/client.rgw.gw.log" >&2
  stop "${dir}"
  exit 1
fi
access=$(head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F')
secret=$(head -c 30 /dev/urandom | od -An -tx1 | tr -d ' \n')
radosgw-admin user create --uid strata --display-name 'Strata functions' --access-key "${access}" --secret-key "${secret}" >/dev/null
echo "ready after $(( ($(date +%s%N) - started) / 1000000 )) ms" >&2
trap - ERR
echo "CEPH_CONF=${conf}"
echo "RGW_ENDPOINT=http://127.0.0.1:$(( base + 2 ))"
echo "S3_ACCESS_KEY=${access}"
echo "S3_SECRET_KEY=${secret}"
