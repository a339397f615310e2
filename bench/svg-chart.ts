/**
 * A line chart as plain SVG text: axes with ticks and labels, one polyline (with markers) per
 * series, a legend. Enough for the two charts of docs/performance.md; no dependency.
 */

export interface Series {
  name: string;
  color: string;
  points: ReadonlyArray<readonly [number, number]>;
  /** Dashed line (e.g. p99 beside p50). */
  dashed?: boolean;
  /** Draw a marker at every point (default true). */
  markers?: boolean;
}

export interface LineChart {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** 'log' puts x on a log10 axis (fanout 1 … 30). Default linear. */
  xScale?: 'linear' | 'log';
  xTicks?: number[];
  xMin?: number;
  xMax?: number;
  yMin?: number;
  yMax?: number;
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1).replace(/\.0$/, '') : Number(v.toPrecision(2)).toString());

/** 4–8 round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function lineChart(c: LineChart): string {
  const W = c.width ?? 720;
  const H = c.height ?? 420;
  const m = { left: 70, right: 190, top: c.subtitle ? 62 : 46, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const all = c.series.flatMap((s) => s.points);
  const log = c.xScale === 'log';
  const xMin = c.xMin ?? Math.min(...all.map((p) => p[0]));
  const xMax = c.xMax ?? Math.max(...all.map((p) => p[0]));
  const yMin = c.yMin ?? 0;
  const yMaxRaw = c.yMax ?? Math.max(...all.map((p) => p[1]));
  const yTicks = niceTicks(yMin, yMaxRaw);
  // Close the axis on a tick above the highest point.
  if (yTicks.length >= 2 && yTicks[yTicks.length - 1]! < yMaxRaw) yTicks.push(Number((2 * yTicks[yTicks.length - 1]! - yTicks[yTicks.length - 2]!).toPrecision(12)));
  const yMax = Math.max(yMaxRaw, yTicks[yTicks.length - 1]!);
  const tx = (x: number) => {
    const f = log ? (Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin) || 1) : (x - xMin) / (xMax - xMin || 1);
    return m.left + Math.max(0, Math.min(1, f)) * pw;
  };
  const ty = (y: number) => m.top + ph - ((Math.min(y, yMax) - yMin) / (yMax - yMin || 1)) * ph;
  const xTicks = c.xTicks ?? niceTicks(xMin, xMax);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left}" y="22" font-size="15" font-weight="bold">${esc(c.title)}</text>`);
  if (c.subtitle) out.push(`<text x="${m.left}" y="40" fill="#555">${esc(c.subtitle)}</text>`);
  for (const v of yTicks) {
    const y = ty(v).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${m.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`);
  }
  for (const v of xTicks) {
    const x = tx(v).toFixed(1);
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<line x1="${x}" y1="${m.top + ph}" x2="${x}" y2="${m.top + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 19}" text-anchor="middle">${fmt(v)}</text>`);
  }
  out.push(`<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}" stroke="#333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  c.series.forEach((s, i) => {
    const pts = s.points.filter((p) => (!log || p[0] > 0) && p[0] <= xMax).map((p) => `${tx(p[0]).toFixed(1)},${ty(p[1]).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.join(' ')}"/>`);
    if (s.markers ?? true) for (const p of pts) {
      const [x, y] = p.split(',');
      out.push(`<circle cx="${x}" cy="${y}" r="3.5" fill="${s.color}"/>`);
    }
    const ly = m.top + 10 + i * 20;
    const lx = m.left + pw + 16;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
