#!/bin/bash
# Activates every raw-mode OSD of this node's cluster on its disks: ceph-volume mounts the
# OSD's tmpfs folder and fills it from the BlueStore label, so that ceph-osd@ID can start.
# Runs at every boot (strata-osd-activate.service, before ceph-osd.target): ceph-volume's
# own units activate only LVM OSDs. An OSD already active is left alone.
# Usage: osd-activate.sh [--list]   (--list: print the ids of this cluster's OSDs here, activate nothing)
set -euo pipefail
fsid=$(awk -F' *= *' '$1 == "fsid" { print $2 }' /etc/ceph/ceph.conf)
osds=$(ceph-volume raw list --format json | jq -r --arg fsid "${fsid}" '.[] | select(.ceph_fsid == $fsid) | "\(.osd_id) \(.device)"')
[ "${1:-}" = --list ] && { awk '{ print $1 }' <<<"${osds}"; exit 0; }
while read -r id device; do
  [ -n "${id}" ] || continue
  if mountpoint -q "/var/lib/ceph/osd/ceph-${id}"; then
    echo "osd.${id} on ${device}: active"
  else
    ceph-volume raw activate --device "${device}" --no-systemd
    echo "osd.${id} on ${device}: activated"
  fi
done <<<"${osds}"
