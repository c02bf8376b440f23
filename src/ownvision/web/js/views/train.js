// Training and evaluation: start a training, watch it live, and read an iteration's figures,
// precision-recall curves and mistakes; publish, unpublish, export or delete it.

import {
  deleteIteration, getAllImagePerformances, getIteration, getIterations, getPerformance, getTags, PREDICTION, publish,
  renameIteration, train, unpublish,
} from '../api.js';
import { prPlot } from '../charts.js';
import { confirmDialog, date, debounce, errorBox, h, loading, mount, notice, openDialog, pct, tagColor, toast } from '../dom.js';
import { mistakes, prCurves } from '../metrics.js';
import { exportSection } from './exports.js';
import { thumbnail } from './images.js';

const POLL_MS = 1000;

function statusBadge(status) {
  return h('span', { class: `badge status-${String(status).toLowerCase()}` }, status);
}

export async function render(ctx) {
  const { pid } = ctx;
  ctx.setCrumbs([{ label: 'Train & evaluate' }]);
  mount(ctx.body, loading('Loading iterations…'));
  let iterations = await getIterations(pid);
  if (!ctx.active) return;
  iterations.sort((a, b) => b.created.localeCompare(a.created));
  if (!ctx.sub && iterations.length) {
    ctx.navigate(`/projects/${pid}/train/${iterations[0].id}`, {}, { replace: true });
    return;
  }
  const listEl = h('ul', { class: 'iteration-list', 'aria-label': 'Iterations' });
  const detail = h('section', { class: 'iteration-detail', 'aria-live': 'polite' });
  const trainButton = h('button', { class: 'btn btn-primary', type: 'button', onclick: () => trainDialog(ctx) }, 'Train');
  mount(ctx.body, h('div', { class: 'train-layout' },
    h('aside', { class: 'iterations' }, trainButton, listEl), detail));

  function renderList() {
    mount(listEl, iterations.map((it) => h('li', {},
      h('a', { href: `#/projects/${pid}/train/${it.id}`, class: it.id === ctx.sub ? 'iteration-link active' : 'iteration-link', 'aria-current': it.id === ctx.sub ? 'page' : null },
        h('span', { class: 'iteration-name' }, it.name), statusBadge(it.status),
        h('span', { class: 'muted small' }, date(it.created)),
        it.publishName ? h('span', { class: 'small published' }, `Published as ${it.publishName}`) : null))));
  }
  renderList();

  if (!ctx.sub) {
    mount(detail, h('div', { class: 'empty card' }, h('h2', {}, 'Not trained yet'),
      h('p', {}, ctx.detection
        ? 'Train when every tag has boxes on at least a few images (15 or more per tag gives useful results).'
        : 'Train when every tag has at least a few images (5 or more per tag; more gives better models).'),
      h('button', { class: 'btn btn-primary', type: 'button', onclick: () => trainDialog(ctx) }, 'Train the first iteration')));
    return;
  }

  let iteration = iterations.find((it) => it.id === ctx.sub) || await getIteration(pid, ctx.sub);
  let timer = null;
  ctx.onCleanup(() => clearTimeout(timer));

  async function poll() {
    try {
      iteration = await getIteration(pid, iteration.id);
      if (!ctx.active) return;
      iterations = iterations.map((it) => (it.id === iteration.id ? iteration : it));
      if (iteration.status === 'Training') {
        renderProgress();
        timer = setTimeout(poll, POLL_MS);
      } else {
        renderList();
        renderDetail();
      }
    } catch (err) {
      if (!ctx.active) return;
      mount(progressBox, errorBox(err, 'Could not read the training status'));
      timer = setTimeout(poll, POLL_MS * 3);
    }
  }

  const progressBox = h('div', { class: 'progress-box' });
  function renderProgress() {
    const fraction = Math.max(0, Math.min(1, iteration.progress || 0));
    mount(progressBox,
      h('progress', { max: '1', value: String(fraction), 'aria-label': 'Training progress' }),
      h('p', {}, h('strong', { class: 'progress-pct' }, pct(fraction, 0)), ' · ',
        h('span', { class: 'progress-message' }, iteration.progressMessage || 'Waiting for a worker…')));
  }

  function header() {
    return h('div', { class: 'iteration-head' },
      h('h2', {}, iteration.name, ' ', statusBadge(iteration.status)),
      h('p', { class: 'muted' },
        `${iteration.trainingType === 'Advanced' ? `Advanced training (${iteration.reservedBudgetInHours} h budget)` : 'Quick training'}`,
        iteration.trainedAt ? ` · trained ${date(iteration.trainedAt)} in ${iteration.trainingTimeInMinutes} min` : ` · started ${date(iteration.created)}`),
      h('div', { class: 'button-row' },
        h('button', { class: 'btn btn-small', type: 'button', onclick: rename }, 'Rename'),
        h('button', { class: 'btn btn-small btn-danger-quiet', type: 'button', onclick: remove }, 'Delete iteration')));
  }

  async function rename() {
    const name = await openDialog('Rename iteration', (close) => {
      const input = h('input', { id: 'iteration-name', value: iteration.name, maxlength: '256', autofocus: true });
      return h('form', { onsubmit: (e) => { e.preventDefault(); close(input.value.trim()); } },
        h('label', { class: 'field', for: 'iteration-name' }, h('span', {}, 'Name'), input),
        h('div', { class: 'dialog-actions' }, h('button', { class: 'btn', type: 'button', onclick: () => close(null) }, 'Cancel'),
          h('button', { class: 'btn btn-primary', type: 'submit' }, 'Rename')));
    });
    if (!name || name === iteration.name) return;
    try {
      iteration = await renameIteration(pid, iteration.id, name);
      iterations = iterations.map((it) => (it.id === iteration.id ? iteration : it));
      renderList();
      renderDetail();
    } catch (err) { toast(err.message, 'error'); }
  }

  async function remove() {
    const ok = await confirmDialog({ title: 'Delete iteration?', message: `“${iteration.name}”, its model, figures and exports will be deleted.`, confirmLabel: 'Delete iteration' });
    if (!ok) return;
    try {
      await deleteIteration(pid, iteration.id);
      toast(`${iteration.name} deleted.`, 'ok');
      ctx.navigate(`/projects/${pid}/train`);
    } catch (err) { toast(err.message, 'error'); }
  }

  function renderDetail() {
    clearTimeout(timer);
    if (iteration.status === 'Training') {
      renderProgress();
      mount(detail, header(), h('section', { class: 'card' }, h('h2', {}, 'Training'), progressBox,
        h('p', { class: 'muted small' }, 'You can leave this page; training goes on in the server.')));
      timer = setTimeout(poll, POLL_MS);
      return;
    }
    if (iteration.status === 'Failed') {
      mount(detail, header(), h('section', { class: 'card' },
        h('div', { class: 'alert alert-error', role: 'alert' }, h('strong', {}, 'Training failed. '),
          iteration.trainingErrorDetails || 'The server gave no reason.'),
        h('button', { class: 'btn', type: 'button', onclick: () => trainDialog(ctx) }, 'Train again')));
      return;
    }
    if (iteration.status !== 'Completed') {
      mount(detail, header(), notice(`This iteration is ${iteration.status}.`));
      return;
    }
    const perf = h('div', {}, loading('Measuring…'));
    mount(detail, header(), publishSection(), perf, exportSection(ctx, iteration));
    performance(ctx, iteration, perf);
  }

  function publishSection() {
    const section = h('section', { class: 'card', 'aria-labelledby': 'publish-title' }, h('h2', { id: 'publish-title' }, 'Publish'));
    const status = h('div', { 'aria-live': 'polite' });
    if (iteration.publishName) {
      const url = `${location.origin}${PREDICTION}/${pid}/${ctx.detection ? 'detect' : 'classify'}/iterations/${encodeURIComponent(iteration.publishName)}/image`;
      section.append(
        h('p', {}, 'Published as ', h('code', { class: 'publish-name' }, iteration.publishName), '. Send images with your Prediction-Key to:'),
        h('pre', { class: 'code' }, url),
        h('div', { class: 'button-row' },
          h('a', { class: 'btn btn-small', href: `#/projects/${pid}/predictions` }, 'Test it'),
          h('button', { class: 'btn btn-small btn-danger-quiet', type: 'button', onclick: async () => {
            const ok = await confirmDialog({ title: 'Unpublish?', message: `Apps calling “${iteration.publishName}” will get errors until you publish again.`, confirmLabel: 'Unpublish' });
            if (!ok) return;
            try {
              await unpublish(pid, iteration.id);
              iteration = await getIteration(pid, iteration.id);
              iterations = iterations.map((it) => (it.id === iteration.id ? iteration : it));
              renderList();
              renderDetail();
            } catch (err) { mount(status, errorBox(err)); }
          } }, 'Unpublish')),
        status);
      return section;
    }
    const suggested = iteration.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'model';
    const name = h('input', { id: 'publish-name', value: suggested, maxlength: '256', autocomplete: 'off' });
    const button = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Publish');
    section.append(
      h('p', { class: 'muted' }, 'Publishing makes this iteration answer the Prediction API under a name.'),
      h('form', { class: 'inline-form', onsubmit: async (e) => {
        e.preventDefault();
        if (!name.value.trim()) { name.focus(); return; }
        button.disabled = true;
        try {
          await publish(pid, iteration.id, name.value.trim());
          toast(`Published as “${name.value.trim()}”.`, 'ok');
          iteration = await getIteration(pid, iteration.id);
          iterations = iterations.map((it) => (it.id === iteration.id ? iteration : it));
          renderList();
          renderDetail();
        } catch (err) {
          mount(status, errorBox(err));
          button.disabled = false;
        }
      } }, h('label', { class: 'field-inline', for: 'publish-name' }, h('span', {}, 'Name'), name), button),
      status);
    return section;
  }

  renderDetail();
}

