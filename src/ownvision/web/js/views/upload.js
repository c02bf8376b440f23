// Uploading many images: drag and drop or a file picker, batches of up to 64 files per
// CreateImagesFromData request, overall progress, and each file's status from the response.

import { createTag, uploadForm } from '../api.js';
import { bytes, h, mount, toast } from '../dom.js';
import { newTagForm } from './common.js';

const MAX_FILES_PER_BATCH = 64;
const MAX_BYTES_PER_BATCH = 32 * 1024 * 1024;
const PARALLEL_BATCHES = 2;

const STATUS_TEXT = {
  OK: 'Added',
  OKDuplicate: 'Already in the project',
  ErrorSource: 'Could not read the image',
  ErrorImageFormat: 'Not a supported image (JPEG, PNG, GIF, BMP, WebP)',
  ErrorImageSize: 'The file is too large',
  ErrorImageDimensions: 'The image is too small or too large',
  ErrorStorage: 'The server could not store it',
  ErrorLimitExceed: 'The project has reached its image limit',
  ErrorTagLimitExceed: 'Too many tags on this image',
  ErrorRegionLimitExceed: 'Too many regions on this image',
  ErrorUnknown: 'Failed',
  ErrorNegativeAndRegularTagOnSameImage: 'A negative tag cannot be combined with other tags',
  ErrorInvalidTag: 'A tag does not exist',
};

export function describeStatus(status, message) {
  const text = STATUS_TEXT[status] || status;
  return message && message !== text ? `${text}: ${message}` : text;
}

