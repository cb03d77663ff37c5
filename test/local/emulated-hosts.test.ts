import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HostNetwork } from '../../local/emulated-hosts';
import { debianImage } from '../../local/host-image';

// Real Debian 12 hosts under systemd-nspawn (`.ci/run` installs systemd-container and
// debootstrap). The image is built once per machine (minutes) and cached.
const SUBNET = '10.77.0.0/24';
let image: string;

beforeAll(async () => {
  image = await debianImage({ packages: [] });
}, 20 * 60_000);

/** Whatever a network leaves on this machine: its state file, links, namespaces, mounts, cgroups, zram devices. */
function leftovers(network: string): string[] {
  const found: string[] = [];
  if (existsSync(`/run/strata-hosts/${network}.json`)) found.push('state file');
  const links = readdirSync('/sys/class/net').filter((name) => name.startsWith(`${network}-`));
  found.push(...links.map((name) => `link ${name}`));
  if (existsSync('/run/netns'))
    found.push(
      ...readdirSync('/run/netns')
        .filter((name) => name.startsWith(`strata-${network}-`))
        .map((name) => `netns ${name}`),
    );
  found.push(
    ...readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .filter((line) => line.includes(`/strata-hosts/${network}/`))
      .map((line) => `mount ${line.split(' ')[1]}`),
  );
  for (const hierarchy of ['cpu', 'systemd', 'unified', 'cpuacct']) {
    if (existsSync(`/sys/fs/cgroup/${hierarchy}/strata-hosts/${network}`)) found.push(`cgroup ${hierarchy}`);
  }
  return found;
}

const zramDevices = () =>
  readdirSync('/sys/block')
    .filter((name) => name.startsWith('zram'))
    .sort();

describe('emulated hosts', () => {
  test('two hosts boot with their own systemd, hostname, address and disk, reach each other, and run under their CPU quota', async () => {
    const zramBefore = zramDevices();
    const network = await HostNetwork.open({ name: 'tst', subnet: SUBNET });
    try {
      const [slow, fast] = await Promise.all([
        network.start({
          name: 'slow',
          address: '10.77.0.11',
          image,
          cpu: 0.2,
          bandwidthMbit: 20,
          disk: { sizeGiB: 1 },
        }),
        network.start({ name: 'fast', address: '10.77.0.12', image, cpu: 1 }),
      ]);
      expect((await slow.must(['cat', '/proc/1/comm'])).trim()).toBe('systemd');
      expect((await slow.must(['hostname'])).trim()).toBe('slow');
      expect(await fast.must(['ip', '-o', '-4', 'addr', 'show', 'eth0'])).toContain('10.77.0.12/24');
      expect(await slow.must(['lsblk', '-dno', 'NAME,TYPE', slow.disk!])).toMatch(/^zram\d+ +disk$/m);
      expect(
        (await slow.run(['bash', '-c', 'exec 3<>/dev/tcp/10.77.0.12/22 2>/dev/null; echo $?'])).stdout.trim(),
      ).toBe('1'); // refused: the peer answered
      // The same CPU loop takes several times longer under a fifth of a core than under a whole one.
      const loop =
        'start=$(date +%s%N); i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo $(( ($(date +%s%N) - start) / 1000000 ))';
      const [slowMs, fastMs] = (
        await Promise.all([slow.must(['bash', '-c', loop]), fast.must(['bash', '-c', loop])])
      ).map(Number);
      expect(slowMs).toBeGreaterThan(2 * fastMs);
      expect(await slow.inNetwork('tc', ['qdisc', 'show', 'dev', 'eth0'])).toContain('htb');
    } finally {
      await network.close();
    }
    expect(leftovers('tst')).toEqual([]);
    expect(zramDevices()).toEqual(zramBefore);
  }, 180_000);

  test('a host that stops (power cut) boots again on the same file system and disk; a kept disk moves to another host', async () => {
    const network = await HostNetwork.open({ name: 'tst', subnet: SUBNET });
    try {
      const host = await network.start({ name: 'one', address: '10.77.0.21', image, disk: { sizeGiB: 1 } });
      await host.must([
        'sh',
        '-c',
        'echo kept > /root/note && dd if=/dev/urandom of=$0 bs=4k count=1 conv=fsync 2>/dev/null',
        host.disk!,
      ]);
      const signature = await host.must(['sh', '-c', 'head -c 4096 $0 | sha256sum', host.disk!]);
      await host.stop();
      expect(host.running).toBe(false);
      await host.boot();
      expect((await host.must(['cat', '/root/note'])).trim()).toBe('kept');
      const disk = await host.remove({ keepDisk: true });
      const next = await network.start({ name: 'two', address: '10.77.0.22', image, disk: { device: disk! } });
      expect(await next.must(['sh', '-c', 'head -c 4096 $0 | sha256sum', disk!])).toBe(signature);
    } finally {
      await network.close();
    }
    expect(leftovers('tst')).toEqual([]);
  }, 180_000);

  test('a start that fails leaves nothing behind', async () => {
    const network = await HostNetwork.open({ name: 'tst', subnet: SUBNET });
    try {
      await expect(
        network.start({ name: 'broken', address: '10.77.0.31', image: '/nonexistent-image', disk: { sizeGiB: 1 } }),
      ).rejects.toThrow(/mount|overlay/);
      expect(network.hosts).toEqual([]);
      await expect(network.start({ name: 'outside', address: '10.78.0.5', image })).rejects.toThrow(
        'address 10.78.0.5 is not in 10.77.0.0/24',
      );
    } finally {
      await network.close();
    }
    expect(leftovers('tst')).toEqual([]);
  }, 60_000);

  test.each([
    ['Ctrl-C (SIGINT) stops the hosts and removes everything', 'SIGINT', 130],
    ['a process killed outright leaves hosts that the next open of the network removes', 'SIGKILL', null],
  ] as const)(
    '%s',
    async (_, signal, code) => {
      const script = `
      const { HostNetwork } = require(${JSON.stringify(join(__dirname, '..', '..', 'local', 'emulated-hosts'))});
      (async () => {
        const network = await HostNetwork.open({ name: 'tsig', subnet: '10.77.1.0/24' });
        await network.start({ name: 'a', address: '10.77.1.11', image: ${JSON.stringify(image)}, disk: { sizeGiB: 1 }, cpu: 0.5 });
        console.log('up');
        setInterval(() => undefined, 1000);
      })().catch((error) => { console.error(error); process.exit(3); });`;
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
        cwd: join(__dirname, '..', '..'),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => line === 'up' && resolve());
        child.once('exit', (status) => reject(new Error(`the child exited with ${status} before its host was up`)));
      });
      expect(leftovers('tsig').length).toBeGreaterThan(0);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill(signal);
      expect(await exited).toBe(code);
      if (signal === 'SIGKILL') {
        const network = await HostNetwork.open({ name: 'tsig', subnet: '10.77.1.0/24' }); // finds the dead owner's state and undoes it
        await network.close();
      }
      expect(leftovers('tsig')).toEqual([]);
    },
    120_000,
  );
});
