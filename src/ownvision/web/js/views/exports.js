// Exporting an iteration (ExportIteration / GetExports) and downloading the files.

import { exportIteration, getExports } from '../api.js';
import { errorBox, h, mount, notice } from '../dom.js';

const FLAVORS = {
  ONNX: ['ONNX10', 'ONNX12'],
  TensorFlow: ['TensorFlowNormal', 'TensorFlowLite'],
  DockerFile: ['Linux', 'Windows', 'ARM'],
};

/** The export section of a completed iteration. Polls while an export is running. */
export function exportSection(ctx, iteration) {
  const section = h('section', { class: 'card export-section', 'aria-labelledby': 'export-title' },
    h('h2', { id: 'export-title' }, 'Export'));
  if (!iteration.exportable || !(iteration.exportableTo || []).length) {
    section.append(h('p', { class: 'muted' }, 'This iteration cannot be exported: only iterations trained on a compact domain can. '
      + 'Change the project to a compact domain in Settings and train again.'));
    return section;
  }
  const platform = h('select', { id: 'export-platform', onchange: fillFlavors },
    iteration.exportableTo.map((p) => h('option', { value: p }, p)));
  if (iteration.exportableTo.includes('ONNX')) platform.value = 'ONNX';
  const flavor = h('select', { id: 'export-flavor' });
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  const button = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Export');
  let timer = null;

  function fillFlavors() {
    const options = FLAVORS[platform.value] || [];
    flavor.replaceChildren(h('option', { value: '' }, 'Default'), ...options.map((f) => h('option', { value: f }, f)));
    flavor.disabled = options.length === 0;
  }
  fillFlavors();

  async function refresh() {
    clearTimeout(timer);
    try {
      const exports = await getExports(ctx.pid, iteration.id);
      if (!ctx.active) return;
      mount(list, exports.length === 0 ? h('p', { class: 'muted' }, 'No exports yet.')
        : h('table', { class: 'table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Platform'), h('th', { scope: 'col' }, 'Flavor'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'File'))),
          h('tbody', {}, exports.map((e) => h('tr', {},
            h('td', {}, e.platform), h('td', {}, e.flavor || '–'),
            h('td', {}, h('span', { class: `badge status-${String(e.status).toLowerCase()}` }, e.status)),
            h('td', {}, e.status === 'Done' && e.downloadUri
              ? h('a', { href: e.downloadUri, download: '', class: 'btn btn-small' }, 'Download')
              : (e.status === 'Failed' ? h('span', { class: 'muted' }, 'Failed') : h('span', { class: 'muted' }, 'Preparing…'))))))));
      if (exports.some((e) => e.status === 'Exporting')) timer = setTimeout(refresh, 2000);
    } catch (err) {
      if (!ctx.active) return;
      if (err.unavailable) {
        mount(section, h('h2', { id: 'export-title' }, 'Export'), notice('Exporting models is not available on this server yet.', 'warn'));
      } else {
        mount(list, errorBox(err));
      }
    }
  }
  ctx.onCleanup(() => clearTimeout(timer));

  section.append(
    h('form', { class: 'inline-form wrap', onsubmit: async (e) => {
      e.preventDefault();
      button.disabled = true;
      mount(status);
      try {
        await exportIteration(ctx.pid, iteration.id, platform.value, flavor.value || undefined);
        await refresh();
      } catch (err) {
        mount(status, err.unavailable ? notice('Exporting models is not available on this server yet.', 'warn') : errorBox(err));
      } finally {
        button.disabled = false;
      }
    } },
    h('label', { class: 'field-inline', for: 'export-platform' }, h('span', {}, 'Platform'), platform),
    h('label', { class: 'field-inline', for: 'export-flavor' }, h('span', {}, 'Flavor'), flavor),
    button),
    status, list);
  refresh();
  return section;
}