/** The figures, the threshold slider, per-tag table, PR plot and mistakes of a completed iteration. */
async function performance(ctx, iteration, box) {
  const { pid, detection } = ctx;
  let threshold = 0.5;
  let overlap = 0.5;
  let figures;
  let images;
  let tags;
  try {
    [figures, images, tags] = await Promise.all([
      getPerformance(pid, iteration.id, threshold, detection ? overlap : undefined),
      getAllImagePerformances(pid, iteration.id),
      getTags(pid, iteration.id),
    ]);
  } catch (err) {
    if (ctx.active) mount(box, errorBox(err, 'Could not load the performance'));
    return;
  }
  if (!ctx.active) return;
  const usedTags = tags.filter((t) => (figures.perTagPerformance || []).some((p) => p.id === t.id));
  const tagIndex = new Map(tags.map((t, i) => [t.id, i]));
  const nameOf = (id) => tags.find((t) => t.id === id)?.name || 'Unknown';

  const figuresEl = h('div', { class: 'figures' });
  const tableEl = h('div', { class: 'table-wrap' });
  const chartEl = h('div');
  const wrongEl = h('div');
  const thresholdOut = h('output', { for: 'threshold', id: 'threshold-value' }, pct(threshold, 0));
  const overlapOut = h('output', { for: 'overlap' }, pct(overlap, 0));
  const slider = h('input', { id: 'threshold', type: 'range', min: '0', max: '100', step: '1', value: '50',
    'aria-describedby': 'threshold-help', oninput: () => { threshold = slider.value / 100; thresholdOut.textContent = pct(threshold, 0); local(); refetch(); } });
  const overlapSlider = detection ? h('input', { id: 'overlap', type: 'range', min: '10', max: '90', step: '5', value: '50',
    oninput: () => { overlap = overlapSlider.value / 100; overlapOut.textContent = pct(overlap, 0); curves = compute(); local(); refetch(); } }) : null;

  let curves = compute();
  function compute() {
    return prCurves(images, usedTags, { detection, overlap });
  }

  function renderFigures() {
    const apLabel = detection ? 'mAP' : 'AP';
    mount(figuresEl,
      [['Precision', figures.precision, 'Of the tags the model predicted, how many were right.'],
        ['Recall', figures.recall, 'Of the tags that were there, how many the model found.'],
        [apLabel, figures.averagePrecision, 'Area under the precision-recall curve, averaged over tags (does not depend on the threshold).']]
        .map(([label, value, help]) => h('div', { class: 'figure', title: help },
          h('span', { class: 'figure-value', dataset: { figure: label.toLowerCase() } }, pct(value)), h('span', { class: 'figure-label' }, label))));
    mount(tableEl, h('table', { class: 'table perf-table' },
      h('caption', { class: 'sr-only' }, 'Performance per tag'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Tag'), h('th', { scope: 'col' }, 'Precision'), h('th', { scope: 'col' }, 'Recall'),
        h('th', { scope: 'col' }, 'AP'), h('th', { scope: 'col' }, detection ? 'Test boxes' : 'Test images'))),
      h('tbody', {}, (figures.perTagPerformance || []).map((t) => {
        const c = curves.find((x) => x.tag.id === t.id);
        return h('tr', {},
          h('th', { scope: 'row' }, h('span', { class: 'swatch', style: { background: tagColor(tagIndex.get(t.id) ?? 0) }, 'aria-hidden': 'true' }), t.name),
          h('td', {}, pct(t.precision)), h('td', {}, pct(t.recall)), h('td', {}, pct(t.averagePrecision)),
          h('td', {}, c ? String(c.positives) : '–'));
      }))));
  }

  function local() {
    mount(chartEl, prPlot(curves.map((c) => ({
      name: c.tag.name, color: tagColor(tagIndex.get(c.tag.id) ?? 0), points: c.points, ap: c.ap,
    })), threshold));
    const wrong = mistakes(images, { threshold, detection, overlap });
    mount(wrongEl,
      h('h3', { class: 'subhead' }, wrong.length ? `Mistakes at ${pct(threshold, 0)}: ${wrong.length} of ${images.length} test images` : `No mistakes at ${pct(threshold, 0)} on ${images.length} test images`),
      wrong.length && detection ? h('p', { class: 'muted small' }, 'Solid boxes are the true objects, dashed boxes what the model found.') : null,
      wrong.length ? h('ul', { class: 'mistake-grid' }, wrong.slice(0, 60).map(({ image, missed, extra }) => h('li', { class: 'mistake' },
        thumbnail(image, tagIndex, {
          alt: `Test image with ${(image.tags || []).map((t) => t.tagName).join(', ') || 'boxes'}`,
          predicted: detection ? (image.predictions || []).filter((p) => p.probability >= threshold) : [],
        }),
        h('p', { class: 'small' },
          missed.length ? h('span', { class: 'missed' }, `Missed: ${[...new Set(missed)].map(nameOf).join(', ')}`) : null,
          missed.length && extra.length ? h('br') : null,
          extra.length ? h('span', { class: 'extra' }, `Predicted: ${extra.map((x) => `${nameOf(x.tagId)} ${pct(x.probability, 0)}`).join(', ')}`) : null)))) : null,
      wrong.length > 60 ? h('p', { class: 'muted small' }, `…and ${wrong.length - 60} more.`) : null);
  }

  let request = 0;
  const refetch = debounce(async () => {
    const mine = ++request;
    try {
      const next = await getPerformance(pid, iteration.id, threshold, detection ? overlap : undefined);
      if (!ctx.active || mine !== request) return;
      figures = next;
      renderFigures();
    } catch (err) {
      if (ctx.active) toast(err.message, 'error');
    }
  }, 200);

  mount(box, h('section', { class: 'card', 'aria-labelledby': 'perf-title' },
    h('h2', { id: 'perf-title' }, 'Performance'),
    h('p', { class: 'muted small', id: 'threshold-help' }, `Measured on ${images.length} images the model did not train on. `
      + 'A prediction counts when its probability is at least the threshold.'),
    h('div', { class: 'sliders' },
      h('label', { class: 'slider', for: 'threshold' }, h('span', {}, 'Probability threshold'), slider, thresholdOut),
      detection ? h('label', { class: 'slider', for: 'overlap' }, h('span', {}, 'Overlap threshold'), overlapSlider, overlapOut) : null),
    figuresEl,
    h('div', { class: 'perf-grid' }, tableEl, chartEl),
    wrongEl));
  renderFigures();
  local();
}

