import { createHash } from 'node:crypto';
import { POLICY_KEY } from '../policy-setting';
import { ADD_AND_READ, LEARNING_KEY_PREFIX, ROLL } from '../shared-learning';
import { cellPrefixes } from './cells';
import * as lua from './redis-scripts'; // the scripts RedisStateStore runs, by the names it imports them by

/**
 * Who talks to the state store, each as a user of its own (ElastiCache RBAC on AWS; the
 * same users in the rehearsal's and the emulated fleet's redis-server), each allowed only
 * the commands and keys its own code runs. Nobody gets FLUSHALL, CONFIG, KEYS, DEBUG,
 * MONITOR, ACL, CLIENT, SHUTDOWN or SCRIPT FLUSH; a compute or storage node cannot touch
 * the functions directory's cache, the functions API cannot touch the fleet's state, and
 * the dispatcher cannot write a node's record (it runs no heartbeat).
 *
 * A script runs with its caller's rights (Redis 7, Valkey): every command it calls and
 * every key it names is checked against them. So a role's commands are those of the
 * scripts it runs, read from the scripts' own source, plus the few it sends itself.
 */
export const STATE_ROLES = ['dispatcher', 'compute', 'storage', 'functions-api'] as const;
export type StateRole = (typeof STATE_ROLES)[number];

/** The user name each role authenticates as (`AUTH <user> <password>`). */
export function stateUser(role: StateRole): string {
  return `strata-${role}`;
}

/** The keys of the fleet's state, after the prefix (common/state/redis-scripts.ts); `''` is the prefix itself, each script's KEYS[1]. */
const FLEET_KEYS = [
  '',
  ':node:*',
  ':expiry',
  ':leases',
  ':members',
  ':version',
  ':changes',
  ':eligible',
  ':free',
  ':service-ms',
  ':storage',
  ':storage-view',
  ':by-*',
  ':room',
  ':waiting',
  ':waiting-holds',
];

interface RoleRights {
  /** The scripts it runs with EVALSHA: their commands, and EVALSHA itself. */
  readonly scripts: readonly lua.LuaScript[];
  /** Commands it sends itself. */
  readonly commands: readonly string[];
  /** Key patterns after the prefix. */
  readonly keys: readonly string[];
  /** Whole keys outside the prefix: the live policy setting (common/policy-setting.ts), what adaptive learns (common/shared-learning.ts). */
  readonly otherKeys?: readonly string[];
}

/** What each role's code sends: read from lambdas/, nodes/ and common/functions/directory.ts, and recorded (test/common/state/access.test.ts). */
const RIGHTS: Record<StateRole, RoleRights> = {
  // Tier 1: reserves and releases through the index, reads the membership log (and the whole
  // fleet once), and keeps the functions directory's cache (GET, MGET, MSET when it filled it);
  // reads the live policy setting, and publishes it from SSM (SET) when asked or when missing;
  // merges what the adaptive strategy learned into the shared state (two scripts, EVALSHA).
  // With cells, also each cell's free slots (ROOM_LEFT) and membership version (GET) for tier 0,
  // and takes a waiter's place out of the cells it no longer waits in (DROP_PLACE).
  // Its MSET and SET reach all its keys: tying a command to some keys takes a Redis 7 selector,
  // which ElastiCache's access strings do not document, and a deploy must not fail on it.
  dispatcher: {
    scripts: [
      lua.MEMBERSHIP,
      lua.LIVE_NODES,
      lua.RESERVE,
      lua.RELEASE,
      lua.DROP_PLACE,
      lua.ROOM_LEFT,
      ADD_AND_READ,
      ROLL,
    ],
    commands: ['GET', 'MGET', 'MSET', 'SET'],
    keys: [...FLEET_KEYS, ':cursor:*', ':functions:*'],
    otherKeys: [POLICY_KEY, `${LEARNING_KEY_PREFIX}*`],
  },
  // Heartbeats (its metrics agent) with the storage nodes for tier 3 in the reply, deregisters at
  // drain, reserves a peer through the index when it is full (tier 2) and releases it; reads the
  // live policy setting (GET); reads the storage tier's placement map for tier 3 by locality.
  compute: {
    scripts: [
      lua.HEARTBEAT,
      lua.HEARTBEAT_STORAGE,
      lua.DEREGISTER,
      lua.STORAGE_NODES,
      lua.RESERVE,
      lua.RELEASE,
      lua.READ_PLACEMENT,
    ],
    commands: ['GET'],
    keys: [...FLEET_KEYS, ':epochs', ':cursor:*', ':placement'],
    otherKeys: [POLICY_KEY],
  },
  // Heartbeats, deregisters, reads the other storage nodes; never reserves. Publishes the
  // placement map (the agent on a host with Ceph's keyring, nodes/storage/placement.ts).
  storage: {
    scripts: [lua.HEARTBEAT, lua.DEREGISTER, lua.STORAGE_NODES, lua.PUBLISH_PLACEMENT],
    commands: [],
    keys: [...FLEET_KEYS, ':epochs', ':placement'],
  },
  // Writes the functions directory's cache after each change to the registry.
  'functions-api': {
    scripts: [],
    commands: ['GET', 'MGET', 'MSET'],
    keys: [':functions:*'],
  },
};

