import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { secretsShown, secretValues } from '../../local/rehearsal/secrets';

const SETUP = join(__dirname, '..', '..', 'nodes', 'node-setup');
const read = (file: string) => readFileSync(join(SETUP, file), 'utf8');

/** The variables of the node's environment file (common.sh's write_node_env), which hold its secrets. */
function nodeEnvVariables(): string[] {
  const heredoc = /cat > \/etc\/strata\/node\.env <<ENV\n([\s\S]*?)\nENV/.exec(read('common.sh'))![1];
  return heredoc.split('\n').map((line) => line.split('=')[0]);
}

/** Every command a setup script runs as a systemd unit: install_unit's third argument and every ExecStart= line. */
function unitCommands(file: string): string[] {
  const text = read(file).replace(/\\\n/g, '');
  return [
    ...[...text.matchAll(/install_unit \S+ "[^"]*"\s+"([^"]*)"/g)].map((m) => m[1]),
    ...[...text.matchAll(/^ExecStart=(.*)$/gm)].map((m) => m[1]),
  ];
}

describe('secrets stay off command lines on the nodes', () => {
  // Not secret: the CA bundle's path, the thresholds and the region.
  const NOT_SECRET = new Set(['NODE_EXTRA_CA_CERTS', 'OFFLOAD_THRESHOLDS', 'AWS_REGION']);

  test.each(['compute-node.sh', 'storage-node.sh', 'common.sh'])(
    "%s: no unit's ExecStart names a secret of the node's environment file (systemd would put it in argv, readable in ps)",
    (file) => {
      const secrets = nodeEnvVariables().filter((name) => !NOT_SECRET.has(name));
      expect(secrets).toContain('STRATA_OBJECTS_SECRET_ACCESS_KEY');
      const named = unitCommands(file).flatMap((command) =>
        secrets.filter((name) => command.includes(`\${${name}}`) || command.includes(`$${name}`)),
      );
      expect(named).toEqual([]);
    },
  );

  test('the units pass the state store URL through the environment file, and the node reads it there', () => {
    expect(nodeEnvVariables()).toContain('STRATA_STATE_URL');
    for (const file of ['compute-node.sh', 'storage-node.sh'])
      for (const command of unitCommands(file)) expect(command).not.toMatch(/--state\b/);
    expect(read('common.sh')).toMatch(/EnvironmentFile=\/etc\/strata\/node\.env/);
  });

  test('the AWS CLI gets a secret value on stdin, never as --secret-string VALUE', () => {
    const aws = read('aws.sh');
    expect(aws).toMatch(/--secret-string file:\/\/\/dev\/stdin/);
    expect(aws).not.toMatch(/--secret-string "\$/);
  });
});

describe('finding secrets in text', () => {
  const keyring = '[client.admin]\n\tkey = AQBzYWZlLWtleS1mb3ItdGVzdHM9PQ==\n\tcaps mon = "allow *"\n';

  test("a JSON secret's values, and a keyring's keys inside them, are what is looked for", () => {
    const values = secretValues(JSON.stringify({ token: 'a'.repeat(32), admin: keyring, port: '6380' }));
    expect(values).toEqual(expect.arrayContaining(['a'.repeat(32), 'AQBzYWZlLWtleS1mb3ItdGVzdHM9PQ==']));
    expect(values).not.toContain('6380');
  });

  test("a state store user's password is looked for, its user name beside it is not", () => {
    const values = secretValues(JSON.stringify({ username: 'strata-functions-api', password: 'p'.repeat(64) }));
    expect(values).toEqual(['p'.repeat(64)]);
  });

  test('a secret shown is named by where, with no more of it than its first characters', () => {
    const token = 'b'.repeat(40);
    const shown = secretsShown(
      {
        'c1 ExecStart': `/usr/bin/node main.js --state rediss://:${token}@cache:6380`,
        'c1 command lines': 'node main.js --id c1',
      },
      [token],
    );
    expect(shown).toEqual(['c1 ExecStart: bbbbbb…']);
  });
});

describe('the log folder', () => {
  test("is root's, not the node user's; the node's files are made in it beforehand, as the node user's", () => {
    const common = read('common.sh');
    expect(common).toMatch(/install -d -o root -g root -m 0755 "\$\{STRATA_LOG_DIR\}"/);
    expect(common).not.toMatch(/install -d -o strata -g strata "\$\{STRATA_LOG_DIR\}"/);
    expect(common).toMatch(/for file in metrics\.emf invocations\.log node\.log; do/);
    expect(common).toMatch(/install -o strata -g strata -m 0644 \/dev\/null "\$\{STRATA_LOG_DIR\}\/\$\{file\}"/);
  });

  test('the Ceph health timer, root to read Ceph, appends to the metrics file as the node user', () => {
    expect(read('storage-node.sh')).toMatch(/strata-ceph-health-metric \| runuser -u strata -- tee -a \$\{emf\}/);
  });
});
