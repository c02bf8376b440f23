// Trying a model on an image (QuickTestImage, or the published Prediction API with the
// Prediction-Key) and reviewing stored predictions: add them to the training images, or delete them.

import {
  createImagesFromPredictions, deletePredictions, getIterations, getTags, predictPublished, queryPredictions, quickTest,
} from '../api.js';
import { confirmDialog, date, errorBox, h, loading, mount, notice, pct, s, tagColor, toast } from '../dom.js';
import { session } from '../session.js';

const PAGE = 24;

/** An image with the predicted boxes drawn over it (detection), above `threshold`. */
function predictedImage(url, predictions, threshold, colorOf, alt) {
  const frame = h('div', { class: 'prediction-frame' }, h('img', { src: url, alt }));
  const boxes = predictions.filter((p) => p.boundingBox && p.probability >= threshold);
  if (boxes.length) {
    frame.append(s('svg', { class: 'prediction-boxes', viewBox: '0 0 100 100', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
      boxes.map((p) => s('rect', {
        x: p.boundingBox.left * 100, y: p.boundingBox.top * 100, width: p.boundingBox.width * 100, height: p.boundingBox.height * 100,
        stroke: colorOf(p.tagId), 'vector-effect': 'non-scaling-stroke',
      }))));
    frame.append(...boxes.map((p) => h('span', {
      class: 'prediction-label', style: { left: `${p.boundingBox.left * 100}%`, top: `${p.boundingBox.top * 100}%`, background: colorOf(p.tagId) },
    }, `${p.tagName} ${pct(p.probability, 0)}`)));
  }
  return frame;
}

const LIST_MAX = 20;

function predictionList(predictions, threshold, colorOf, detection) {
  const above = detection ? predictions.filter((p) => p.probability >= threshold) : predictions;
  if (!above.length) return h('p', { class: 'muted' }, detection ? `No object found above ${pct(threshold, 0)}.` : 'No prediction.');
  const shown = above.slice().sort((a, b) => b.probability - a.probability).slice(0, LIST_MAX);
  const list = h('ul', { class: 'prediction-list' }, shown.map((p) => h('li', {},
    h('span', { class: 'prediction-tag' }, h('span', { class: 'swatch', style: { background: colorOf(p.tagId) }, 'aria-hidden': 'true' }), p.tagName),
    h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { style: { width: `${(p.probability * 100).toFixed(1)}%`, background: colorOf(p.tagId) } })),
    h('span', { class: 'prediction-prob' }, pct(p.probability)))));
  return above.length > shown.length
    ? h('div', {}, list, h('p', { class: 'muted small more-predictions' }, `…and ${above.length - shown.length} more with lower probability.`))
    : list;
}

