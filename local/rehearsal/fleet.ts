import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../commands';
import type { Host, HostNetwork } from '../emulated-hosts';
import type { AwsStandIns } from './aws-stand-ins';
import { type Deployment, ec2Id, type InstanceLaunch, settingsOf } from './deployment';
import type { MetadataService } from './imds';

const USER_DATA = '/var/lib/cloud/instance/scripts/user-data';
const USER_DATA_EXIT = '/var/lib/cloud/instance/user-data.exit';
const USER_DATA_LOG = '/var/log/cloud-init-output.log';
const USER_DATA_UNIT = 'strata-rehearsal-user-data.service';
/** The line the stand-in for cloud-init writes before each run of the user data. */
const RUN_MARK = '=== rehearsal: user data starts';

/** A launched instance: an emulated host, what IMDS tells it, and how its user data went. */
export interface Instance {
  readonly name: string;
  readonly host: Host;
  readonly launch: InstanceLaunch;
  readonly instanceId: string;
  readonly launchedAt: number;
}

export interface FleetOptions {
  readonly network: HostNetwork;
  readonly image: string;
  readonly deployment: Deployment;
  readonly aws: AwsStandIns;
  readonly imds: MetadataService;
  /** The rehearsal CA's certificate, trusted by every host as an AMI trusts Amazon's CAs. */
  readonly caCertificate: string;
  /** A host's /etc/hosts: the VPC's private DNS records. */
  readonly hostsFile: (name: string, address: string) => string;
  /** Every host's link, Mbit/s each way (htb; Host.limit() changes it later). @default no limit */
  readonly bandwidthMbit?: number;
}

/**
 * Launches instances as EC2 would: an emulated host per instance (its address in its
 * subnet, its data disk for the EBS volume), IMDS answering for it, and the user data
 * run once after boot, as cloud-init's final stage runs it (output in
 * /var/log/cloud-init-output.log).
 */
export class Fleet {
  readonly instances: Instance[] = [];

  constructor(private readonly options: FleetOptions) {}

  /**
   * Boots a host for the instance and starts its user data (without waiting for it). A
   * storage node's EBS data volume is the host's data disk: a new one, or the one a
   * removed host kept; the AWS seam's attach answers it for the volume id.
   */
  async launch(
    launch: InstanceLaunch,
    name: string,
    disk?: { sizeGiB: number } | { device: string },
  ): Promise<Instance> {
    const { network, image, deployment, aws, imds } = this.options;
    const address = deployment.allocate(launch.subnet);
    const volumes = (settingsOf(launch.userData).STRATA_OSD_VOLUMES ?? '').split(' ').filter(Boolean);
    if (volumes.length > (disk ? 1 : 0))
      throw new Error(
        `${name}: the rehearsal gives a host one data disk; the template has ${volumes.length} OSD volumes a node`,
      );
    const host = await network.create({
      name,
      address,
      image,
      disk,
      bandwidthMbit: this.options.bandwidthMbit,
      rootDiskGiB: launch.role === 'storage' ? 16 : undefined,
      binds: [{ source: aws.folder, target: '/run/strata-aws' }],
      files: {
        '/etc/hosts': this.options.hostsFile(name, address),
        '/usr/local/share/ca-certificates/strata-rehearsal.crt': readFileSync(this.options.caCertificate, 'utf8'),
        [`/etc/systemd/system/${USER_DATA_UNIT}`]: userDataUnit(),
      },
    });
    host.writeFile(USER_DATA, launch.userData, 0o700);
    for (const volume of volumes) aws.attachVolume(volume, host.disk!);
    const instanceId = ec2Id('i');
    await imds.register(host, {
      instanceId,
      localIpv4: address,
      availabilityZone: launch.subnet.az,
      mac: `02:${[...Array(5)]
        .map(() =>
          Math.floor(Math.random() * 256)
            .toString(16)
            .padStart(2, '0'),
        )
        .join(':')}`,
      interfaceId: ec2Id('eni'),
      tags: launch.tagsInMetadata ? launch.tags : undefined,
      lifecycleState: launch.role === 'compute' ? 'InService' : undefined,
    });
    await host.boot();
    const instance: Instance = { name, host, launch, instanceId, launchedAt: Date.now() };
    this.instances.push(instance);
    await this.runUserData(instance);
    return instance;
  }

  /** Starts the user data (again: a second run deletes the record of the first). */
  async runUserData(instance: Instance): Promise<void> {
    rmSync(join(instance.host.root, USER_DATA_EXIT), { force: true });
    await instance.host.must(['systemctl', 'start', '--no-block', USER_DATA_UNIT]);
  }

  /** The user data's exit status, once it has ended; undefined while it runs. */
  userDataExit(instance: Instance): number | undefined {
    const path = join(instance.host.root, USER_DATA_EXIT);
    return existsSync(path) ? Number(readFileSync(path, 'utf8').trim()) : undefined;
  }

  /** The last lines of the user data's output (cloud-init-output.log) in its last run. */
  userDataOutput(instance: Instance, lines = 40): string {
    const path = join(instance.host.root, USER_DATA_LOG);
    if (!existsSync(path)) return '(no output)';
    const text = readFileSync(path, 'utf8');
    return text
      .slice(Math.max(0, text.lastIndexOf(RUN_MARK)))
      .trimEnd()
      .split('\n')
      .slice(-lines)
      .join('\n');
  }

  /** Waits until the user data has ended; answers its exit status and how long it ran. */
  async waitForUserData(instance: Instance, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = this.userDataExit(instance);
      if (status !== undefined) return status;
      if (!instance.host.running) throw new Error(`${instance.name} stopped while its user data ran`);
      if (Date.now() > deadline)
        throw new Error(
          `${instance.name}: user data still running after ${Math.round(timeoutMs / 1000)} s; its output ends:\n${this.userDataOutput(instance)}`,
        );
      await sleep(2000);
    }
  }

  /** Removes an instance's host (as a termination does); with keepDisk its disk is answered, for a replacement. */
  async terminate(instance: Instance, keepDisk = false): Promise<string | undefined> {
    this.options.imds.forget(instance.host.address);
    this.instances.splice(this.instances.indexOf(instance), 1);
    return instance.host.remove({ keepDisk });
  }

  byName(name: string): Instance {
    const instance = this.instances.find((candidate) => candidate.name === name);
    if (!instance) throw new Error(`no instance ${name}`);
    return instance;
  }

  ofRole(role: 'storage' | 'compute'): Instance[] {
    return this.instances.filter((instance) => instance.launch.role === role);
  }
}

/** The stand-in for cloud-init's final stage: runs the user data once, with its output in cloud-init-output.log. */
function userDataUnit(): string {
  return `[Unit]
Description=The instance's user data, as cloud-init runs it (the rehearsal's stand-in)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStartPre=/usr/sbin/update-ca-certificates
ExecStart=/bin/sh -c 'echo "${RUN_MARK} $$(date -Is)" >> ${USER_DATA_LOG}; ${USER_DATA} >> ${USER_DATA_LOG} 2>&1; echo $$? > ${USER_DATA_EXIT}'
TimeoutStartSec=infinity
`;
}
