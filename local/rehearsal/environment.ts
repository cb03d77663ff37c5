import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostNetwork } from '../emulated-hosts';
import { debianImage } from '../host-image';
import { AwsStandIns } from './aws-stand-ins';
import { Deployment, settingsOf } from './deployment';
import { Fleet, type Instance } from './fleet';
import { MetadataService } from './imds';
import { RgwObjects } from './objects';
import { RehearsalCa, type StateStoreStandIn, startStateStore } from './state-store';

/** What a compute host has that AL2023 gives the compute user data (its dnf lines go through the seam). */
const COMPUTE_STAND_INS = ['unzip', 'jq'];

const WORK = '/run/strata-rehearsal';
const removeWork = () => rmSync(WORK, { recursive: true, force: true });

/** Everything the rehearsal runs on: the emulated network, the AWS stand-ins, the state store, IMDS and the fleet. */
export class RehearsalEnvironment {
  private constructor(
    readonly deployment: Deployment,
    readonly network: HostNetwork,
    readonly aws: AwsStandIns,
    readonly ca: RehearsalCa,
    readonly state: StateStoreStandIn,
    readonly imds: MetadataService,
    readonly fleet: Fleet,
    readonly image: string,
  ) {}

  /** With bandwidthMbit, every instance's link is an htb at that rate (the locality benchmark changes it). */
  static async start(
    assembly: string,
    log: (line: string) => void,
    options: { bandwidthMbit?: number } = {},
  ): Promise<RehearsalEnvironment> {
    const deployment = new Deployment(assembly);
    const storageDebs = deployment.aptPackages(deployment.storageLaunches()[0]);
    log(`the storage user data installs with apt: ${storageDebs.join(' ')}`);
    const image = await debianImage({ packages: [...COMPUTE_STAND_INS, ...storageDebs] }, log);
    rmSync(WORK, { recursive: true, force: true });
    mkdirSync(WORK, { recursive: true });
    process.on('exit', removeWork); // also when the rehearsal is stopped by a signal
    const network = await HostNetwork.open({ name: 'rh', subnet: deployment.vpcCidr, nat: true, log });
    const stopping: (() => Promise<void> | void)[] = [
      () => network.close(),
      () => rmSync(WORK, { recursive: true, force: true }),
    ];
    try {
      const ca = await RehearsalCa.create(join(WORK, 'ca'));
      const aws = new AwsStandIns(join(WORK, 'aws'));
      stopping.unshift(() => aws.close());
      aws.seedSecrets(deployment.assembly, deployment.stacks());
      aws.seedParameters(deployment.assembly, deployment.stacks());
      const { users, port } = deployment.stateStore();
      const state = await startStateStore({
        ca,
        name: deployment.stateStoreName,
        address: network.gateway,
        port,
        // The users CloudFormation makes, their passwords from the secrets as ElastiCache resolves them.
        users: users.map((user) => ({
          ...user,
          password: (JSON.parse(aws.secret(user.secretArn)) as { password: string }).password,
        })),
        folder: WORK,
      });
      stopping.unshift(() => state.stop());
      const imds = new MetadataService();
      await imds.listen(network.gateway);
      stopping.unshift(() => imds.close());
      for (const launch of [...deployment.storageLaunches(), ...deployment.computeLaunches()]) {
        const bundle = deployment.bundle(launch.userData);
        await aws.publishFolder(bundle.folder, bundle.s3Uri);
      }
      let environment: RehearsalEnvironment | undefined;
      const fleet = new Fleet({
        network,
        image,
        deployment,
        aws,
        imds,
        caCertificate: ca.certificate,
        bandwidthMbit: options.bandwidthMbit,
        hostsFile: (name, address) => environment!.hostsFile(name, address),
      });
      environment = new RehearsalEnvironment(deployment, network, aws, ca, state, imds, fleet, image);
      return environment;
    } catch (error) {
      for (const stop of stopping) await stop();
      throw error;
    }
  }

  /** RGW's CA certificate as storage node 0 publishes it in the object-store secret, in a file; throws until it is published. */
  rgwCa(): string {
    const arn = settingsOf(
      this.fleet.ofRole('compute')[0]?.launch.userData ?? this.deployment.computeLaunches()[0].userData,
    ).STRATA_OBJECTS_SECRET_ARN;
    const { caCertificate } = JSON.parse(this.aws.secret(arn)) as { caCertificate?: string };
    if (!caCertificate) throw new Error('the object-store secret has no caCertificate yet');
    const file = join(WORK, 'rgw-ca.pem');
    writeFileSync(file, caCertificate);
    return file;
  }

  /** The S3 keys the compute nodes get: the read-only user's. */
  computeObjectKeys(): { accessKeyId: string; secretAccessKey: string } {
    const arn = settingsOf(this.deployment.computeLaunches()[0].userData).STRATA_OBJECTS_SECRET_ARN;
    return JSON.parse(this.aws.secret(arn)) as { accessKeyId: string; secretAccessKey: string };
  }

  /** The bucket owner's S3 keys (the object-store secret the storage nodes get; the compute nodes get read-only ones). */
  objectKeys(): { accessKeyId: string; secretAccessKey: string } {
    const arn = settingsOf(this.deployment.storageLaunches()[0].userData).STRATA_OBJECTS_SECRET_ARN;
    return JSON.parse(this.aws.secret(arn)) as { accessKeyId: string; secretAccessKey: string };
  }

  /** /etc/hosts of a host: its own name, and the private DNS records of the VPC (Route 53 private zones, the ElastiCache endpoint). */
  hostsFile(name: string, address?: string): string {
    const records = Object.entries(this.deployment.dnsRecords()).flatMap(([record, addresses]) =>
      (addresses.length > 0 ? addresses : [this.network.gateway]).map((target) => `${target} ${record}`),
    );
    return [
      '127.0.0.1 localhost',
      `127.0.1.1 ${name}`,
      ...(address ? [`${address} ${name}`] : []),
      ...records,
      '',
    ].join('\n');
  }

  /** S3 on RGW from this machine, with the object-store secret's keys (or these) and CA, through every storage address. */
  objects(keys?: { accessKeyId: string; secretAccessKey: string }): RgwObjects {
    const settings = settingsOf(this.deployment.storageLaunches()[0].userData);
    return new RgwObjects({
      name: settings.STRATA_RGW_NAME,
      port: Number(settings.STRATA_RGW_PORT),
      addresses: () =>
        this.fleet
          .ofRole('storage')
          .filter((instance) => instance.host.running)
          .map((instance) => this.storageAddress(instance)),
      bucket: settings.STRATA_BUCKET,
      caCertificate: readFileSync(this.rgwCa(), 'utf8'),
      region: this.deployment.region,
      ...(keys ?? this.objectKeys()),
    });
  }

  /** Where a storage node serves Ceph and RGW: the fixed address of its place in the cluster. */
  storageAddress(instance: Instance): string {
    return settingsOf(instance.launch.userData).STRATA_CEPH_ADDRESS;
  }

  async close(): Promise<void> {
    await this.network.close();
    this.imds.close();
    await this.state.stop();
    this.aws.close();
    removeWork();
    process.off('exit', removeWork);
  }
}