/** Every client loads the scripts at connect (RedisStateStore.connect), whichever it runs; on a cluster, it asks where its cell's slot is. */
const EVERY_ROLE = ['SCRIPT|LOAD', 'CLUSTER|SLOTS'];

/** The commands a script calls, from its source: `redis.call('NAME'`. */
export function scriptCommands(script: lua.LuaScript): string[] {
  return [...script.source.matchAll(/redis\.call\('([A-Z]+)'/g)].map((match) => match[1]);
}

/** The commands a role may run, sorted, lower case. */
export function roleCommands(role: StateRole): string[] {
  const rights = RIGHTS[role];
  const commands = new Set([...EVERY_ROLE, ...rights.commands, ...rights.scripts.flatMap(scriptCommands)]);
  if (rights.scripts.length > 0) commands.add('EVALSHA');
  return [...commands].map((command) => command.toLowerCase()).sort();
}

/**
 * The key patterns a role may name, for a key prefix (its braces added, as RedisStateStore
 * does), in each of the fleet's cells (common/state/cells.ts): the functions directory's
 * keys in cell 0's tag only, where they are.
 */
export function roleKeys(role: StateRole, keyPrefix = 'strata', cells = 1): string[] {
  return [
    ...cellPrefixes(keyPrefix, cells).flatMap((prefix, k) =>
      RIGHTS[role].keys
        .filter((suffix) => k === 0 || suffix !== ':functions:*')
        .map((suffix) => `{${prefix}}${suffix}`),
    ),
    ...(RIGHTS[role].otherKeys ?? []),
  ];
}

/**
 * The role's rights as an ACL access string, in the part of the syntax ElastiCache RBAC
 * takes (Valkey 7.2 or later, Redis OSS 7.0 or later for `command|subcommand`): `on`,
 * key patterns, `-@all`, then each command. No `reset`, no password (ElastiCache sets those).
 */
export function accessString(role: StateRole, keyPrefix = 'strata', cells = 1): string {
  return [
    'on',
    ...roleKeys(role, keyPrefix, cells).map((pattern) => `~${pattern}`),
    '-@all',
    ...roleCommands(role).map((command) => `+${command}`),
  ].join(' ');
}

/**
 * An ACL file (redis-server --aclfile) with every role's user and its password (as its
 * SHA-256: the file never holds the password), and the default user off with no rights:
 * a client that does not name its user gets nothing.
 */
export function aclFile(passwords: Readonly<Record<StateRole, string>>, keyPrefix = 'strata', cells = 1): string {
  const lines = STATE_ROLES.map((role) => {
    const hash = createHash('sha256').update(passwords[role]).digest('hex');
    return `user ${stateUser(role)} ${accessString(role, keyPrefix, cells)} #${hash}`;
  });
  return [...lines, 'user default off -@all', ''].join('\n');
}

/** The state store URL with a role's user and password in it. */
export function urlWithUser(url: string, user: string, password: string): string {
  const withUser = new URL(url);
  withUser.username = encodeURIComponent(user);
  withUser.password = encodeURIComponent(password);
  return withUser.toString();
}
