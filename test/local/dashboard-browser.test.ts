import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BrowserContext, Page } from 'playwright-core';
import { WIDGETS } from '../../common/metrics/dashboard';
import { type RedisServer, startRedisServer } from '../../local/redis-server';
import { launchChromium } from '../support/browser';

// `npm start` as an operator runs it, with a real Redis (and a replica) and a real Ceph,
// so that every widget has a source; Debian's Chromium loads the page while the demo
// runs, then checks every widget against the run's own counts.
const ROOT = join(__dirname, '..', '..');
/** The heavy phase of the demo (--requests); the light one before it sends a tenth as many. */
const REQUESTS = 400;
const ALL_REQUESTS = REQUESTS + REQUESTS / 10;

// The page's DOM as far as these checks read it, in the functions Playwright runs in the
// page (the tests compile without TypeScript's DOM library).
interface PageElement {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
}
declare const document: PageElement & { readonly body: PageElement };

let primary: RedisServer;
let replica: RedisServer;
let start: ChildProcess;
let browser: BrowserContext;
let page: Page;
let stdout = '';
const seen = new Map<string, (line: string) => void>();

/** The first line of npm start's output that matches, now or when it comes; a failure if npm start exits first. */
function line(pattern: RegExp): Promise<string> {
  const found = stdout.split('\n').find((l) => pattern.test(l));
  if (found) return Promise.resolve(found);
  if (start.exitCode !== null)
    return Promise.reject(new Error(`npm start exited (${start.exitCode}) before printing ${pattern}`));
  return new Promise((resolve, reject) => {
    seen.set(pattern.source, resolve);
    start.once('exit', (code) => reject(new Error(`npm start exited (${code}) before printing ${pattern}`)));
  });
}

/** What the page shows for one widget: per line, its figure over the run and its count of values. */
async function figures(title: string): Promise<{
  lines: number;
  points: number;
  svgLines: number;
  rows: Record<string, { total: number; samples: number }>;
  notes: string[];
}> {
  return page.evaluate((wanted) => {
    const card = [...document.querySelectorAll('.widget')].find((w) => w.dataset.title === wanted)!;
    const rows: Record<string, { total: number; samples: number }> = {};
    for (const row of card.querySelectorAll('tr[data-label]')) {
      rows[row.dataset.label!] = {
        total: Number(row.querySelector('.total')!.textContent),
        samples: Number(row.querySelector('.samples')!.textContent),
      };
    }
    return {
      lines: Number(card.dataset.lines),
      points: Number(card.dataset.points),
      svgLines: card.querySelectorAll('svg .mark-line path').length,
      rows,
      notes: [...card.querySelectorAll('.note')].map((note) => note.textContent ?? ''),
    };
  }, title);
}

async function nextUpdate(): Promise<void> {
  const now = await page.evaluate(() => Number(document.body.dataset.updates ?? 0));
  await page.waitForFunction((n) => Number(document.body.dataset.updates ?? 0) > n, now, { timeout: 30_000 });
}

