// The account: who you are, quotas and usage, download all your data, delete the account.
// These operations are an ownvision extension; an older server answers 404 and we say so.

import { deleteAccount, exportAccount, getAccount } from '../api.js';
import { bytes, confirmDialog, date, errorBox, h, loading, mount, notice, saveBlob, toast } from '../dom.js';
import { session } from '../session.js';

const LABELS = {
  id: 'Account id', name: 'Name', created: 'Created', trainingKeyFingerprint: 'Training key', predictionKeyFingerprint: 'Prediction key',
};

function humanize(key) {
  return LABELS[key] || key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());
}

function valueText(key, value) {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number' && /bytes$/i.test(key)) return bytes(value);
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)) return date(value);
  return String(value);
}

/** A definition list of any JSON object (nested objects become nested lists). */
function describe(obj) {
  return h('dl', { class: 'facts' }, Object.entries(obj).flatMap(([k, v]) => [
    h('dt', {}, humanize(k)),
    h('dd', {}, v && typeof v === 'object' && !Array.isArray(v) ? describe(v)
      : Array.isArray(v) ? v.map((x) => (x && typeof x === 'object' ? describe(x) : valueText(k, x))) : valueText(k, v)),
  ]));
}

const quotaTotal = (q) => (q && typeof q === 'object' && !Array.isArray(q) ? (q.total ?? q.limit ?? null) : null);

/** Usage of the whole account against its quotas: {usage: {images: n, …}, quotas: {projects: {total, used}, …}}. */
function usageTable(usage, quotas) {
  const rows = Object.entries(usage || {}).filter(([, v]) => typeof v === 'number');
  if (!rows.length) return null;
  return h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'What'), h('th', { scope: 'col' }, 'Used'), h('th', { scope: 'col' }, 'Limit'))),
    h('tbody', {}, rows.map(([k, used]) => {
      const limit = quotaTotal(quotas?.[k]);
      return h('tr', {}, h('th', { scope: 'row' }, humanize(k)), h('td', {}, valueText(k, used)),
        h('td', {}, limit === null ? h('span', { class: 'muted' }, 'no limit') : valueText(k, limit),
          limit ? h('meter', { min: '0', max: String(limit), value: String(used), high: String(limit * 0.8), optimum: '0', class: 'usage-meter', 'aria-label': `${humanize(k)}: ${used} of ${limit}` }) : null));
    })));
}

/** One row per project: {name, images: {used,total}|n, tags, iterations, regions, …, bytes}. */
function perProjectTable(projects) {
  if (!Array.isArray(projects) || !projects.length) return null;
  const cell = (k, v) => {
    if (v && typeof v === 'object') return v.total ? `${v.used} of ${v.total}` : String(v.used ?? '–');
    return valueText(k, v);
  };
  const columns = ['images', 'tags', 'regions', 'iterations', 'exports', 'storedPredictions', 'bytes'].filter((k) => projects.some((p) => k in p));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Project'), columns.map((k) => h('th', { scope: 'col' }, humanize(k))))),
    h('tbody', {}, projects.map((p) => h('tr', {},
      h('th', { scope: 'row' }, p.projectId ? h('a', { href: `#/projects/${p.projectId}/images` }, p.name || p.projectId) : (p.name || '–')),
      columns.map((k) => h('td', {}, cell(k, p[k]))))))));
}

