/**
 * EC2 instance types as AWS names them: a family, a generation and attributes, an
 * option after a hyphen, then a size (`c7g.large`, `m7i-flex.xlarge`, `c6gn.16xlarge`,
 * `r7iz.metal-16xl`, `u7i-12tb.224xlarge`), or the first high-memory form, `u-6tb1.metal`.
 * Checked at synth so a typo is a message naming the key, not a stack trace from
 * aws-cdk-lib or a failed deployment; the families are those EC2 offers for Linux (a new
 * one is a line here).
 */
export const INSTANCE_FAMILIES = [
  'a',
  'c',
  'd',
  'dl',
  'f',
  'g',
  'gr',
  'h',
  'hpc',
  'i',
  'im',
  'inf',
  'is',
  'm',
  'p',
  'r',
  't',
  'trn',
  'u',
  'vt',
  'x',
  'z',
];
export const INSTANCE_SIZES = 'nano, micro, small, medium, large, xlarge, 2xlarge ... 48xlarge, metal, metal-16xl ...';

const NAME = /^(?:([a-z]+)[1-9]\d?([a-z]*)(?:-(?:flex|\d+tb))?|u-\d+tb1)\.([a-z0-9-]+)$/;
const SIZE = /^(?:nano|micro|small|medium|large|(?:[1-9]\d*)?xlarge|metal(?:-[1-9]\d*xl)?)$/;

export interface InstanceType {
  readonly name: string;
  /** Graviton (arm64) if the family is `a` or the attributes have a `g`, as AWS's names say. */
  readonly architecture: 'arm64' | 'x86_64';
}

/** The instance type a name is, or why it is not one (a phrase to follow "must be"). */
export function parseInstanceType(name: string): InstanceType | { readonly problem: string } {
  const match = NAME.exec(name);
  if (!match)
    return {
      problem:
        'an EC2 instance type: family, generation and attributes, a dot and a size, such as c7g.large or m7i-flex.xlarge',
    };
  const [, family, attributes, size] = match;
  if (family !== undefined && !INSTANCE_FAMILIES.includes(family))
    return { problem: `an EC2 instance type of a known family (${INSTANCE_FAMILIES.join(', ')}), such as c7g.large` };
  if (!SIZE.test(size))
    return { problem: `an EC2 instance type with a size that exists (${INSTANCE_SIZES}), such as c7g.large` };
  return { name, architecture: family === 'a' || (attributes ?? '').includes('g') ? 'arm64' : 'x86_64' };
}

/** The architecture of an instance type that parseInstanceType accepted (aws-cdk-lib cannot tell it for `u-6tb1.metal`). */
export function instanceArchitecture(name: string): 'arm64' | 'x86_64' {
  const type = parseInstanceType(name);
  if ('problem' in type) throw new RangeError(`"${name}" must be ${type.problem}`);
  return type.architecture;
}