export async function render(ctx) {
  const { pid, detection } = ctx;
  ctx.setCrumbs([{ label: 'Predictions' }]);
  mount(ctx.body, loading());
  const [iterations, tags] = await Promise.all([getIterations(pid), getTags(pid)]);
  if (!ctx.active) return;
  const completed = iterations.filter((it) => it.status === 'Completed').sort((a, b) => b.created.localeCompare(a.created));
  const published = completed.filter((it) => it.publishName);
  const colorOf = (id) => tagColor(Math.max(0, tags.findIndex((t) => t.id === id)));
  let threshold = 0.5;

  // --- quick test --------------------------------------------------------------------------
  const target = h('select', { id: 'test-target' },
    completed.map((it) => h('option', { value: `it:${it.id}` }, `${it.name} (quick test)`)),
    session.predictionKey ? published.map((it) => h('option', { value: `pub:${it.publishName}` }, `Published “${it.publishName}” (Prediction API)`)) : null);
  const store = h('input', { type: 'checkbox', id: 'test-store', checked: true });
  const fileInput = h('input', { type: 'file', id: 'test-file', accept: 'image/*', class: 'sr-only', onchange: () => { if (fileInput.files[0]) run(fileInput.files[0]); fileInput.value = ''; } });
  const result = h('div', { class: 'test-result', 'aria-live': 'polite' });
  const thresholdOut = h('output', { for: 'test-threshold' }, pct(threshold, 0));
  const thresholdInput = h('input', { id: 'test-threshold', type: 'range', min: '0', max: '100', value: '50', oninput: () => {
    threshold = thresholdInput.value / 100;
    thresholdOut.textContent = pct(threshold, 0);
    if (last) showResult(last.url, last.predictions);
    renderStored();
  } });
  let last = null;

  function showResult(url, predictions) {
    mount(result, h('div', { class: 'test-grid' },
      predictedImage(url, predictions, threshold, colorOf, 'The tested image'),
      predictionList(predictions, threshold, colorOf, detection)));
  }

  async function run(file) {
    if (!target.value) return;
    const url = URL.createObjectURL(file);
    if (last) URL.revokeObjectURL(last.url);
    last = null;
    mount(result, loading('Predicting…'));
    try {
      const [kind, value] = [target.value.slice(0, target.value.indexOf(':')), target.value.slice(target.value.indexOf(':') + 1)];
      const answer = kind === 'it'
        ? await quickTest(pid, file, { iterationId: value, store: store.checked })
        : await predictPublished(pid, value, file, detection);
      last = { url, predictions: answer.predictions || [] };
      showResult(url, last.predictions);
      if (store.checked || kind === 'pub') loadStored(true);
    } catch (err) {
      mount(result, errorBox(err));
    }
  }
  ctx.onCleanup(() => { if (last) URL.revokeObjectURL(last.url); });

  const dropzone = h('div', {
    class: 'dropzone', tabindex: '0', role: 'button', 'aria-label': 'Choose an image to test',
    onclick: () => fileInput.click(),
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } },
    ondragover: (e) => { e.preventDefault(); dropzone.classList.add('over'); },
    ondragleave: () => dropzone.classList.remove('over'),
    ondrop: (e) => { e.preventDefault(); dropzone.classList.remove('over'); if (e.dataTransfer.files[0]) run(e.dataTransfer.files[0]); },
  }, h('strong', {}, 'Drop an image here'), h('span', { class: 'muted' }, ' or press to choose one'));

  const quick = completed.length === 0
    ? h('section', { class: 'card' }, h('h2', {}, 'Quick test'), notice('Train an iteration first; then you can test it here.'),
      h('a', { class: 'btn', href: `#/projects/${pid}/train` }, 'Go to training'))
    : h('section', { class: 'card', 'aria-labelledby': 'quick-title' }, h('h2', { id: 'quick-title' }, 'Quick test'),
      h('div', { class: 'inline-form wrap' },
        h('label', { class: 'field-inline', for: 'test-target' }, h('span', {}, 'Model'), target),
        h('label', { class: 'choice', for: 'test-store' }, store, 'Keep the result in stored predictions')),
      !session.predictionKey && published.length ? h('p', { class: 'muted small' }, 'Sign in with your prediction key too to call the published Prediction API here.') : null,
      h('label', { class: 'sr-only', for: 'test-file' }, 'Image to test'), fileInput, dropzone,
      detection ? h('label', { class: 'slider', for: 'test-threshold' }, h('span', {}, 'Show boxes above'), thresholdInput, thresholdOut) : null,
      result);

  // --- stored predictions ------------------------------------------------------------------
  let stored = [];
  let token = null;
  const selected = new Set();
  const storedGrid = h('ul', { class: 'image-grid prediction-grid', 'aria-label': 'Stored predictions' });
  const storedStatus = h('div', { 'aria-live': 'polite' });
  const more = h('button', { class: 'btn', type: 'button', hidden: true, onclick: () => loadStored(false) }, 'Load more');
  const actions = h('div', { class: 'selection-bar', hidden: true, role: 'region', 'aria-label': 'Selected predictions' });

  async function loadStored(reset) {
    try {
      if (reset) { stored = []; token = null; selected.clear(); }
      const answer = await queryPredictions(pid, { ...(token || {}), maxCount: PAGE, orderBy: 'Newest' });
      if (!ctx.active) return;
      stored = stored.concat(answer.results || []);
      token = answer.token && answer.token.continuation ? answer.token : null;
      more.hidden = !token;
      mount(storedStatus, stored.length ? null : h('p', { class: 'muted' }, 'No stored predictions. Quick tests you keep and calls to the published Prediction API appear here.'));
      renderStored();
    } catch (err) {
      if (ctx.active) mount(storedStatus, errorBox(err));
    }
  }

  function renderStored() {
    mount(storedGrid, stored.map((p) => {
      const top = (p.predictions || []).slice().sort((a, b) => b.probability - a.probability);
      const summary = detection
        ? `${top.filter((x) => x.probability >= threshold).length} object(s) above ${pct(threshold, 0)}`
        : top.slice(0, 2).map((x) => `${x.tagName} ${pct(x.probability, 0)}`).join(', ');
      return h('li', { class: selected.has(p.id) ? 'image-card selected' : 'image-card', dataset: { id: p.id } },
        h('input', { type: 'checkbox', class: 'image-check', checked: selected.has(p.id), 'aria-label': `Select prediction of ${date(p.created)} (${summary})`,
          onchange: (e) => { if (e.target.checked) selected.add(p.id); else selected.delete(p.id); renderStored(); } }),
        h('div', { class: 'thumb' }, predictedImage(p.thumbnailUri || p.resizedImageUri, p.predictions || [], threshold, colorOf, `Prediction of ${date(p.created)}`)),
        h('div', { class: 'chips' }, h('span', { class: 'small' }, summary), h('span', { class: 'muted small' }, date(p.created))));
    }));
    renderActions();
  }

  function renderActions() {
    actions.hidden = selected.size === 0;
    if (!selected.size) return;
    const tagChoice = h('select', { id: 'prediction-tag', 'aria-label': 'Tag for the added images' }, tags.map((t) => h('option', { value: t.id }, t.name)));
    const busy = (fn) => async () => {
      actions.querySelectorAll('button').forEach((b) => { b.disabled = true; });
      try { await fn(); } catch (err) { toast(err.message, 'error'); } finally { actions.querySelectorAll('button').forEach((b) => { b.disabled = false; }); }
    };
    mount(actions, h('strong', {}, `${selected.size} selected`),
      h('button', { class: 'btn btn-small btn-quiet', type: 'button', onclick: () => { selected.clear(); renderStored(); } }, 'Clear'),
      detection ? h('span', { class: 'muted small' }, `Adds the image with the boxes above ${pct(threshold, 0)}.`) : tagChoice,
      h('button', { class: 'btn btn-small btn-primary', type: 'button', disabled: !detection && tags.length === 0, onclick: busy(async () => {
        const chosen = stored.filter((p) => selected.has(p.id));
        const images = chosen.map((p) => (detection
          ? { id: p.id, regions: (p.predictions || []).filter((x) => x.boundingBox && x.probability >= threshold).map((x) => ({ tagId: x.tagId, ...x.boundingBox })) }
          : { id: p.id, tagIds: [tagChoice.value] }));
        for (let k = 0; k < images.length; k += 64) {
          const answer = await createImagesFromPredictions(pid, { images: images.slice(k, k + 64) });
          const failed = (answer?.images || []).filter((r) => !['OK', 'OKDuplicate'].includes(r.status));
          if (failed.length) toast(`${failed.length} image(s) not added: ${failed[0].status}${failed[0].message ? ` – ${failed[0].message}` : ''}`, 'error');
        }
        toast(`Added ${images.length} image(s) to the training images.`, 'ok');
        await loadStored(true);
      }) }, 'Add to training images'),
      h('button', { class: 'btn btn-small btn-danger', type: 'button', onclick: busy(async () => {
        const n = selected.size;
        const ok = await confirmDialog({ title: `Delete ${n} prediction${n === 1 ? '' : 's'}?`, message: 'The stored images and their predictions are deleted.', confirmLabel: 'Delete' });
        if (!ok) return;
        await deletePredictions(pid, [...selected]);
        toast(`Deleted ${n} prediction(s).`, 'ok');
        await loadStored(true);
      }) }, 'Delete'));
  }

  mount(ctx.body, h('div', { class: 'stack' }, quick,
    h('section', { class: 'card', 'aria-labelledby': 'stored-title' },
      h('div', { class: 'page-head' }, h('h2', { id: 'stored-title' }, 'Stored predictions'),
        h('button', { class: 'btn btn-small', type: 'button', onclick: () => loadStored(true) }, 'Refresh')),
      actions, storedStatus, storedGrid, more)));
  await loadStored(true);
}
