/** IPv4 subnets for the emulated networks: parsing, membership, the n-th address. */
export interface Subnet {
  readonly cidr: string;
  readonly prefix: number;
  /** The network's first usable address (the gateway). */
  readonly first: string;
  readonly base: number;
}

export function toNumber(address: string): number {
  const parts = address.split('.');
  if (parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part) || Number(part) > 255))
    throw new RangeError(`not an IPv4 address: "${address}"`);
  return parts.reduce((sum, part) => sum * 256 + Number(part), 0);
}

export function toAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export function parseSubnet(cidr: string): Subnet {
  const [address, bits] = cidr.split('/');
  const prefix = Number(bits);
  if (!Number.isInteger(prefix) || prefix < 8 || prefix > 30)
    throw new RangeError(`subnet must be a.b.c.d/8..30, got "${cidr}"`);
  const size = 2 ** (32 - prefix);
  const base = Math.floor(toNumber(address) / size) * size;
  return { cidr: `${toAddress(base)}/${prefix}`, prefix, first: toAddress(base + 1), base };
}

export function addressInSubnet(address: string, subnet: Subnet): boolean {
  const value = toNumber(address);
  return value > subnet.base && value < subnet.base + 2 ** (32 - subnet.prefix) - 1;
}

/** The address `offset` past the subnet's base, e.g. nthAddress(10.40.0.0/20, 10) = 10.40.0.10. */
export function nthAddress(subnet: Subnet, offset: number): string {
  if (offset < 1 || offset >= 2 ** (32 - subnet.prefix) - 1)
    throw new RangeError(`offset ${offset} is outside ${subnet.cidr}`);
  return toAddress(subnet.base + offset);
}
