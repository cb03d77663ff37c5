import { writeFileSync } from 'node:fs';

/**
 * Charts as SVG files, drawn with Vega-Lite and rendered headless by Vega (no browser,
 * no canvas). Vega's packages are ES modules with top-level await, so they are imported,
 * not required.
 */
async function renderSvg(spec: Record<string, unknown>, file: string): Promise<void> {
  const vega = await import('vega');
  const { compile } = await import('vega-lite');
  const view = new vega.View(
    vega.parse(compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec } as never).spec),
    { renderer: 'none' },
  );
  writeFileSync(file, await view.toSVG());
}

/** Latency CDF, one line per run, on a log scale; each run thinned to about 200 points. */
export async function latencyCdfChart(
  runs: readonly { readonly name: string; readonly latenciesMs: ArrayLike<number> }[],
  file: string,
  title: string,
): Promise<void> {
  const values = runs.flatMap(({ name, latenciesMs }) => {
    const sorted = Float64Array.from(latenciesMs).sort();
    const step = Math.max(1, Math.floor(sorted.length / 200));
    const points = [];
    for (let i = 0; i < sorted.length; i += step)
      points.push({ policy: name, latencyMs: Math.max(0.1, sorted[i]), fraction: (i + 1) / sorted.length });
    if (sorted.length > 0)
      points.push({ policy: name, latencyMs: Math.max(0.1, sorted[sorted.length - 1]), fraction: 1 });
    return points;
  });
  await renderSvg(
    {
      title,
      width: 560,
      height: 320,
      data: { values },
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'latencyMs', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms, log scale)' },
        y: { field: 'fraction', type: 'quantitative', title: 'fraction of invocations' },
        color: { field: 'policy', type: 'nominal' },
      },
    },
    file,
  );
}

/** A latency figure against offered load, one line per policy. */
export async function latencyVsLoadChart(
  points: readonly { readonly policy: string; readonly load: number; readonly latencyMs: number }[],
  file: string,
  title: string,
  loadTitle: string,
): Promise<void> {
  await renderSvg(
    {
      title,
      width: 560,
      height: 320,
      data: { values: points },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'load', type: 'quantitative', title: loadTitle },
        y: { field: 'latencyMs', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms, log scale)' },
        color: { field: 'policy', type: 'nominal' },
      },
    },
    file,
  );
}

/** Per-node utilisation (or share of the work), one row of bars per policy. */
export async function perNodeChart(
  rows: readonly { readonly policy: string; readonly node: string; readonly value: number }[],
  file: string,
  title: string,
  valueTitle: string,
): Promise<void> {
  await renderSvg(
    {
      title,
      data: { values: rows },
      mark: 'rect',
      width: 560,
      encoding: {
        x: { field: 'node', type: 'ordinal', title: 'node', axis: rows.length > 400 ? null : {} },
        y: { field: 'policy', type: 'nominal', title: null },
        color: { field: 'value', type: 'quantitative', title: valueTitle },
      },
    },
    file,
  );
}
