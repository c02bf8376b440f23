// The image grid: filter by tagging status and tag, page through thumbnails, select many and
// tag, untag or delete them; manage tags; upload more.

import { createTag, deleteImages, deleteTag, getImageCount, getImages, getTags, tagImages, untagImages } from '../api.js';
import { confirmDialog, errorBox, h, loading, mount, s, tagColor, toast } from '../dom.js';
import { newTagForm } from './common.js';
import { uploader } from './upload.js';

export const PAGE_SIZE = 48;
const STATUSES = [['All', 'All images'], ['Tagged', 'Tagged'], ['Untagged', 'Untagged']];

export function filterFrom(query) {
  const status = ['All', 'Tagged', 'Untagged'].includes(query.status) ? query.status : 'All';
  return { taggingStatus: status, tagIds: query.tag ? [query.tag] : undefined };
}

/**
 * A thumbnail with the image's boxes drawn over it (detection); `predicted` adds predicted boxes,
 * dashed (used for the mistakes of an iteration).
 */
export function thumbnail(image, tagIndex, { alt = '', predicted = [] } = {}) {
  const frame = h('span', { class: 'thumb-frame', style: { aspectRatio: `${image.width || 4} / ${image.height || 3}` } },
    h('img', { src: image.thumbnailUri || image.resizedImageUri || image.imageUri || '', alt, loading: 'lazy', decoding: 'async' }));
  const regions = image.regions || [];
  const rect = (b, tagId, cls) => s('rect', {
    class: cls, x: b.left * 100, y: b.top * 100, width: b.width * 100, height: b.height * 100,
    stroke: tagColor(tagIndex.get(tagId) ?? 0), 'vector-effect': 'non-scaling-stroke',
  });
  if (regions.length || predicted.length) {
    frame.append(s('svg', { class: 'thumb-boxes', viewBox: '0 0 100 100', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
      regions.map((r) => rect(r, r.tagId, 'truth')),
      predicted.filter((p) => p.boundingBox).map((p) => rect(p.boundingBox, p.tagId, 'predicted'))));
  }
  return frame;
}

export async function render(ctx) {
  const { pid, detection, query } = ctx;
  ctx.setCrumbs([{ label: 'Images' }]);
  const filter = filterFrom(query);
  const page = Math.max(1, parseInt(query.page || '1', 10) || 1);
  let tags = [];
  let tagIndex = new Map();
  let pageImages = [];
  const selected = new Set();
  let lastChecked = null;

  const sidebar = h('aside', { class: 'sidebar', 'aria-label': 'Filters and tags' });
  const grid = h('ul', { class: 'image-grid', 'aria-label': 'Images' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const heading = h('p', { class: 'grid-heading', 'aria-live': 'polite' });
  const selectionBar = h('div', { class: 'selection-bar', hidden: true, role: 'region', 'aria-label': 'Selected images' });
  const messages = h('div');
  const upload = uploader({
    pid, detection, getTags: () => tags,
    onUploaded: () => load(),
    onTagCreated: (tag) => { tags.push(tag); renderSidebar(); },
  });
  const uploadSlot = h('div', { hidden: !query.upload }, upload.element);
  const addButton = h('button', {
    class: 'btn btn-primary', type: 'button', 'aria-expanded': String(Boolean(query.upload)), 'aria-controls': 'upload-slot',
    onclick: () => {
      uploadSlot.hidden = !uploadSlot.hidden;
      addButton.setAttribute('aria-expanded', String(!uploadSlot.hidden));
      if (!uploadSlot.hidden) uploadSlot.querySelector('.dropzone').focus();
    },
  }, 'Add images');
  uploadSlot.id = 'upload-slot';
  const selectPage = h('input', { type: 'checkbox', id: 'select-page', onchange: (e) => {
    for (const img of pageImages) { if (e.target.checked) selected.add(img.id); else selected.delete(img.id); }
    syncSelection();
  } });

  const main = h('div', { class: 'images-main' },
    h('div', { class: 'toolbar' }, addButton,
      h('label', { class: 'field-inline', for: 'select-page' }, selectPage, h('span', {}, 'Select page')), heading),
    uploadSlot, messages, selectionBar, grid, pager);
  mount(ctx.body, h('div', { class: 'images-layout' }, sidebar, main));

  // Dropping files anywhere on the page opens the upload panel with them.
  const onDragOver = (e) => {
    if (![...(e.dataTransfer?.types || [])].includes('Files')) return;
    e.preventDefault();
    ctx.main.classList.add('dragging');
  };
  const onDragLeave = (e) => { if (e.target === ctx.main || !ctx.main.contains(e.relatedTarget)) ctx.main.classList.remove('dragging'); };
  const onDrop = (e) => {
    if (!e.dataTransfer?.files?.length) return;
    e.preventDefault();
    ctx.main.classList.remove('dragging');
    uploadSlot.hidden = false;
    addButton.setAttribute('aria-expanded', 'true');
    upload.add([...e.dataTransfer.files]);  // the server reports files that are not images, one by one
  };
  ctx.main.addEventListener('dragover', onDragOver);
  ctx.main.addEventListener('dragleave', onDragLeave);
  ctx.main.addEventListener('drop', onDrop);
  ctx.onCleanup(() => {
    ctx.main.removeEventListener('dragover', onDragOver);
    ctx.main.removeEventListener('dragleave', onDragLeave);
    ctx.main.removeEventListener('drop', onDrop);
    ctx.main.classList.remove('dragging');
  });

  function link(next) {
    const q = new URLSearchParams();
    const merged = { status: filter.taggingStatus, tag: query.tag, page: String(page), ...next };
    for (const [k, v] of Object.entries(merged)) if (v && !(k === 'status' && v === 'All') && !(k === 'page' && v === '1')) q.set(k, v);
    const text = q.toString();
    return `#/projects/${pid}/images${text ? `?${text}` : ''}`;
  }

  // On a narrow screen the filters fold away under one line that says what is shown.
  const narrow = window.matchMedia('(max-width: 700px)');
  const details = h('details', { class: 'sidebar-details', open: !narrow.matches });
  const summary = h('summary', {});
  const sidebarBody = h('div', {});
  details.append(summary, sidebarBody);
  sidebar.append(details);
  const onMedia = () => { details.open = !narrow.matches; };
  narrow.addEventListener('change', onMedia);
  ctx.onCleanup(() => narrow.removeEventListener('change', onMedia));

  function renderSidebar(counts = null) {
    if (counts) renderSidebar.counts = counts;
    const c = renderSidebar.counts || {};
    const current = query.tag ? `Tag: ${tags.find((t) => t.id === query.tag)?.name || '…'}`
      : STATUSES.find(([v]) => v === filter.taggingStatus)[1];
    summary.textContent = `Showing: ${current} · filters and tags`;
    mount(sidebarBody,
      h('h2', { class: 'sidebar-title' }, 'Show'),
      h('ul', { class: 'filter-list' }, STATUSES.map(([value, label]) => {
        const active = filter.taggingStatus === value && !query.tag;
        return h('li', {}, h('a', { href: link({ status: value, tag: '', page: '1' }), class: active ? 'filter active' : 'filter', 'aria-current': active ? 'true' : null },
          h('span', {}, label), h('span', { class: 'count' }, c[value] ?? '')));
      })),
      h('h2', { class: 'sidebar-title' }, 'Tags'),
      tags.length === 0 ? h('p', { class: 'muted small' }, detection ? 'Add the tags of the objects you will box.' : 'Add tags, then tag images at upload or from the grid.') : null,
      h('ul', { class: 'filter-list tag-list' }, tags.map((t, i) => {
        const active = query.tag === t.id;
        return h('li', { class: 'tag-row' },
          h('a', { href: link({ status: 'All', tag: t.id, page: '1' }), class: active ? 'filter active' : 'filter', 'aria-current': active ? 'true' : null },
            h('span', { class: 'swatch', style: { background: tagColor(i) }, 'aria-hidden': 'true' }),
            h('span', { class: 'tag-name' }, t.name), h('span', { class: 'count' }, String(t.imageCount ?? ''))),
          h('button', { class: 'icon-btn', type: 'button', title: `Delete tag ${t.name}`, 'aria-label': `Delete tag ${t.name}`, onclick: () => removeTag(t) }, '×'));
      })),
      newTagForm(async (name) => {
        try {
          const tag = await createTag(pid, name);
          tags.push(tag);
          tagIndex = new Map(tags.map((t, i) => [t.id, i]));
          renderSidebar();
          upload.renderTags();
          renderSelectionBar();
          toast(`Tag “${tag.name}” added.`, 'ok');
        } catch (err) { toast(err.message, 'error'); }
      }));
  }

  async function removeTag(tag) {
    const ok = await confirmDialog({ title: 'Delete tag?', message: `The tag “${tag.name}” will be removed from ${tag.imageCount || 0} image(s)${detection ? ' with its boxes' : ''}. The images stay.`, confirmLabel: 'Delete tag' });
    if (!ok) return;
    try {
      await deleteTag(pid, tag.id);
      toast(`Tag “${tag.name}” deleted.`, 'ok');
      if (query.tag === tag.id) ctx.navigate(`/projects/${pid}/images`);
      else load();
    } catch (err) { toast(err.message, 'error'); }
  }

  function card(image, index) {
    const absolute = (page - 1) * PAGE_SIZE + index;
    const names = (image.tags || []).map((t) => t.tagName);
    const boxCount = (image.regions || []).length;
    const label = detection ? `${boxCount} box${boxCount === 1 ? '' : 'es'}` : (names.length ? names.join(', ') : 'untagged');
    const check = h('input', {
      type: 'checkbox', class: 'image-check', checked: selected.has(image.id), 'aria-label': `Select image ${absolute + 1} (${label})`,
      onclick: (e) => {
        const ids = pageImages.map((im) => im.id);
        if (e.shiftKey && lastChecked !== null) {
          const [a, b] = [lastChecked, index].sort((x, y) => x - y);
          for (const id of ids.slice(a, b + 1)) { if (e.target.checked) selected.add(id); else selected.delete(id); }
        } else if (e.target.checked) selected.add(image.id);
        else selected.delete(image.id);
        lastChecked = index;
        syncSelection();
      },
    });
    const chips = detection
      ? h('span', { class: boxCount ? 'chip' : 'chip chip-empty' }, label)
      : (names.length ? (image.tags || []).map((t) => h('span', { class: 'chip', style: { borderColor: tagColor(tagIndex.get(t.tagId) ?? 0) } }, t.tagName))
        : h('span', { class: 'chip chip-empty' }, 'Untagged'));
    return h('li', { class: selected.has(image.id) ? 'image-card selected' : 'image-card', dataset: { id: image.id } },
      check,
      h('a', { class: 'thumb', href: `#/projects/${pid}/label?${labelQuery(absolute)}`, 'aria-label': `Open image ${absolute + 1} (${label})` },
        thumbnail(image, tagIndex)),
      h('div', { class: 'chips' }, chips));
  }

  function labelQuery(i) {
    const q = new URLSearchParams();
    if (filter.taggingStatus !== 'All') q.set('status', filter.taggingStatus);
    if (query.tag) q.set('tag', query.tag);
    q.set('i', String(i));
    return q.toString();
  }

  function syncSelection() {
    for (const li of grid.children) {
      const on = selected.has(li.dataset.id);
      li.classList.toggle('selected', on);
      const box = li.querySelector('.image-check');
      if (box) box.checked = on;
    }
    const onPage = pageImages.filter((im) => selected.has(im.id)).length;
    selectPage.checked = pageImages.length > 0 && onPage === pageImages.length;
    selectPage.indeterminate = onPage > 0 && onPage < pageImages.length;
    renderSelectionBar();
  }

  function renderSelectionBar() {
    selectionBar.hidden = selected.size === 0;
    if (!selected.size) return;
    const tagChoice = h('select', { id: 'bulk-tag', 'aria-label': 'Tag for the selected images' },
      tags.map((t) => h('option', { value: t.id }, t.name)));
    const busy = (fn) => async (e) => {
      const buttons = selectionBar.querySelectorAll('button');
      buttons.forEach((b) => { b.disabled = true; });
      try { await fn(e); } catch (err) { toast(err.message, 'error'); } finally { buttons.forEach((b) => { b.disabled = false; }); }
    };
    const ids = () => [...selected];
    mount(selectionBar,
      h('strong', {}, `${selected.size} selected`),
      h('button', { class: 'btn btn-small btn-quiet', type: 'button', onclick: () => { selected.clear(); syncSelection(); } }, 'Clear'),
      detection || tags.length === 0 ? null : h('span', { class: 'bulk-tagging' },
        tagChoice,
        h('button', { class: 'btn btn-small', type: 'button', onclick: busy(async () => {
          const tag = tags.find((t) => t.id === tagChoice.value);
          await tagImages(pid, ids(), [tag.id]);
          toast(`Tagged ${selected.size} image(s) “${tag.name}”.`, 'ok');
          await load();
        }) }, 'Tag selected'),
        h('button', { class: 'btn btn-small', type: 'button', onclick: busy(async () => {
          const tag = tags.find((t) => t.id === tagChoice.value);
          await untagImages(pid, ids(), [tag.id]);
          toast(`Removed “${tag.name}” from ${selected.size} image(s).`, 'ok');
          await load();
        }) }, 'Untag selected')),
      h('button', { class: 'btn btn-small btn-danger', type: 'button', onclick: busy(async () => {
        const n = selected.size;
        const ok = await confirmDialog({ title: `Delete ${n} image${n === 1 ? '' : 's'}?`, message: 'The images, their tags and boxes are removed from the project (iterations already trained keep their copy).', confirmLabel: 'Delete' });
        if (!ok) return;
        await deleteImages(pid, ids());
        selected.clear();
        toast(`Deleted ${n} image(s).`, 'ok');
        await load();
      }) }, 'Delete'));
  }

  function renderPager(total) {
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (pages <= 1) { mount(pager); return; }
    const item = (p, text, label) => (p < 1 || p > pages || p === page
      ? h('span', { class: p === page && !label ? 'page-link current' : 'page-link disabled', 'aria-current': p === page && !label ? 'page' : null }, text)
      : h('a', { class: 'page-link', href: link({ page: String(p) }), 'aria-label': label || `Page ${p}` }, text));
    const numbers = [];
    for (let p = 1; p <= pages; p++) {
      if (p === 1 || p === pages || Math.abs(p - page) <= 2) numbers.push(item(p, String(p)));
      else if (numbers[numbers.length - 1]?.textContent !== '…') numbers.push(h('span', { class: 'page-link gap' }, '…'));
    }
    mount(pager, item(page - 1, '‹ Previous', 'Previous page'), ...numbers, item(page + 1, 'Next ›', 'Next page'));
  }

  async function load() {
    try {
      const [tagList, total, all, tagged, untagged, images] = await Promise.all([
        getTags(pid),
        getImageCount(pid, filter),
        getImageCount(pid, { taggingStatus: 'All' }),
        getImageCount(pid, { taggingStatus: 'Tagged' }),
        getImageCount(pid, { taggingStatus: 'Untagged' }),
        getImages(pid, filter, (page - 1) * PAGE_SIZE, PAGE_SIZE),
      ]);
      if (!ctx.active) return;
      tags = tagList;
      tagIndex = new Map(tags.map((t, i) => [t.id, i]));
      pageImages = images;
      for (const id of [...selected]) if (!images.some((im) => im.id === id)) selected.delete(id);
      renderSidebar({ All: all, Tagged: tagged, Untagged: untagged });
      upload.renderTags();
      const what = query.tag ? `tagged “${tags.find((t) => t.id === query.tag)?.name || 'unknown tag'}”`
        : { All: 'in this project', Tagged: 'tagged', Untagged: 'untagged' }[filter.taggingStatus];
      heading.textContent = total === 0 ? `No images ${what}.`
        : `${total} image${total === 1 ? '' : 's'} ${what}${total > PAGE_SIZE ? ` · showing ${(page - 1) * PAGE_SIZE + 1}–${(page - 1) * PAGE_SIZE + images.length}` : ''}`;
      mount(messages);
      if (all === 0) {
        uploadSlot.hidden = false;
        addButton.setAttribute('aria-expanded', 'true');
      }
      if (images.length === 0 && page > 1 && total > 0) { ctx.navigate(`/projects/${pid}/images`, {}, { replace: true }); return; }
      mount(grid, images.map(card));
      renderPager(total);
      syncSelection();
    } catch (err) {
      if (ctx.active) mount(messages, errorBox(err));
    }
  }

  mount(grid, h('li', { class: 'grid-loading' }, loading('Loading images…')));
  await load();
}
