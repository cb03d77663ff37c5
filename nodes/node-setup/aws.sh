# shellcheck shell=bash
# The AWS seam: every call a node's boot makes to AWS, and every package install that
# only works on AWS, as one small set of shell functions. The user data writes this file
# to /etc/strata/aws.sh and the setup scripts source it. `npm run rehearse` swaps in
# local/rehearsal-aws.sh, which does the same with files; everything else runs unchanged.
# Expects STRATA_REGION (from /etc/strata/strata.env) where a function calls an AWS API,
# and boot.sh's retry where a function waits. The CLI retries a throttled or failed call
# itself (standard mode: backoff with jitter); `retry` waits for a state to come about.
export AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=5

# The string value of a Secrets Manager secret.
aws_get_secret() {
  aws secretsmanager get-secret-value --region "${STRATA_REGION}" --secret-id "$1" --query SecretString --output text
}

# Stores a new value of a Secrets Manager secret: aws_put_secret ARN STRING.
aws_put_secret() {
  # From stdin (printf is a builtin): on the command line the value would show in ps.
  printf '%s' "$2" | aws secretsmanager put-secret-value --region "${STRATA_REGION}" --secret-id "$1" \
    --secret-string file:///dev/stdin >/dev/null
}

# The node bundle from its S3 asset: aws_fetch_bundle s3://BUCKET/KEY FILE. The region
# keeps the request on the VPC's S3 gateway endpoint (without it the CLI asks us-east-1,
# and outside it the request leaves through the NAT).
aws_fetch_bundle() {
  aws s3 cp --region "${STRATA_REGION}" --only-show-errors "$1" "$2"
}

# Where the nodes read users' functions (docs/functions.md): the function code bucket,
# through the VPC's gateway endpoint with the instance role.
aws_functions_location() {
  echo "s3://${STRATA_FUNCTIONS_BUCKET}"
}

# Packages from Amazon Linux 2023's own repositories.
aws_dnf_install() {
  dnf install -y "$@"
}

# Node.js MAJOR from NodeSource's apt repository (Debian).
aws_nodesource_install() {
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL --retry 5 https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
  echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_$1.x nodistro main" > /etc/apt/sources.list.d/nodesource.list
  apt_install nodejs
}

# The SSM and CloudWatch agents' .debs from their S3 buckets (Debian), and the SSM agent running.
aws_agent_debs_install() {
  local arch agent url
  arch=$(dpkg --print-architecture)
  for agent in amazon-ssm-agent amazon-cloudwatch-agent; do
    dpkg -s "${agent}" >/dev/null 2>&1 && continue
    case ${agent} in
      amazon-ssm-agent) url="https://s3.${STRATA_REGION}.amazonaws.com/amazon-ssm-${STRATA_REGION}/latest/debian_${arch}/amazon-ssm-agent.deb" ;;
      amazon-cloudwatch-agent) url="https://amazoncloudwatch-agent-${STRATA_REGION}.s3.${STRATA_REGION}.amazonaws.com/debian/${arch}/latest/amazon-cloudwatch-agent.deb" ;;
    esac
    curl -fsSL --retry 5 -o "/tmp/${agent}.deb" "${url}"
    apt_install "/tmp/${agent}.deb"
  done
  systemctl enable --now amazon-ssm-agent
}

# Starts the CloudWatch agent with a config file (it ships the files the config names).
aws_cloudwatch_agent_start() {
  /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "file:$1"
}

# Attaches one of this node's EBS volumes to this instance and prints its device once the
# kernel shows it: aws_attach_volume VOLUME DEVICE_NAME INSTANCE. While the instance this
# one replaces still holds the volume, it tries again (for up to ten minutes).
aws_attach_volume() {
  local volume=$1 name=$2 instance=$3
  _volume_device "${volume}" "${name}" >/dev/null ||
    retry 600 "${volume} to attach here (the instance this one replaces may still hold it)" \
      aws ec2 attach-volume --region "${STRATA_REGION}" --volume-id "${volume}" --instance-id "${instance}" --device "${name}" >/dev/null
  retry 120 "a device for ${volume}" _volume_device "${volume}" "${name}"
}
# Nitro instances show EBS volumes as NVMe devices whose serial is the volume id; others by name.
_volume_device() {
  local nvme=/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${1/-/} xen=${2/\/dev\/sd//dev/xvd}
  if [ -e "${nvme}" ]; then readlink -f "${nvme}"; elif [ -e "${xen}" ]; then echo "${xen}"; else return 1; fi
}

# Moves a fixed private address onto this instance's network interface, from the
# instance this one replaces if that one still has it: aws_claim_address ADDRESS INTERFACE_ID.
aws_claim_address() {
  aws ec2 assign-private-ip-addresses --region "${STRATA_REGION}" --network-interface-id "$2" --private-ip-addresses "$1" --allow-reassignment
}

# Tells CloudFormation how this node's creation went: aws_signal SUCCESS|FAILURE INSTANCE.
# Fails when no stack operation waits for it (a node that replaces one, later on).
aws_signal() {
  aws cloudformation signal-resource --region "${STRATA_REGION}" --stack-name "${STRATA_STACK}" \
    --logical-resource-id "${STRATA_SIGNAL_RESOURCE}" --unique-id "$2" --status "$1" >/dev/null
}

# Lets Auto Scaling go on with a termination: aws_complete_lifecycle_action HOOK GROUP INSTANCE.
aws_complete_lifecycle_action() {
  aws autoscaling complete-lifecycle-action --region "${STRATA_REGION}" --lifecycle-action-result CONTINUE \
    --lifecycle-hook-name "$1" --auto-scaling-group-name "$2" --instance-id "$3"
}
