/**
 * Which addresses a node forwards to. The shared state says where its peers are, and any
 * client that can write there could name any address; so a node forwards an invocation
 * (its body, its budget) only to an address inside its network's range and on a node
 * port. On AWS the setup scripts give the VPC's range and the compute and storage ports.
 */
export interface PeerRule {
  /** IPv4 ranges a peer's address must be in, e.g. `10.0.0.0/16`. */
  readonly cidrs: readonly string[];
  /** Ports a peer may listen on. @default any */
  readonly ports?: readonly number[];
}

/** Loopback for a node on loopback; the private ranges (RFC 1918) otherwise. */
export function defaultPeerRule(host: string): PeerRule {
  return host.startsWith('127.')
    ? { cidrs: ['127.0.0.0/8'] }
    : { cidrs: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] };
}

/** Throws a RangeError naming the field for a range or port no rule can hold. */
export function checkPeerRule(rule: PeerRule): PeerRule {
  if (rule.cidrs.length === 0) throw new RangeError('peers must name at least one IPv4 range, e.g. 10.0.0.0/16');
  for (const cidr of rule.cidrs) parseCidr(cidr);
  for (const port of rule.ports ?? [])
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new RangeError(`peer ports must be whole numbers from 1 to 65535, got ${port}`);
  return rule;
}

/** Whether `host:port` is an IPv4 address in one of the rule's ranges, on one of its ports. */
export function peerAllowed(address: string, rule: PeerRule): boolean {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(address);
  if (!match) return false;
  const ip = ipv4(match[1]);
  const port = Number(match[2]);
  if (ip === undefined || (rule.ports !== undefined && !rule.ports.includes(port))) return false;
  return rule.cidrs.some((cidr) => {
    const { base, size } = parseCidr(cidr);
    return ip >= base && ip < base + size;
  });
}

function parseCidr(cidr: string): { base: number; size: number } {
  const [address, bits, ...rest] = cidr.split('/');
  const prefix = Number(bits);
  const ip = ipv4(address);
  if (ip === undefined || rest.length > 0 || !/^\d{1,2}$/.test(bits ?? '') || prefix > 32)
    throw new RangeError(`peer range must be an IPv4 range a.b.c.d/0..32, got "${cidr}"`);
  const size = 2 ** (32 - prefix);
  return { base: Math.floor(ip / size) * size, size };
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part) || Number(part) > 255)) return undefined;
  return parts.reduce((sum, part) => sum * 256 + Number(part), 0);
}
