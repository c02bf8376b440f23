// A precision-recall plot in SVG: one line per tag, and a dot where the chosen threshold falls.

import { h, s } from './dom.js';
import { pointAt } from './metrics.js';

const W = 480;
const H = 340;
const M = { left: 52, right: 16, top: 14, bottom: 44 };

/** Step line through the points, starting at recall 0 with the first point's precision. */
function path(points, x, y) {
  if (!points.length) return '';
  let d = `M${x(0)},${y(points[0].precision)}`;
  let prevRecall = 0;
  for (const p of points) {
    d += ` L${x(prevRecall)},${y(p.precision)} L${x(p.recall)},${y(p.precision)}`;
    prevRecall = p.recall;
  }
  return d;
}

/**
 * series: [{name, color, points: [{threshold, precision, recall}]}]; threshold: 0..1.
 * Returns a <figure> with the SVG and a legend.
 */
export function prPlot(series, threshold, { title = 'Precision–recall curve' } = {}) {
  const x = (r) => M.left + r * (W - M.left - M.right);
  const y = (p) => H - M.bottom - p * (H - M.top - M.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const grid = ticks.flatMap((t) => [
    s('line', { class: 'grid', x1: x(t), x2: x(t), y1: y(0), y2: y(1) }),
    s('line', { class: 'grid', x1: x(0), x2: x(1), y1: y(t), y2: y(t) }),
    s('text', { class: 'tick', x: x(t), y: y(0) + 16, 'text-anchor': 'middle' }, `${t * 100}%`),
    s('text', { class: 'tick', x: x(0) - 6, y: y(t) + 4, 'text-anchor': 'end' }, `${t * 100}%`),
  ]);
  const lines = series.filter((sr) => sr.points.length).map((sr) => {
    const at = pointAt(sr.points, threshold);
    return s('g', { class: 'series' },
      s('path', { d: path(sr.points, x, y), stroke: sr.color, class: 'pr-line' }),
      at ? s('circle', { cx: x(at.recall), cy: y(at.precision), r: 5, fill: sr.color, class: 'pr-dot' },
        s('title', {}, `${sr.name}: precision ${(at.precision * 100).toFixed(1)}%, recall ${(at.recall * 100).toFixed(1)}% at ${(threshold * 100).toFixed(0)}%`)) : null);
  });
  const desc = series.map((sr) => {
    const at = pointAt(sr.points, threshold);
    return at ? `${sr.name}: precision ${(at.precision * 100).toFixed(0)}%, recall ${(at.recall * 100).toFixed(0)}%` : `${sr.name}: no predictions`;
  }).join('; ');
  const svg = s('svg', { class: 'pr-plot', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title}. At the threshold ${(threshold * 100).toFixed(0)}%: ${desc}.` },
    ...grid,
    s('line', { class: 'axis', x1: x(0), x2: x(1), y1: y(0), y2: y(0) }),
    s('line', { class: 'axis', x1: x(0), x2: x(0), y1: y(0), y2: y(1) }),
    s('text', { class: 'axis-label', x: (x(0) + x(1)) / 2, y: H - 6, 'text-anchor': 'middle' }, 'Recall'),
    s('text', { class: 'axis-label', x: 14, y: (y(0) + y(1)) / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${(y(0) + y(1)) / 2})` }, 'Precision'),
    ...lines);
  return h('figure', { class: 'chart' }, svg,
    h('figcaption', {}, h('ul', { class: 'legend' }, series.map((sr) => h('li', {},
      h('span', { class: 'swatch', style: { background: sr.color }, 'aria-hidden': 'true' }), sr.name,
      sr.ap !== null && sr.ap !== undefined ? h('span', { class: 'muted' }, ` · AP ${(sr.ap * 100).toFixed(1)}%`) : null)))));
}