function trainDialog(ctx) {
  openDialog('Train a new iteration', (close) => {
    const quick = h('input', { type: 'radio', name: 'training-type', value: 'Regular', checked: true, onchange: sync });
    const advanced = h('input', { type: 'radio', name: 'training-type', value: 'Advanced', onchange: sync });
    const budget = h('input', { id: 'budget', type: 'number', min: '1', max: '96', step: '1', value: '1', disabled: true });
    const force = h('input', { type: 'checkbox', id: 'force-train' });
    const status = h('div', { 'aria-live': 'polite' });
    const submit = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Start training');
    function sync() { budget.disabled = !advanced.checked; }
    return h('form', { onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      mount(status, h('span', { class: 'muted' }, 'Starting…'));
      try {
        const it = await train(ctx.pid, {
          trainingType: advanced.checked ? 'Advanced' : 'Regular',
          reservedBudgetInHours: advanced.checked ? Math.max(1, parseInt(budget.value, 10) || 1) : undefined,
          forceTrain: force.checked || undefined,
        });
        close(true);
        ctx.navigate(`/projects/${ctx.pid}/train/${it.id}`);
      } catch (err) {
        mount(status, errorBox(err));
        submit.disabled = false;
      }
    } },
    h('fieldset', { class: 'field' }, h('legend', {}, 'Training type'),
      h('label', { class: 'choice' }, quick, h('span', {}, h('strong', {}, 'Quick'), ' – a few minutes; good for trying things out.')),
      h('label', { class: 'choice' }, advanced, h('span', {}, h('strong', {}, 'Advanced'), ' – searches longer for a better model, within a budget.'))),
    h('label', { class: 'field', for: 'budget' }, h('span', {}, 'Budget (hours, Advanced only)'), budget),
    h('label', { class: 'choice', for: 'force-train' }, force, 'Train even if nothing changed since the last iteration'),
    status,
    h('div', { class: 'dialog-actions' }, h('button', { class: 'btn', type: 'button', onclick: () => close(false) }, 'Cancel'), submit));
  });
}