function batches(entries) {
  const out = [];
  let current = [];
  let size = 0;
  for (const entry of entries) {
    if (current.length && (current.length >= MAX_FILES_PER_BATCH || size + entry.file.size > MAX_BYTES_PER_BATCH)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(entry);
    size += entry.file.size;
  }
  if (current.length) out.push(current);
  return out;
}

/**
 * The upload panel. `getTags()` returns the project's current tags; `onUploaded()` is called after
 * every finished upload run; `onTagCreated(tag)` when the user adds a tag here.
 */
export function uploader({ pid, detection, getTags, onUploaded, onTagCreated }) {
  let entries = [];
  let running = false;
  const chosenTags = new Set();

  const input = h('input', {
    id: 'upload-input', type: 'file', multiple: true, accept: 'image/*,.jpg,.jpeg,.png,.gif,.bmp,.webp',
    class: 'sr-only', onchange: () => { add([...input.files]); input.value = ''; },
  });
  const dropzone = h('div', {
    class: 'dropzone', tabindex: '0', role: 'button', 'aria-describedby': 'dropzone-hint',
    onclick: () => input.click(),
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } },
  },
  h('strong', {}, 'Drop images here'),
  h('span', { id: 'dropzone-hint', class: 'muted' }, ' or press to choose files (JPEG, PNG, GIF, BMP; up to 6 MB each)'));
  const tagBox = h('div', { class: 'upload-tags' });
  const list = h('ul', { class: 'upload-list', 'aria-label': 'Files to upload' });
  const progress = h('progress', { max: '1', value: '0', 'aria-label': 'Upload progress' });
  const summary = h('p', { class: 'upload-summary', 'aria-live': 'polite' });
  const startButton = h('button', { class: 'btn btn-primary', type: 'button', onclick: start }, 'Upload');
  const clearButton = h('button', { class: 'btn', type: 'button', onclick: clear }, 'Clear list');
  const retryButton = h('button', { class: 'btn', type: 'button', hidden: true, onclick: retry }, 'Retry failed');
  const progressRow = h('div', { class: 'upload-progress', hidden: true }, progress, summary);

  const element = h('section', { class: 'upload-panel card', 'aria-label': 'Upload images' },
    h('h2', {}, 'Add images'),
    h('label', { class: 'sr-only', for: 'upload-input' }, 'Choose images to upload'), input,
    dropzone, tagBox, list, progressRow,
    h('div', { class: 'form-actions' }, startButton, retryButton, clearButton));

  function renderTags() {
    if (detection) {
      mount(tagBox, h('p', { class: 'hint' }, 'After uploading, open an image to draw boxes around its objects.'));
      return;
    }
    const tags = getTags();
    mount(tagBox,
      h('fieldset', { class: 'tag-choices' },
        h('legend', {}, 'Tag these images with'),
        tags.length === 0 ? h('span', { class: 'muted' }, 'No tags yet. ') : null,
        tags.map((t) => h('label', { class: 'chip-check' },
          h('input', { type: 'checkbox', value: t.id, checked: chosenTags.has(t.id),
            onchange: (e) => { if (e.target.checked) chosenTags.add(t.id); else chosenTags.delete(t.id); } }),
          t.name))),
      newTagForm(async (name) => {
        try {
          const tag = await createTag(pid, name);
          chosenTags.add(tag.id);
          onTagCreated(tag);
          renderTags();
        } catch (err) { toast(err.message, 'error'); }
      }, { id: 'upload-new-tag' }));
  }

  function row(entry) {
    const status = h('span', { class: `upload-status status-${entry.state}` }, entry.text);
    const li = h('li', { class: 'upload-item' }, h('span', { class: 'upload-name' }, entry.file.name),
      h('span', { class: 'muted small' }, bytes(entry.file.size)), status);
    entry.update = () => {
      status.className = `upload-status status-${entry.state}`;
      status.textContent = entry.text;
    };
    return li;
  }

  function set(entry, state, text) {
    entry.state = state;
    entry.text = text;
    if (entry.update) entry.update();
  }

  function refresh() {
    const queued = entries.filter((e) => e.state === 'queued').length;
    startButton.textContent = queued ? `Upload ${queued} image${queued === 1 ? '' : 's'}` : 'Upload';
    startButton.disabled = running || queued === 0;
    clearButton.disabled = running || entries.length === 0;
    retryButton.hidden = running || !entries.some((e) => e.state === 'error' && e.retryable);
  }

  function add(files) {
    if (running) { toast('Wait for the current upload to finish.', 'error'); return; }
    const fresh = files.map((file) => ({ file, state: 'queued', text: 'Ready' }));
    for (const entry of fresh) {
      // The server drops empty multipart parts, which would shift the per-file answers.
      if (entry.file.size === 0) set(entry, 'error', 'The file is empty');
    }
    entries = entries.concat(fresh);
    list.append(...fresh.map(row));
    progressRow.hidden = true;
    refresh();
  }

  function clear() {
    entries = [];
    list.replaceChildren();
    progressRow.hidden = true;
    refresh();
  }

  function retry() {
    for (const e of entries) if (e.state === 'error' && e.retryable) set(e, 'queued', 'Ready');
    refresh();
    start();
  }

  async function start() {
    const todo = entries.filter((e) => e.state === 'queued');
    if (!todo.length || running) return;
    running = true;
    refresh();
    progressRow.hidden = false;
    const tagIds = detection ? [] : [...chosenTags];
    const total = todo.reduce((n, e) => n + e.file.size, 0) || 1;
    const sent = new Map();
    const show = () => {
      const done = todo.filter((e) => e.state !== 'queued' && e.state !== 'uploading');
      const failed = done.filter((e) => e.state === 'error').length;
      progress.value = [...sent.values()].reduce((a, b) => a + b, 0) / total;
      summary.textContent = `${done.length} of ${todo.length} done${failed ? `, ${failed} failed` : ''}`;
    };
    const queue = batches(todo);
    async function worker() {
      while (queue.length) {
        const batch = queue.shift();
        const form = new FormData();
        for (const e of batch) {
          form.append('imageData', e.file, e.file.name);
          set(e, 'uploading', 'Uploading…');
        }
        const batchBytes = batch.reduce((n, e) => n + e.file.size, 0);
        try {
          const { body } = await uploadForm(`/projects/${pid}/images`, { tagIds }, form, (loaded, all) => {
            sent.set(batch, (loaded / all) * batchBytes);
            show();
          });
          const results = body?.images || [];
          batch.forEach((e, i) => {
            const r = results[i];
            if (!r) set(e, 'error', 'No answer for this file');
            else if (r.status === 'OK') set(e, 'ok', 'Added');
            else if (r.status === 'OKDuplicate') set(e, 'duplicate', describeStatus(r.status));
            else { set(e, 'error', describeStatus(r.status, r.message)); e.retryable = r.status === 'ErrorStorage' || r.status === 'ErrorUnknown'; }
          });
        } catch (err) {
          for (const e of batch) { set(e, 'error', err.message); e.retryable = true; }
        }
        sent.set(batch, batchBytes);
        show();
      }
    }
    await Promise.all(Array.from({ length: PARALLEL_BATCHES }, worker));
    running = false;
    progress.value = 1;
    const ok = todo.filter((e) => e.state === 'ok').length;
    const dup = todo.filter((e) => e.state === 'duplicate').length;
    const failed = todo.filter((e) => e.state === 'error').length;
    summary.textContent = `Finished: ${ok} added${dup ? `, ${dup} already in the project` : ''}${failed ? `, ${failed} failed (see the list)` : ''}.`;
    refresh();
    onUploaded();
  }

  renderTags();
  refresh();
  return { element, add, renderTags, get busy() { return running; } };
}
