# shellcheck shell=bash
# The AWS seam of nodes/node-setup/aws.sh as `npm run rehearse` backs it: the same
# functions, reading and writing files in /run/strata-aws (a folder of the machine that
# runs the rehearsal, bound into every emulated host; local/rehearsal/aws-stand-ins.ts).
# The rehearsal puts this in the user data in place of the AWS seam, and nothing else.
STRATA_AWS=/run/strata-aws

# A secret file's path from its ARN (the part after ":secret:").
_secret_file() { echo "${STRATA_AWS}/secrets/${1##*:secret:}"; }

aws_get_secret() {
  local file
  file=$(_secret_file "$1")
  [ -f "${file}" ] || { echo "ResourceNotFoundException: no secret $1" >&2; return 254; }
  cat "${file}"
}

aws_put_secret() {
  local file
  file=$(_secret_file "$1")
  [ -f "${file}" ] || { echo "ResourceNotFoundException: no secret $1" >&2; return 254; }
  printf '%s' "$2" > "${file}.$$"
  mv "${file}.$$" "${file}"
  printf '%s' "$2" | base64 -w0 >> "${file}.versions"
  echo >> "${file}.versions"
}

aws_fetch_bundle() {
  cp "${STRATA_AWS}/s3/${1#s3://}" "$2"
}

# The function code bucket is the stand-ins' folder of it, which every host sees.
aws_functions_location() {
  echo "${STRATA_AWS}/s3/${STRATA_FUNCTIONS_BUCKET}"
}

# This machine's Node.js in place of a package's, started with the system's CA store (as a
# Lambda or an AMI trusts Amazon's CA, the hosts trust the rehearsal's state store CA).
_install_node() {
  install -d /usr/local/lib/strata-rehearsal
  ln -sf "${STRATA_AWS}/bin/node" /usr/local/lib/strata-rehearsal/node
  printf '#!/bin/sh\nSSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt exec /usr/local/lib/strata-rehearsal/node --use-openssl-ca "$@"\n' > "$1"
  chmod 0755 "$1"
}

# AL2023's packages: what the Debian host has in their place.
aws_dnf_install() {
  local package
  for package in "$@"; do
    case ${package} in
      nodejs22) _install_node /usr/bin/node-22 ;; # AL2023's nodejs22 installs node-22
      amazon-cloudwatch-agent) echo "rehearsal: ${package} stands in as aws_cloudwatch_agent_start" ;;
      unzip | logrotate | jq) command -v "${package}" >/dev/null || { echo "rehearsal: ${package} is missing from the host image" >&2; return 1; } ;;
      *) echo "rehearsal: no stand-in for the AL2023 package ${package}" >&2; return 1 ;;
    esac
  done
}

aws_nodesource_install() {
  _install_node /usr/bin/node # where NodeSource's package puts it
}

aws_agent_debs_install() {
  echo "rehearsal: the SSM and CloudWatch agents' .debs are not installed"
}

aws_cloudwatch_agent_start() {
  install -d /var/lib/strata-rehearsal
  cp "$1" /var/lib/strata-rehearsal/cloudwatch-agent.json
  echo "rehearsal: CloudWatch agent config kept in /var/lib/strata-rehearsal/cloudwatch-agent.json"
}

# The device of the volume, as the rehearsal attached it to this host (volumes/VOLUME holds its path).
aws_attach_volume() {
  local file="${STRATA_AWS}/volumes/$1"
  [ -f "${file}" ] || { echo "InvalidVolume.NotFound: no volume $1" >&2; return 1; }
  echo "$3" > "${file}.attached-to"
  cat "${file}"
}

aws_claim_address() {
  install -d "${STRATA_AWS}/addresses"
  echo "$2" > "${STRATA_AWS}/addresses/$1"
}

# A CloudFormation signal: taken only while the rehearsal has a resource waiting for it (signals/RESOURCE.waiting).
aws_signal() {
  if [ ! -e "${STRATA_AWS}/signals/${STRATA_SIGNAL_RESOURCE}.waiting" ]; then
    echo "ValidationError: Resource ${STRATA_SIGNAL_RESOURCE} is in CREATE_COMPLETE state and cannot be signaled" >&2
    return 254
  fi
  echo "$1" > "${STRATA_AWS}/signals/${STRATA_SIGNAL_RESOURCE}.$2"
}

aws_complete_lifecycle_action() {
  echo "hook=$1 group=$2 instance=$3" >> "${STRATA_AWS}/lifecycle"
}