export async function render(ctx) {
  ctx.setCrumbs([{ label: 'Projects', href: '#/projects' }, { label: 'Account' }]);
  mount(ctx.main, loading('Loading your account…'));
  let account = null;
  let problem = null;
  try {
    account = await getAccount();
  } catch (err) {
    problem = err;
  }
  if (!ctx.active) return;
  const page = h('section', { class: 'page stack narrow' }, h('h1', { tabindex: '-1' }, 'Account'));
  mount(ctx.main, page);
  if (problem) {
    page.append(problem.unavailable
      ? notice('Account details, data export and account deletion are not available on this server yet.', 'warn')
      : errorBox(problem));
    return;
  }
  const { quotas, usage, ...rest } = account || {};
  const { perProject, ...quotaRest } = quotas || {};
  const quotaFacts = Object.fromEntries(Object.entries(quotaRest).filter(([k, v]) => typeof v !== 'object' || v === null || !(usage && k in usage)));
  page.append(
    h('section', { class: 'card', 'aria-labelledby': 'who' }, h('h2', { id: 'who' }, 'Details'), describe(rest)),
    (quotas || usage) ? h('section', { class: 'card', 'aria-labelledby': 'usage-title' }, h('h2', { id: 'usage-title' }, 'Usage and quotas'),
      Object.keys(quotaFacts).length ? describe(quotaFacts) : null,
      usageTable(usage, quotas),
      perProject?.length ? h('h3', { class: 'subhead' }, 'Per project') : null,
      perProjectTable(perProject)) : null,
    exportCard(ctx),
    deleteCard(ctx, account));
}

function exportCard(ctx) {
  const status = h('div', { 'aria-live': 'polite' });
  const progress = h('progress', { max: '1', hidden: true, 'aria-label': 'Download progress' });
  const button = h('button', { class: 'btn btn-primary', type: 'button' }, 'Download all my data');
  const controller = new AbortController();
  ctx.onCleanup(() => controller.abort());
  button.addEventListener('click', async () => {
    button.disabled = true;
    progress.hidden = false;
    progress.removeAttribute('value');
    mount(status, h('span', { class: 'muted' }, 'Preparing the archive… (this can take a while for many images)'));
    try {
      const response = await exportAccount(controller.signal);
      const total = Number(response.headers.get('content-length')) || 0;
      const reader = response.body.getReader();
      const parts = [];
      let received = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        received += value.length;
        if (total) progress.value = received / total;
        mount(status, h('span', { class: 'muted' }, `Downloaded ${bytes(received)}${total ? ` of ${bytes(total)}` : ''}`));
      }
      const disposition = response.headers.get('content-disposition') || '';
      const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || 'ownvision-data.zip';
      saveBlob(new Blob(parts, { type: 'application/zip' }), name);
      mount(status, notice(`Saved ${name} (${bytes(received)}).`, 'ok'));
    } catch (err) {
      if (err.name === 'AbortError') return;
      mount(status, err.unavailable ? notice('Data export is not available on this server yet.', 'warn') : errorBox(err));
    } finally {
      button.disabled = false;
      progress.hidden = true;
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'export-data' }, h('h2', { id: 'export-data' }, 'Your data'),
    h('p', {}, 'A zip archive of all your projects: images, tags, boxes, iterations and their models.'),
    h('div', { class: 'button-row' }, button, progress), status);
}

function deleteCard(ctx, account) {
  const status = h('div', { 'aria-live': 'polite' });
  const id = account?.id || account?.accountId;
  const button = h('button', { class: 'btn btn-danger', type: 'button', disabled: !id, onclick: async () => {
    const ok = await confirmDialog({
      title: 'Delete your account?',
      message: 'Every project, image, model and stored prediction of this account is deleted, and its keys stop working. This cannot be undone.',
      confirmLabel: 'Delete my account', typed: id,
    });
    if (!ok) return;
    button.disabled = true;
    try {
      await deleteAccount(id);
      session.signOut();
      toast('Your account was deleted.', 'ok');
      ctx.navigate('/signin');
    } catch (err) {
      mount(status, err.unavailable ? notice('Deleting accounts is not available on this server yet.', 'warn') : errorBox(err));
      button.disabled = false;
    }
  } }, 'Delete account…');
  return h('section', { class: 'card danger-zone', 'aria-labelledby': 'delete-account' }, h('h2', { id: 'delete-account' }, 'Delete account'),
    h('p', {}, 'You will be asked to type the account id to confirm.'), button, status);
}
