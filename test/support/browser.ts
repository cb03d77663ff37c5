import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's Chromium, headless, driven by Playwright, with a fresh profile. The flags keep
 * it from reaching out (there is no network here beyond loopback: its background
 * connections would only be refused) and from needing a GPU or a sandbox as root.
 */
export async function launchChromium(): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is not installed: run \`apt-get install -y --no-install-recommends chromium\` (.ci/run does this)`,
    );
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'strata-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
