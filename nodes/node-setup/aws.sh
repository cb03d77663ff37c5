# shellcheck shell=bash
# The AWS seam: every call a node's boot makes to AWS, and every package install that
# only works on AWS, as one small set of shell functions. The user data writes this file
# to /etc/strata/aws.sh and the setup scripts source it. `npm run rehearse` swaps in
# local/rehearsal-aws.sh, which does the same with files; everything else runs unchanged.
# Expects STRATA_REGION (from /etc/strata/strata.env) where a function calls an AWS API.

# The string value of a Secrets Manager secret.
aws_get_secret() {
  aws secretsmanager get-secret-value --region "${STRATA_REGION}" --secret-id "$1" --query SecretString --output text
}

# Stores a new value of a Secrets Manager secret: aws_put_secret ARN STRING.
aws_put_secret() {
  aws secretsmanager put-secret-value --region "${STRATA_REGION}" --secret-id "$1" --secret-string "$2" >/dev/null
}

# The node bundle from its S3 asset: aws_fetch_bundle s3://BUCKET/KEY FILE.
aws_fetch_bundle() {
  aws s3 cp --only-show-errors "$1" "$2"
}

# Packages from Amazon Linux 2023's own repositories.
aws_dnf_install() {
  dnf install -y "$@"
}

# Node.js MAJOR from NodeSource's apt repository (Debian).
aws_nodesource_install() {
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
  echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_$1.x nodistro main" > /etc/apt/sources.list.d/nodesource.list
  apt-get update
  apt-get install -y nodejs
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
    curl -fsSL -o "/tmp/${agent}.deb" "${url}"
    apt-get install -y "/tmp/${agent}.deb"
  done
  systemctl enable --now amazon-ssm-agent
}

# Starts the CloudWatch agent with a config file (it ships the files the config names).
aws_cloudwatch_agent_start() {
  /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "file:$1"
}

# Lets Auto Scaling go on with a termination: aws_complete_lifecycle_action HOOK GROUP INSTANCE.
aws_complete_lifecycle_action() {
  aws autoscaling complete-lifecycle-action --region "${STRATA_REGION}" --lifecycle-action-result CONTINUE \
    --lifecycle-hook-name "$1" --auto-scaling-group-name "$2" --instance-id "$3"
}
