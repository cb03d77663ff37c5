import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { ALARMS, type DashboardResources, TIER_TITLES, WIDGETS } from '../../common/metrics/dashboard';
import { refuseForeign } from '../loopback';
import { datapointsOf, EmfError } from './emf';
import { EmfFollower, type EmfSource } from './sources';
import { LOCAL_RESOURCES, localSourceOf } from './stand-ins';
import { MetricStore, type Series } from './store';

export interface DashboardOptions {
  /** Where the EMF records come from; more can be added while it runs. */
  readonly sources?: readonly EmfSource[];
  /** What the definition's resource references are called here. @default the local stand-ins' names */
  readonly resources?: DashboardResources;
  /** What runs, for the page's heading. */
  readonly title?: string;
  /** @default 0, any free port */
  readonly port?: number;
  /** The period of each point on the page, unless the page asks for another. @default 5 (CloudWatch's is 60) */
  readonly periodSeconds?: number;
}

/** The page's view of one widget: the definition, and its lines computed from the records. */
export interface WidgetData {
  readonly title: string;
  readonly tier: 1 | 2 | 3;
  readonly unit: string;
  readonly alarms: readonly { readonly name: string; readonly threshold: number; readonly description: string }[];
  readonly queries: readonly {
    readonly namespace: string;
    readonly name: string;
    readonly stat: string;
    readonly label: string;
    readonly axis: 'left' | 'right';
    readonly lines: number;
    readonly note?: string;
  }[];
  readonly series: readonly (Omit<Series, 'query'> & {
    readonly axis: 'left' | 'right';
    readonly stat: string;
    readonly latest: number;
  })[];
}

export interface DashboardData {
  readonly title: string;
  readonly generatedAt: number;
  readonly periodSeconds: number;
  readonly from: number;
  readonly tiers: typeof TIER_TITLES;
  readonly widgets: readonly WidgetData[];
  readonly sources: readonly {
    readonly name: string;
    readonly lines: number;
    readonly rejected: number;
    readonly lastError?: string;
  }[];
}

export interface LocalDashboard {
  /** http://127.0.0.1:PORT/ */
  readonly url: string;
  readonly store: MetricStore;
  addSource(source: EmfSource): void;
  /** Forgets every record (a new benchmark scenario) and names what now runs. */
  reset(title: string): void;
  /** The page's data, as the page gets it. */
  data(periodSeconds?: number): DashboardData;
  close(): Promise<void>;
}

const PAGE = join(__dirname, 'page.html');

/**
 * The dashboard on loopback: the same widgets as CloudWatch's (common/metrics/dashboard.ts),
 * drawn with vega-embed from the EMF records of the sources, updated every two seconds.
 */
export async function serveDashboard(options: DashboardOptions = {}): Promise<LocalDashboard> {
  const store = new MetricStore();
  const resources = options.resources ?? LOCAL_RESOURCES;
  let title = options.title ?? 'Strata on this machine';
  let startedAt = Date.now();
  const follower = new EmfFollower((line, status) => {
    status.lines++;
    try {
      for (const point of datapointsOf(line)) store.add(point);
    } catch (error) {
      if (!(error instanceof EmfError)) throw error;
      status.rejected++;
      status.lastError = error.message;
    }
  });
  for (const source of options.sources ?? []) follower.add(source);

  const data = (periodSeconds = options.periodSeconds ?? 5): DashboardData => {
    follower.poll();
    const to = Date.now() + 1000;
    const window = { from: startedAt - 60_000, to, periodMs: periodSeconds * 1000 };
    return {
      title,
      generatedAt: Date.now(),
      periodSeconds,
      from: startedAt,
      tiers: TIER_TITLES,
      sources: follower.statuses.map((status) => ({ ...status })),
      widgets: WIDGETS.map((widget) => {
        const queries = widget.metrics.map((query) => ({ query, series: store.query(query, resources, window) }));
        return {
          title: widget.title,
          tier: widget.tier,
          unit: widget.unit,
          alarms: (widget.alarms ?? [])
            .map((name) => ALARMS.find((alarm) => alarm.name === name)!)
            .map(({ name, threshold, description }) => ({ name, threshold, description })),
          queries: queries.map(({ query, series }) => ({
            namespace: query.namespace,
            name: query.name,
            stat: query.stat,
            label: query.label,
            axis: query.axis ?? 'left',
            lines: series.length,
            ...(series.length === 0 ? { note: localSourceOf(query) } : {}),
          })),
          series: queries.flatMap(({ series }) =>
            series.map(({ query, ...line }) => ({
              ...line,
              axis: query.axis ?? 'left',
              stat: query.stat,
              latest: line.points[line.points.length - 1][1],
            })),
          ),
        };
      }),
    };
  };

  const vendor: Record<string, string> = {
    '/vendor/vega.min.js': packageFile('vega', 'build/vega.min.js'),
    '/vendor/vega-lite.min.js': packageFile('vega-lite', 'build/vega-lite.min.js'),
    '/vendor/vega-embed.min.js': packageFile('vega-embed', 'build/vega-embed.min.js'),
  };
  const server: Server = createServer((req, res) => {
    if (refuseForeign(req, res)) return; // DNS rebinding would let another site read the page's data
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
    if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
    if (url.pathname === '/')
      return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(readFileSync(PAGE));
    if (vendor[url.pathname])
      return void res
        .writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'max-age=3600' })
        .end(readFileSync(vendor[url.pathname]));
    if (url.pathname === '/api/dashboard') {
      const period = Number(url.searchParams.get('period') ?? options.periodSeconds ?? 5);
      if (!Number.isInteger(period) || period < 1 || period > 3600) {
        return void res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'period must be a whole number of seconds from 1 to 3600' }));
      }
      return void res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify(data(period)));
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no ${url.pathname} here: the dashboard is at /`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    store,
    addSource: (source) => follower.add(source),
    reset(next) {
      title = next;
      startedAt = Date.now();
      store.clear();
    },
    data,
    async close() {
      follower.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A file of an installed package, found from here up (its `exports` hide its builds from require.resolve). */
function packageFile(name: string, path: string): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name, path);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name}/${path} is not installed: run npm ci`);
  }
}
