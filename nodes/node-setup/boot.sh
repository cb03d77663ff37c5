# shellcheck shell=bash
# What every script on a node uses from its first line: the one retry helper, IMDS, the
# package installs, and `fail`. The user data writes this file to /etc/strata/boot.sh and
# sources it before anything can fail (the node bundle, with common.sh, is not there yet);
# the setup scripts and the drain source it again. Expects the AWS seam's aws_signal.

# retry SECONDS WHAT COMMAND...: runs COMMAND until it succeeds or SECONDS have passed,
# waiting 1, 2, 4 ... s between tries (at most 30 s, less a random part of up to half, so
# that nodes that failed together do not try again together). Says what it waits for on
# stderr; returns COMMAND's last status when it gives up.
retry() {
  local limit=$1 what=$2 started=${SECONDS} delay=1 status pause
  shift 2
  while true; do
    status=0
    "$@" || status=$?
    [ "${status}" -ne 0 ] || return 0
    if [ $((SECONDS - started)) -ge "${limit}" ]; then
      echo "gave up after ${limit} s waiting for ${what} (exit ${status}: $*)" >&2
      return "${status}"
    fi
    echo "waiting for ${what} ($((SECONDS - started)) s so far)" >&2
    pause=$((delay * 1000 - RANDOM % (delay * 500 + 1))) # milliseconds
    sleep "$((pause / 1000)).$(printf %03d $((pause % 1000)))"
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}

# IMDSv2: a session token first, then the path under /latest/. An unreachable, busy or
# throttling IMDS is tried again for a minute; a path it does not have (404) fails at once.
imds() {
  local token reply
  token=$(retry 60 'an IMDS session token' curl -sf -m 5 -X PUT http://169.254.169.254/latest/api/token \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300') || return 1
  reply=$(retry 60 "IMDS ${1}" _imds_get "${token}" "$1") || return 1
  [ "${reply##*$'\n'}" = 200 ] || return 1
  printf '%s' "${reply%$'\n'*}"
}
# The answer and its HTTP status on the last line; fails on what is worth another try.
_imds_get() {
  local reply
  reply=$(curl -s -m 5 -w '\n%{http_code}' -H "X-aws-ec2-metadata-token: $1" "http://169.254.169.254/latest/$2") || return 1
  case ${reply##*$'\n'} in 429 | 5??) return 1 ;; esac
  printf '%s' "${reply}"
}

# Debian packages: apt waits for another apt (unattended upgrades at first boot) for up to
# ten minutes and retries each download; the whole install is retried for ten minutes.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  retry 600 "apt-get install $*" _apt_install "$@"
}
_apt_install() {
  apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=5 update &&
    apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=5 install -y --no-install-recommends "$@"
}

# Setup that fails says so to CloudFormation at once (while a stack waits for this node)
# instead of after the creation timeout: `trap 'fail "..."' ERR` in every script that sets up.
fail() {
  echo "$1" >&2
  aws_signal FAILURE "$(imds meta-data/instance-id)" || true
  exit 1
}
