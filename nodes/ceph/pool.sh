#!/bin/bash
# Creates a Ceph pool, or brings an existing one into line, and changes nothing that
# is already right (so a second run prints only "unchanged").
#
# The PG autoscaler stays on, and pg_num_min makes pg_num a floor it keeps: without it
# Pacific's autoscaler shrinks an empty 128-PG pool to 32. (Not the bulk flag: it asks
# for the pool's full share of PGs, which on a small cluster grows it past pg_num.)
# The autoscaler may still grow the pool as data comes.
#
# Usage: pool.sh --pool NAME [--pg-num 128] [--autoscale on|off] [--size 3] [--min-size 2]
#                [--application rgw]
# The ceph CLI finds its cluster as usual: CEPH_CONF, CEPH_ARGS, /etc/ceph/ceph.conf.
set -euo pipefail

pool='' pg_num=128 autoscale=on size=3 min_size=2 application=rgw
usage() { sed -n '9,10p' "$0" | sed 's/^# //' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --pool) pool=$2 ;;
    --pg-num) pg_num=$2 ;;
    --autoscale) autoscale=$2 ;;
    --size) size=$2 ;;
    --min-size) min_size=$2 ;;
    --application) application=$2 ;;
    *) echo "pool.sh: unknown argument $1" >&2; usage ;;
  esac
  shift 2 || usage
done
[ -n "${pool}" ] || { echo 'pool.sh: --pool is required' >&2; usage; }
if ! [[ ${pg_num} =~ ^[1-9][0-9]*$ ]] || [ $(( pg_num & (pg_num - 1) )) -ne 0 ]; then
  echo "pool.sh: --pg-num must be a power of two, got ${pg_num}" >&2; exit 2
fi
[[ ${autoscale} =~ ^(on|off)$ ]] || { echo "pool.sh: --autoscale must be on or off, got ${autoscale}" >&2; exit 2; }
if ! [[ ${size} =~ ^[1-9]$ && ${min_size} =~ ^[1-9]$ ]] || [ "${min_size}" -gt "${size}" ]; then
  echo "pool.sh: --size and --min-size must be 1-9 with min-size <= size, got ${size} and ${min_size}" >&2; exit 2
fi

changes=0
# The value of one field of a JSON answer from the ceph CLI (numbers, strings, booleans).
field() { jq -r --arg key "$1" '.[$key]'; }
pool_value() { ceph osd pool get "${pool}" "$1" --format json | field "$1"; }
ensure() {
  local key=$1 want=$2 have
  have=$(pool_value "${key}")
  if [ "${have}" = "${want}" ]; then
    echo "${pool} ${key}: ${have} (unchanged)"
  else
    ceph osd pool set "${pool}" "${key}" "${want}" --yes-i-really-mean-it >/dev/null
    echo "${pool} ${key}: ${have} -> ${want}"
    changes=$(( changes + 1 ))
  fi
}

# The monitors refuse a pool whose PGs would pass mon_max_pg_per_osd (counted as if
# there were at least 3 OSDs); leave room for RGW's own pools too.
osds=$(ceph osd ls | wc -l)
[ "${osds}" -ge 3 ] || osds=3
needed=$(( pg_num * size / osds + 250 ))
have=$(ceph config get mon mon_max_pg_per_osd)
if [ "${have}" -lt "${needed}" ]; then
  ceph config set global mon_max_pg_per_osd "${needed}"
  echo "mon_max_pg_per_osd: ${have} -> ${needed}"
  changes=$(( changes + 1 ))
else
  echo "mon_max_pg_per_osd: ${have} (unchanged)"
fi

if ceph osd pool ls | grep -qx "${pool}"; then
  echo "${pool}: exists"
else
  ceph osd pool create "${pool}" --pg_num "${pg_num}" --pgp_num "${pg_num}" --pg_num_min "${pg_num}" \
    --autoscale-mode="${autoscale}" >/dev/null
  echo "${pool}: created with pg_num ${pg_num}"
  changes=$(( changes + 1 ))
fi
ensure size "${size}"
ensure min_size "${min_size}"
ensure pg_num_min "${pg_num}"
ensure pg_autoscale_mode "${autoscale}"
if [ "$(pool_value pg_num)" -lt "${pg_num}" ]; then ensure pg_num "${pg_num}"; fi
if ceph osd pool application get "${pool}" --format json | jq -e --arg app "${application}" 'has($app)' >/dev/null; then
  echo "${pool} application: ${application} (unchanged)"
else
  ceph osd pool application enable "${pool}" "${application}" >/dev/null
  echo "${pool} application: ${application}"
  changes=$(( changes + 1 ))
fi
echo "${pool}: ${changes} change(s)"
