/**
 * The secrets a deployment holds, and where they must never show: a unit's ExecStart
 * (`systemctl show`), a process's command line (`ps`, /proc/PID/cmdline: any local user
 * reads them) and the rehearsal's own output.
 */

/** Every value in a secret that is a secret: a JSON secret's string fields, and any keyring's keys in them. */
export function secretValues(secret: string): string[] {
  let fields: unknown;
  try {
    fields = JSON.parse(secret);
  } catch {
    fields = secret;
  }
  // A user name beside its password is no secret (the state store users': common/state/access.ts).
  const strings =
    typeof fields === 'string'
      ? [fields]
      : Object.entries(fields as object)
          .filter(([name, value]) => typeof value === 'string' && name !== 'username')
          .map(([, value]) => value);
  const values: string[] = [];
  for (const text of strings as string[]) {
    // A keyring or a PEM holds its secret among lines that are not.
    for (const [, key] of text.matchAll(/\bkey = (\S+)/g)) values.push(key);
    if (!text.includes('\n') && !text.startsWith('-----')) values.push(text);
    for (const [, body] of text.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----\n([^-]+)-----END/g))
      values.push(body.split('\n')[1] ?? body);
  }
  // Short values (a port, a name) would match by chance and are no secret.
  return values.filter((value) => value.length >= 16);
}

/** Where in each text a secret shows: `where: the first 6 characters…`, never the secret itself. */
export function secretsShown(texts: Record<string, string>, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const [where, text] of Object.entries(texts))
    for (const secret of secrets) if (text.includes(secret)) found.push(`${where}: ${secret.slice(0, 6)}…`);
  return found;
}
