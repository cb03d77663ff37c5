/**
 * What Strata reads from a WebAssembly binary before it runs it: the imports with their
 * types, the exported functions with theirs, and the memory import's limits. Node's
 * `WebAssembly.Module.imports()` gives names and kinds but neither signatures nor memory
 * limits (the type-reflection proposal is not in Node 20), so the sections that say them
 * are read here: the type, import, function, table, memory and export sections (spec §5.5).
 */

export type ValueType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface Signature {
  readonly params: readonly ValueType[];
  readonly results: readonly ValueType[];
}

export type ModuleImport =
  | { readonly module: string; readonly name: string; readonly kind: 'function'; readonly type: Signature }
  | {
      readonly module: string;
      readonly name: string;
      readonly kind: 'memory';
      readonly minPages: number;
      readonly maxPages?: number;
      readonly shared: boolean;
    }
  | { readonly module: string; readonly name: string; readonly kind: 'table' | 'global' | 'tag' };

export interface ModuleShape {
  readonly imports: readonly ModuleImport[];
  /** Exported functions by name, with their types; other exports by kind. */
  readonly functions: ReadonlyMap<string, Signature>;
  readonly otherExports: readonly { readonly name: string; readonly kind: string }[];
  /** Memories the module defines itself (section 5), as opposed to importing. */
  readonly ownMemories: number;
  /** Tables the module defines itself (section 4), their limits in elements. */
  readonly ownTables: readonly { readonly min: number; readonly max?: number }[];
}

/** The bytes are not a WebAssembly module that Strata can read (truncated, or not WebAssembly at all). */
export class ModuleFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModuleFormatError';
  }
}

const VALUE_TYPES: Record<number, ValueType> = {
  127: 'i32',
  126: 'i64',
  125: 'f32',
  124: 'f64',
  123: 'v128',
  112: 'funcref',
  111: 'externref',
};
const EXPORT_KINDS = ['function', 'table', 'memory', 'global', 'tag'];

/** Reads the shape of a module. Throws ModuleFormatError where the binary does not parse. */
export function moduleShape(bytes: Uint8Array): ModuleShape {
  const reader = new Reader(bytes);
  if (bytes.length < 8 || reader.u32le() !== 0x6d736100) throw new ModuleFormatError('not a WebAssembly module');
  if (reader.u32le() !== 1) throw new ModuleFormatError('not a WebAssembly binary of version 1');
  const types: Signature[] = [];
  const imports: ModuleImport[] = [];
  const importedFunctionTypes: number[] = [];
  const functionTypes: number[] = [];
  const exports: { name: string; kind: number; index: number }[] = [];
  let ownMemories = 0;
  const ownTables: { min: number; max?: number }[] = [];
  while (!reader.done()) {
    const id = reader.byte();
    const size = reader.leb();
    const end = reader.offset + size;
    if (end > bytes.length) throw new ModuleFormatError(`section ${id} runs past the end of the module (truncated)`);
    const section = new Reader(bytes.subarray(reader.offset, end));
    if (id === 1) {
      for (let count = section.leb(); count > 0; count--) {
        if (section.byte() !== 0x60) throw new ModuleFormatError('a type that is not a function type');
        types.push({
          params: section.vector(() => section.valueType()),
          results: section.vector(() => section.valueType()),
        });
      }
    } else if (id === 2) {
      for (let count = section.leb(); count > 0; count--) {
        const module = section.name();
        const name = section.name();
        const kind = section.byte();
        if (kind === 0) {
          const index = section.leb();
          importedFunctionTypes.push(index);
          imports.push({ module, name, kind: 'function', type: typeAt(types, index) });
        } else if (kind === 2) {
          const { min, max, shared } = section.limits();
          imports.push({ module, name, kind: 'memory', minPages: min, maxPages: max, shared });
        } else if (kind === 1) {
          section.byte(); // element type
          section.limits();
          imports.push({ module, name, kind: 'table' });
        } else if (kind === 3) {
          section.valueType();
          section.byte(); // mutability
          imports.push({ module, name, kind: 'global' });
        } else if (kind === 4) {
          section.byte();
          section.leb();
          imports.push({ module, name, kind: 'tag' });
        } else throw new ModuleFormatError(`an import of unknown kind ${kind}`);
      }
    } else if (id === 3) {
      for (let count = section.leb(); count > 0; count--) functionTypes.push(section.leb());
    } else if (id === 4) {
      for (let count = section.leb(); count > 0; count--) {
        const type = section.byte();
        if (type !== 0x70 && type !== 0x6f)
          throw new ModuleFormatError(
            `a table of type 0x${type.toString(16)}; only funcref and externref tables are read`,
          );
        const { min, max } = section.limits();
        ownTables.push({ min, max });
      }
    } else if (id === 5) {
      ownMemories = section.leb();
    } else if (id === 7) {
      for (let count = section.leb(); count > 0; count--) {
        exports.push({ name: section.name(), kind: section.byte(), index: section.leb() });
      }
    }
    reader.offset = end;
  }
  const functions = new Map<string, Signature>();
  const otherExports: { name: string; kind: string }[] = [];
  for (const { name, kind, index } of exports) {
    if (kind !== 0) {
      otherExports.push({ name, kind: EXPORT_KINDS[kind] ?? `kind ${kind}` });
      continue;
    }
    const typeIndex =
      index < importedFunctionTypes.length
        ? importedFunctionTypes[index]
        : functionTypes[index - importedFunctionTypes.length];
    if (typeIndex === undefined) throw new ModuleFormatError(`export "${name}" names a function that does not exist`);
    functions.set(name, typeAt(types, typeIndex));
  }
  return { imports, functions, otherExports, ownMemories, ownTables };
}

