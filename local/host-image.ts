import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { must, processAlive, sleep } from './commands';

/** Where built images are kept between runs: outside the git tree, one folder per recipe. */
export const IMAGE_CACHE = process.env.STRATA_IMAGE_CACHE ?? '/var/cache/strata/images';

export interface ImageRecipe {
  /** Debian packages installed in the image (apt-get install --no-install-recommends), beside BASE_PACKAGES. */
  readonly packages: readonly string[];
}

/** What every host needs: systemd as PID 1, udev (ceph-volume asks it), the network tools, and what a Debian cloud image has. */
export const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'udev',
  'iproute2',
  'curl',
  'ca-certificates',
  'sudo',
  'gnupg',
  'procps',
  'logrotate',
  'less',
] as const;

// Bump when the way an image is built changes, so older cached images are not used.
const BUILDER_VERSION = 2;
const SOURCES = `Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

/**
 * A Debian 12 root file system for emulated hosts, built once and kept in IMAGE_CACHE
 * under a name that is the hash of what goes in it: a base image (debootstrap with
 * BASE_PACKAGES), and on a copy of it the recipe's packages. Concurrent callers wait for
 * one build. Answers the image's root folder, which hosts use read-only (each host
 * writes to an overlay of its own).
 */
export async function debianImage(recipe: ImageRecipe, log: (line: string) => void = () => undefined): Promise<string> {
  const base = await cachedImage(
    { BUILDER_VERSION, suite: 'bookworm', base: BASE_PACKAGES, SOURCES },
    log,
    async (root) => {
      await must('debootstrap', [
        '--variant=minbase',
        `--include=${BASE_PACKAGES.join(',')}`,
        'bookworm',
        root,
        'http://deb.debian.org/debian',
      ]);
      writeFileSync(join(root, 'etc/apt/sources.list.d/debian.sources'), SOURCES);
      rmSync(join(root, 'etc/apt/sources.list'), { force: true });
      await chroot(root, 'apt-get update -qq && apt-get -y -qq --no-install-recommends dist-upgrade && apt-get clean');
    },
  );
  const packages = [...new Set(recipe.packages)]
    .filter((name) => !(BASE_PACKAGES as readonly string[]).includes(name))
    .sort();
  if (packages.length === 0) return base;
  return cachedImage({ base, packages }, log, async (root) => {
    await must('cp', ['-a', `${base}/.`, root]);
    // No systemd runs in the chroot, so the packages' scripts enable their units without starting them.
    await chroot(
      root,
      `apt-get update -qq && apt-get -y -qq --no-install-recommends install ${packages.join(' ')} && apt-get clean`,
    );
  });
}

/** An image folder named by the hash of its recipe: built by `build` into a fresh root the first time, then taken from the cache. */
async function cachedImage(
  recipe: Record<string, unknown>,
  log: (line: string) => void,
  build: (root: string) => Promise<void>,
): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
  const folder = join(IMAGE_CACHE, `debian12-${key}`);
  const root = join(folder, 'root');
  if (existsSync(join(folder, 'complete'))) return root;
  mkdirSync(IMAGE_CACHE, { recursive: true });
  const release = await lock(`${folder}.lock`);
  const building = `${folder}.building`;
  try {
    if (existsSync(join(folder, 'complete'))) return root;
    const started = Date.now();
    log(
      `building host image ${key} (${'packages' in recipe ? `${(recipe.packages as string[]).length} packages on the base image` : 'the Debian 12 base, with debootstrap'}; once, then cached in ${IMAGE_CACHE})`,
    );
    rmSync(building, { recursive: true, force: true });
    mkdirSync(join(building, 'root'), { recursive: true });
    const buildRoot = join(building, 'root');
    await build(buildRoot);
    // Each host gets its own machine id at first boot, as a fresh instance does.
    writeFileSync(join(buildRoot, 'etc/machine-id'), '');
    rmSync(join(buildRoot, 'var/lib/dbus/machine-id'), { force: true });
    const seconds = Math.round((Date.now() - started) / 1000);
    writeFileSync(
      join(building, 'recipe.json'),
      `${JSON.stringify({ ...recipe, builtInSeconds: seconds }, null, 2)}\n`,
    );
    writeFileSync(join(building, 'complete'), new Date().toISOString());
    rmSync(folder, { recursive: true, force: true });
    renameSync(building, folder);
    log(`host image ${key} built in ${seconds} s`);
    return root;
  } finally {
    rmSync(building, { recursive: true, force: true });
    release();
  }
}

/** A command inside an image being built, with this machine's DNS (apt fetches from Debian). */
async function chroot(root: string, command: string): Promise<void> {
  writeFileSync(join(root, 'etc/resolv.conf'), readFileSync('/etc/resolv.conf'));
  await must('chroot', [root, '/bin/sh', '-c', command], {
    env: { DEBIAN_FRONTEND: 'noninteractive', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
}

/** A lock between processes: a folder made atomically, holding the owner's pid; a dead owner's lock is taken over. */
async function lock(path: string): Promise<() => void> {
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'pid'), String(process.pid));
      return () => rmSync(path, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner = 0;
      try {
        owner = Number(readFileSync(join(path, 'pid'), 'utf8').trim());
      } catch {
        // its owner is writing the pid this moment
      }
      if (owner && !processAlive(owner)) rmSync(path, { recursive: true, force: true });
      else await sleep(2000);
    }
  }
}