beforeAll(async () => {
  primary = await startRedisServer();
  replica = await startRedisServer({ replicaOf: primary });
  browser = await launchChromium();
  page = await browser.newPage();
  start = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'bin/start.ts'),
      '--redis',
      primary.url,
      '--ceph',
      '--port',
      '0',
      '--dashboard-port',
      '0',
      '--work-dir',
      mkdtempSync(join(tmpdir(), 'strata-start-')),
      '--requests',
      String(REQUESTS),
      '--concurrency',
      '8',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  createInterface({ input: start.stdout! }).on('line', (text) => {
    stdout += `${text}\n`;
    for (const [source, resolve] of seen) {
      if (!new RegExp(source).test(text)) continue;
      seen.delete(source);
      resolve(text);
    }
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (start && start.exitCode === null) {
    await new Promise<void>((resolve) => {
      start.once('exit', () => resolve());
      start.kill('SIGTERM'); // npm start stops every process it started, Ceph included
    });
  }
  await replica?.stop();
  await primary?.stop();
});

describe('the dashboard of a run of npm start, in Chromium', () => {
  let midRunInvocations = 0;

  test('npm start prints the page address at start; the page loads with every widget of the definition, and updates while the load runs', async () => {
    const address = (await line(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/)).slice('dashboard: '.length);
    await page.goto(address);
    await page.waitForFunction(() => Number(document.body.dataset.updates ?? 0) >= 1, null, { timeout: 30_000 });
    expect(await page.evaluate(() => [...document.querySelectorAll('.widget')].map((w) => w.dataset.title))).toEqual(
      WIDGETS.map((w) => w.title),
    );
    // While the demo runs, the figures grow from one update to the next.
    await page.waitForFunction(
      () => {
        const card = [...document.querySelectorAll('.widget')].find(
          (w) => w.dataset.title === 'Invocations and concurrency',
        );
        return Number(card?.querySelector('tr[data-label="invocations"] .total')?.textContent ?? 0) > 0;
      },
      null,
      { timeout: 240_000 },
    );
    midRunInvocations = (await figures('Invocations and concurrency')).rows.invocations.total;
    expect(stdout).not.toMatch(/tier 1, dispatcher chose/); // the demo is still running
    await line(/^tier 1, dispatcher chose: /);
    await nextUpdate();
    await nextUpdate();
    expect((await figures('Invocations and concurrency')).rows.invocations.total).toBeGreaterThan(midRunInvocations);
  }, 400_000);

  test('every widget shows data: each has lines, drawn by vega; a line without data is the forecast (AWS only) or an event that did not happen, and the page says which', async () => {
    const eventOnly = / — written only when it happens$/;
    for (const widget of WIDGETS) {
      const shown = await figures(widget.title);
      // A widget of events only (the policy faults) that none of happened says so for each line instead.
      const nothingHappened =
        shown.notes.length === widget.metrics.length && shown.notes.every((note) => eventOnly.test(note));
      expect({ widget: widget.title, lines: shown.lines > 0, drawn: shown.svgLines > 0 }).toEqual({
        widget: widget.title,
        lines: !nothingHappened,
        drawn: !nothingHappened,
      });
      for (const note of shown.notes)
        expect(note).toMatch(
          /^(forecast: no data in this run — on AWS only|(no capacity|node 5xx|users' functions failed \(424, 504\)|degraded containers|tier [123] \((dispatcher|compute nodes)\)): no data in this run — written only when it happens)/,
        );
    }
    const screenshot =
      process.env.STRATA_DASHBOARD_SCREENSHOT ?? join(mkdtempSync(join(tmpdir(), 'strata-shot-')), 'dashboard.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`screenshot of the run: ${screenshot}`);
  });

  test('the light phase shows tier 3 acting: its data stages run on the storage node', async () => {
    await line(/^metrics \(CloudWatch EMF\): /);
    // Printed light phase first; its stages are all data stages (word count, substring).
    const light = stdout.split('\n').find((l) => l.startsWith('tier 3, data stages: '))!;
    const offloaded = Number(/offloaded:s1 (\d+)/.exec(light)?.[1] ?? 0);
    expect(offloaded).toBeGreaterThanOrEqual(REQUESTS / 10 / 2); // most of them, on a machine also running Ceph and the demo
  });

  test("the numbers are the run's own: decisions per node, invocations, errors, dispatches", async () => {
    // The demo's two phases (the light one first) each print their lines: the run's figures are their sums.
    await line(/^metrics \(CloudWatch EMF\): /);
    const sums = (pattern: RegExp, pair: RegExp) => {
      const total: Record<string, number> = {};
      for (const printed of stdout.split('\n').filter((l) => pattern.test(l)))
        for (const [, key, count] of printed.matchAll(pair)) total[key] = (total[key] ?? 0) + Number(count);
      return total;
    };
    const chose = sums(/^tier 1, dispatcher chose: /, /:(\w+) (\d+)/g);
    const statuses = sums(/^status: /, /(\d{3}) (\d+)/g);
    expect(Object.values(chose).reduce((a, b) => a + b, 0)).toBe(ALL_REQUESTS);

    const decisions = await figures('Decisions per node');
    expect(Object.fromEntries(Object.entries(decisions.rows).map(([node, row]) => [node, row.total]))).toEqual(chose);
    const invocations = await figures('Invocations and concurrency');
    expect(invocations.rows.invocations.total).toBe(ALL_REQUESTS);
    const errors = await figures('Errors');
    const count = (from: number, to: number) =>
      Object.entries(statuses)
        .filter(([s]) => Number(s) >= from && Number(s) < to)
        .reduce((n, [, c]) => n + c, 0);
    expect(errors.rows['API 4xx'].total).toBe(count(400, 500));
    expect(errors.rows['API 5xx'].total).toBe(count(500, 600));
    expect(errors.rows['dispatcher errors'].total).toBe(0);
    const dispatch = await figures('Dispatch latency (ms)');
    expect(dispatch.rows.p50.samples).toBe(ALL_REQUESTS - (statuses['503'] ?? 0));
    const nodes = await figures('Nodes: in service, desired and forecast');
    expect(nodes.rows.desired.total).toBe(3); // the run started three compute nodes...
    expect(nodes.rows['in service'].total).toBeGreaterThan(2); // ...and they were live nearly all the time (a late heartbeat on a busy machine is a dip)
    expect(nodes.rows['in service'].total).toBeLessThanOrEqual(3);
    const lag = await figures('ElastiCache replication lag (s)');
    expect(Object.keys(lag.rows)).toEqual([`127.0.0.1:${replica.port}`]);
  });
});