/** `(i32, i32) -> ()` */
export function signatureText(signature: Signature): string {
  return `(${signature.params.join(', ')}) -> (${signature.results.join(', ')})`;
}

function typeAt(types: Signature[], index: number): Signature {
  const type = types[index];
  if (!type) throw new ModuleFormatError(`type index ${index} does not exist`);
  return type;
}

/** A cursor over the binary: LEB128 integers, names, limits (spec §5.2). */
class Reader {
  offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  done(): boolean {
    return this.offset >= this.bytes.length;
  }

  byte(): number {
    if (this.offset >= this.bytes.length)
      throw new ModuleFormatError('the module ends in the middle of a section (truncated)');
    return this.bytes[this.offset++];
  }

  u32le(): number {
    let value = 0;
    for (let i = 0; i < 4; i++) value |= this.byte() << (8 * i);
    return value >>> 0;
  }

  /** An unsigned LEB128 integer of at most 32 bits. */
  leb(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.byte();
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new ModuleFormatError('an integer longer than 5 bytes');
  }

  name(): string {
    const length = this.leb();
    if (this.offset + length > this.bytes.length)
      throw new ModuleFormatError('a name runs past its section (truncated)');
    const text = new TextDecoder('utf-8', { fatal: true }).decode(
      this.bytes.subarray(this.offset, this.offset + length),
    );
    this.offset += length;
    return text;
  }

  valueType(): ValueType {
    const code = this.byte();
    const type = VALUE_TYPES[code];
    if (!type) throw new ModuleFormatError(`unknown value type 0x${code.toString(16)}`);
    return type;
  }

  vector<T>(read: () => T): T[] {
    const items: T[] = [];
    for (let count = this.leb(); count > 0; count--) items.push(read());
    return items;
  }

  limits(): { min: number; max?: number; shared: boolean } {
    const flags = this.byte();
    const min = this.leb();
    const max = flags & 1 ? this.leb() : undefined;
    return { min, max, shared: (flags & 2) !== 0 };
  }
}
