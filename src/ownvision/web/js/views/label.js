// The labeler: one image at a time, in the order of the grid it was opened from.
// Detection projects: draw, move, resize and delete boxes (saved as regions as soon as an edit
// ends). Classification projects: toggle the image's tags. Both: step with the keyboard and take
// or leave what the smart labeler proposes.

import {
  createRegions, createTag, deleteRegions, getImageCount, getImages, getImagesByIds, getIterations, getTags,
  regionProposals, suggestTagsAndRegions, tagImages, untagImages,
} from '../api.js';
import { errorBox, h, loading, mount, notice, tagColor, toast } from '../dom.js';
import { BoxEditor } from '../labeler.js';
import { newTagForm } from './common.js';
import { filterFrom } from './images.js';

const WINDOW = 64;
const SAME_EPS = 1e-6;

function sameBox(a, b) {
  return b && a.tagId === b.tagId && ['left', 'top', 'width', 'height'].every((k) => Math.abs(a[k] - b[k]) < SAME_EPS);
}

function isTyping(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName))
    && !(target.tagName === 'INPUT' && ['checkbox', 'radio', 'range'].includes(target.type));
}

export async function render(ctx) {
  const { pid, detection, query } = ctx;
  const filter = filterFrom(query);
  let index = Math.max(0, parseInt(query.i || '0', 10) || 0);
  mount(ctx.body, loading('Loading the labeler…'));
  const [tagsInitial, total, iterations] = await Promise.all([
    getTags(pid), getImageCount(pid, filter), getIterations(pid).catch(() => []),
  ]);
  if (!ctx.active) return;
  let tags = tagsInitial;
  const trained = iterations.filter((it) => it.status === 'Completed')
    .sort((a, b) => (b.trainedAt || b.created).localeCompare(a.trainedAt || a.created))[0] || null;
  const backHref = `#/projects/${pid}/images${query.status || query.tag ? `?${new URLSearchParams(Object.entries({ status: query.status, tag: query.tag }).filter(([, v]) => v))}` : ''}`;
  ctx.setCrumbs([{ label: 'Images', href: backHref }, { label: 'Labeler' }]);

  if (total === 0) {
    mount(ctx.body, h('div', { class: 'empty card' }, h('h2', {}, 'No images to label here'),
      h('p', {}, h('a', { href: backHref }, 'Back to the images'))));
    return;
  }
  index = Math.min(index, total - 1);

  // --- the ordered list of images, loaded in windows ---------------------------------------
  const list = [];
  const leftFilter = new Set(); // ids labelled here that no longer match the filter (the server's list shifted)
  async function imageAt(i) {
    if (!list[i]) {
      const shift = [...leftFilter].filter((id) => list.findIndex((im) => im && im.id === id) < i).length;
      const start = Math.max(0, i - (i % WINDOW));
      const page = await getImages(pid, filter, Math.max(0, start - shift), WINDOW);
      page.forEach((im, k) => { if (!list[start + k]) list[start + k] = im; });
    }
    return list[i] || null;
  }

  // --- layout ------------------------------------------------------------------------------
  const colorOf = (tagId) => tagColor(Math.max(0, tags.findIndex((t) => t.id === tagId)));
  const nameOf = (tagId) => tags.find((t) => t.id === tagId)?.name || 'Unknown tag';
  const saveStatus = h('span', { class: 'save-status', role: 'status', 'aria-live': 'polite' });
  const position = h('span', { class: 'position' });
  const prevButton = h('button', { class: 'btn', type: 'button', onclick: () => step(-1), 'aria-keyshortcuts': 'PageUp' }, '‹ Previous');
  const nextButton = h('button', { class: 'btn', type: 'button', onclick: () => step(1), 'aria-keyshortcuts': 'PageDown' }, 'Next ›');
  const tagPanel = h('section', { class: 'side-section', 'aria-label': 'Tags' });
  const boxPanel = h('section', { class: 'side-section', 'aria-label': 'Boxes' });
  const smartPanel = h('section', { class: 'side-section', 'aria-label': 'Smart labeler' });
  const stageWrap = h('div', { class: 'stage-wrap' });
  const imageError = h('div');
  const editor = detection ? new BoxEditor({
    colorOf, nameOf,
    onSelect: () => renderBoxes(),
    onChange: (kind, box) => {
      if (kind === 'add' && !box.tagId) {
        toast('Pick a tag for the new box (keys 1–9 or the list).', 'info');
      }
      renderBoxes();
      if (kind !== 'reject') scheduleSave();
    },
  }) : null;
  const plainImage = detection ? null : h('img', { class: 'stage-image', alt: '' });
  if (editor) ctx.onCleanup(() => editor.destroy());

  // Fit the image to the space left in the window, enlarging small images (up to 3x) so that
  // boxes can be drawn precisely; the SVG layer follows the <img> size.
  const MAX_UPSCALE = 3;
  function fit() {
    const img = detection ? editor.img : plainImage;
    if (!img.naturalWidth || !stageWrap.isConnected) return;
    const width = stageWrap.clientWidth;
    const narrow = window.innerWidth <= 700;
    const height = Math.max(220, window.innerHeight - stageWrap.getBoundingClientRect().top - (narrow ? 90 : 36));
    const scale = Math.min(width / img.naturalWidth, height / img.naturalHeight, MAX_UPSCALE);
    img.style.width = `${Math.floor(img.naturalWidth * scale)}px`;
    img.style.height = `${Math.floor(img.naturalHeight * scale)}px`;
  }
  window.addEventListener('resize', fit);
  ctx.onCleanup(() => window.removeEventListener('resize', fit));

  const help = detection
    ? [['Drag', 'draw a box'], ['1–9', 'tag of new/selected box'], ['← →', 'previous / next image (or move the selected box)'],
      ['Alt + arrows', 'resize the selected box'], ['N', 'new box in the middle'], ['Delete', 'delete the selected box'],
      ['Enter', 'accept a suggestion'], ['Esc', 'deselect']]
    : [['1–9', 'toggle a tag'], ['← →', 'previous / next image'], ['Enter', 'accept the suggested tags']];

  mount(ctx.body, h('div', { class: 'labeler' },
    h('div', { class: 'labeler-toolbar' },
      h('a', { class: 'btn btn-quiet', href: backHref }, '← Images'),
      prevButton, position, nextButton, saveStatus),
    h('div', { class: 'labeler-main' },
      h('div', { class: 'labeler-stage' }, imageError, stageWrap),
      h('aside', { class: 'labeler-side' }, tagPanel, detection ? boxPanel : null, smartPanel,
        h('details', { class: 'side-section keys-help' }, h('summary', {}, 'Keyboard'),
          h('dl', {}, help.map(([k, v]) => [h('dt', {}, h('kbd', {}, k)), h('dd', {}, v)])))))));
  mount(stageWrap, detection ? editor.element : h('div', { class: 'stage' }, plainImage));

  // --- the current image -------------------------------------------------------------------
  let image = null; // {…Image, boxes, saved: Map(regionId → region)}
  let suggestions = null; // classification: [{tagId, probability}]
  let smartMessage = null;

  async function show(i) {
    index = i;
    ctx.setAddress(`/projects/${pid}/label`, { status: query.status, tag: query.tag, i: String(i) });
    position.textContent = `Image ${i + 1} of ${total}`;
    prevButton.disabled = i <= 0;
    nextButton.disabled = i >= total - 1;
    smartMessage = null;
    suggestions = null;
    mount(imageError);
    try {
      const listed = await imageAt(i);
      if (!listed) throw new Error('This image is no longer in the list (it may have been deleted or relabelled).');
      const [fresh] = await getImagesByIds(pid, [listed.id]);
      if (!ctx.active || index !== i) return;
      if (!fresh) throw new Error('This image was deleted.');
      const regions = fresh.regions || [];
      image = { ...fresh, saved: new Map(regions.map((r) => [r.regionId, { ...r }])),
        boxes: regions.map((r) => ({ regionId: r.regionId, tagId: r.tagId, left: r.left, top: r.top, width: r.width, height: r.height })) };
      const url = fresh.resizedImageUri || fresh.originalImageUri;
      stageWrap.dataset.imageId = fresh.id;
      const alt = `Image ${i + 1} of ${total}`;
      if (detection) {
        editor.setBoxes(image.boxes);
        const ok = await editor.setImage(url, alt);
        fit();
        editor.render();
        if (!ok) mount(imageError, errorBox('The image could not be loaded (its link may have expired; reload the page).'));
      } else {
        plainImage.onload = fit;
        plainImage.src = url;
        plainImage.alt = alt;
      }
      renderTags();
      renderBoxes();
      renderSmart();
    } catch (err) {
      if (ctx.active) mount(imageError, errorBox(err));
    }
  }

  function step(delta) {
    const next = index + delta;
    if (next < 0 || next >= total) return;
    if (detection) flush();
    show(next);
  }

  // --- tags --------------------------------------------------------------------------------
  function renderTags() {
    const create = newTagForm(async (name) => {
      try {
        const tag = await createTag(pid, name);
        tags.push(tag);
        if (detection) setActiveTag(tag.id);
        renderTags();
        renderBoxes();
      } catch (err) { toast(err.message, 'error'); }
    }, { id: 'labeler-new-tag' });
    if (detection) {
      if (!editor.activeTag && tags.length) editor.activeTag = tags[0].id;
      mount(tagPanel, h('h2', {}, 'Tag for new boxes'),
        tags.length === 0 ? h('p', { class: 'muted small' }, 'Add a tag first.') : null,
        h('div', { class: 'tag-picker', role: 'radiogroup', 'aria-label': 'Tag for new boxes' }, tags.map((t, i) => h('label', { class: 'chip-radio', style: { '--tag': tagColor(i) } },
          h('input', { type: 'radio', name: 'active-tag', value: t.id, checked: editor.activeTag === t.id, onchange: () => setActiveTag(t.id) }),
          i < 9 ? h('kbd', {}, String(i + 1)) : null, t.name))),
        create);
      return;
    }
    const own = new Set((image?.tags || []).map((t) => t.tagId));
    const multiclass = ctx.kind === 'multiclass';
    mount(tagPanel, h('h2', {}, multiclass ? 'Tag (one per image)' : 'Tags'),
      tags.length === 0 ? h('p', { class: 'muted small' }, 'Add a tag first.') : null,
      h('div', { class: 'tag-picker', role: multiclass ? 'radiogroup' : 'group', 'aria-label': 'Tags of this image' },
        tags.map((t, i) => h('label', { class: 'chip-check', style: { '--tag': tagColor(i) } },
          h('input', { type: multiclass ? 'radio' : 'checkbox', name: 'image-tag', value: t.id, checked: own.has(t.id), onclick: (e) => toggleTag(t.id, e.target.checked) }),
          i < 9 ? h('kbd', {}, String(i + 1)) : null, t.name))),
      create);
  }

  function setActiveTag(tagId) {
    editor.activeTag = tagId;
    const box = editor.selectedBox;
    if (box && !box.suggestion && box.tagId !== tagId) {
      box.tagId = tagId;
      editor.render();
      scheduleSave();
    }
    renderTags();
    renderBoxes();
  }

  async function toggleTag(tagId, on) {
    if (!image) return;
    const current = image;
    const own = new Set((current.tags || []).map((t) => t.tagId));
    const multiclass = ctx.kind === 'multiclass';
    if (multiclass && own.has(tagId)) on = false; // pressing the chosen tag again clears it
    setStatus('saving');
    try {
      const others = multiclass ? [...own].filter((id) => id !== tagId) : [];
      if (others.length) await untagImages(pid, [current.id], others);
      if (on) await tagImages(pid, [current.id], [tagId]);
      else if (own.has(tagId)) await untagImages(pid, [current.id], [tagId]);
      const [fresh] = await getImagesByIds(pid, [current.id]);
      if (fresh) current.tags = fresh.tags;
      const nowTagged = (current.tags || []).length > 0;
      if ((filter.taggingStatus === 'Untagged' && nowTagged) || (filter.taggingStatus === 'Tagged' && !nowTagged)) leftFilter.add(current.id);
      setStatus('saved');
    } catch (err) {
      setStatus('error', err.message);
    }
    if (image === current) renderTags();
  }

  // --- boxes -------------------------------------------------------------------------------
  function renderBoxes() {
    if (!detection || !image) return;
    const boxes = image.boxes;
    const real = boxes.map((b, i) => [b, i]).filter(([b]) => !b.suggestion);
    mount(boxPanel, h('h2', {}, `Boxes (${real.length})`),
      real.length === 0 ? h('p', { class: 'muted small' }, 'Drag on the image to draw a box, or press N.') : null,
      h('ol', { class: 'box-list' }, real.map(([box, i], n) => {
        const select = h('select', { 'aria-label': `Tag of box ${n + 1}`, onchange: (e) => {
          box.tagId = e.target.value;
          editor.render();
          scheduleSave();
        } }, box.tagId ? null : h('option', { value: '' }, 'Choose a tag'), tags.map((t) => h('option', { value: t.id }, t.name)));
        select.value = box.tagId || '';
        return h('li', { class: i === editor.selected ? 'box-item selected' : 'box-item', style: { '--tag': colorOf(box.tagId) } },
          h('button', { class: 'box-select', type: 'button', 'aria-pressed': String(i === editor.selected), onclick: () => editor.select(i) }, `Box ${n + 1}`),
          select,
          h('button', { class: 'icon-btn', type: 'button', 'aria-label': `Delete box ${n + 1}`, title: 'Delete box', onclick: () => { editor.select(i); editor.deleteSelected(); } }, '×'));
      })),
      h('button', { class: 'btn btn-small', type: 'button', onclick: addCenteredBox, 'aria-keyshortcuts': 'N' }, 'Add box'));
    renderSmart();
  }

  function addCenteredBox() {
    if (!detection || !image) return;
    editor.addBox({ tagId: editor.activeTag, left: 0.35, top: 0.35, width: 0.3, height: 0.3 });
    renderBoxes();
    scheduleSave();
    editor.svg.focus();
  }

  // --- saving regions ----------------------------------------------------------------------
  let saveTimer = null;
  let chain = Promise.resolve();
  let pendingImage = null;

  function setStatus(state, message = '') {
    saveStatus.className = `save-status save-${state}`;
    saveStatus.textContent = { saving: 'Saving…', saved: 'All changes saved', pending: 'Unsaved changes', error: `Not saved: ${message}` }[state];
  }

  function scheduleSave() {
    pendingImage = image;
    setStatus('pending');
    clearTimeout(saveTimer);
    saveTimer = setTimeout(flush, 350);
  }

  function flush() {
    clearTimeout(saveTimer);
    const target = pendingImage;
    pendingImage = null;
    if (!target) return chain;
    setStatus('saving');
    chain = chain.then(() => saveRegions(target)).then(
      (untagged) => {
        if (pendingImage) return;
        if (untagged) setStatus('error', `${untagged} box${untagged === 1 ? ' has' : 'es have'} no tag yet`);
        else setStatus('saved');
      },
      (err) => { setStatus('error', err.message); toast(`Boxes not saved: ${err.message}`, 'error'); },
    );
    return chain;
  }

  async function saveRegions(target) {
    const boxes = target.boxes.filter((b) => !b.suggestion && b.tagId);
    const keep = new Set(boxes.filter((b) => b.regionId && sameBox(b, target.saved.get(b.regionId))).map((b) => b.regionId));
    const create = boxes.filter((b) => !b.regionId || !keep.has(b.regionId));
    const remove = [...target.saved.keys()].filter((id) => !keep.has(id));
    if (create.length) {
      const clampBox = (b) => {
        const left = Math.min(Math.max(b.left, 0), 1);
        const top = Math.min(Math.max(b.top, 0), 1);
        return { imageId: target.id, tagId: b.tagId, left, top, width: Math.min(b.width, 1 - left), height: Math.min(b.height, 1 - top) };
      };
      const sent = create.map(clampBox);
      const result = await createRegions(pid, sent);
      const created = result?.created || [];
      create.forEach((box, k) => {
        const match = created.length === sent.length ? created[k]
          : created.find((c) => c.tagId === sent[k].tagId && Math.abs(c.left - sent[k].left) < 1e-4 && Math.abs(c.top - sent[k].top) < 1e-4);
        if (!match) return;
        Object.assign(box, { regionId: match.regionId, left: match.left, top: match.top, width: match.width, height: match.height });
        target.saved.set(match.regionId, { ...match });
      });
      if (created.length !== sent.length) {
        const problems = [...(result?.duplicated || []), ...(result?.exceeded || [])].length;
        if (problems) toast(`${problems} box(es) were not added (duplicate or over the limit).`, 'error');
      }
    }
    for (let k = 0; k < remove.length; k += 64) {
      await deleteRegions(pid, remove.slice(k, k + 64));
    }
    for (const id of remove) target.saved.delete(id);
    const nowTagged = target.saved.size > 0;
    if ((filter.taggingStatus === 'Untagged' && nowTagged) || (filter.taggingStatus === 'Tagged' && !nowTagged)) leftFilter.add(target.id);
    if (target === image && editor) editor.render();
    return target.boxes.filter((b) => !b.suggestion && !b.tagId).length;
  }

  // --- smart labeler -----------------------------------------------------------------------
  function renderSmart() {
    if (!image) return;
    const pending = detection ? image.boxes.filter((b) => b.suggestion) : (suggestions || []);
    const canSuggest = Boolean(trained);
    mount(smartPanel, h('h2', {}, 'Smart labeler'),
      h('div', { class: 'button-row' },
        detection ? h('button', { class: 'btn btn-small', type: 'button', onclick: proposeBoxes }, 'Propose boxes') : null,
        h('button', { class: 'btn btn-small', type: 'button', disabled: !canSuggest, onclick: suggest },
          detection ? 'Suggest tagged boxes' : 'Suggest tags')),
      canSuggest ? h('p', { class: 'muted small' }, `Suggestions come from ${trained.name}.`)
        : h('p', { class: 'muted small' }, 'Train an iteration to get tag suggestions.'),
      smartMessage,
      pending.length ? h('div', { class: 'suggestions' },
        h('ul', { class: 'suggestion-list' }, pending.map((sgn) => {
          const tagName = sgn.tagId ? nameOf(sgn.tagId) : 'Object (no tag)';
          const prob = Math.round(((detection ? sgn.suggestion.probability : sgn.probability) || 0) * 100);
          return h('li', {},
            h('span', {}, `${tagName} · ${prob}%`),
            h('button', { class: 'btn btn-small', type: 'button', onclick: () => accept(sgn) }, 'Accept'),
            h('button', { class: 'btn btn-small btn-quiet', type: 'button', onclick: () => reject(sgn) }, 'Reject'));
        })),
        h('div', { class: 'button-row' },
          h('button', { class: 'btn btn-small', type: 'button', onclick: () => pending.slice().forEach(accept) }, 'Accept all'),
          h('button', { class: 'btn btn-small btn-quiet', type: 'button', onclick: () => pending.slice().forEach(reject) }, 'Reject all'))) : null);
  }

  function unavailableMessage(err, what) {
    return err.unavailable
      ? notice(`${what} is not available on this server yet.`, 'warn')
      : errorBox(err, what);
  }

  async function proposeBoxes() {
    const current = image;
    smartMessage = h('p', { class: 'muted small', role: 'status' }, 'Looking for objects…');
    renderSmart();
    try {
      const result = await regionProposals(pid, current.id);
      if (image !== current) return;
      const proposals = (result?.proposals || []).filter((p) => p.boundingBox).slice(0, 20);
      current.boxes.push(...proposals.map((p) => ({ tagId: null, ...p.boundingBox, suggestion: { probability: p.confidence, source: 'proposal' } })));
      smartMessage = proposals.length ? null : notice('No objects proposed for this image.');
      editor.setBoxes(current.boxes);
    } catch (err) {
      smartMessage = unavailableMessage(err, 'Box proposal');
    }
    renderBoxes();
    renderSmart();
  }

  async function suggest() {
    const current = image;
    smartMessage = h('p', { class: 'muted small', role: 'status' }, 'Asking the model…');
    renderSmart();
    try {
      const result = await suggestTagsAndRegions(pid, trained.id, [current.id]);
      if (image !== current) return;
      const predictions = (result?.[0]?.predictions || []).filter((p) => p.probability >= 0.3);
      if (detection) {
        current.boxes.push(...predictions.filter((p) => p.boundingBox).map((p) => ({
          tagId: p.tagId, ...p.boundingBox, suggestion: { probability: p.probability, source: 'model' },
        })));
        editor.setBoxes(current.boxes);
      } else {
        const own = new Set((current.tags || []).map((t) => t.tagId));
        suggestions = predictions.filter((p) => !own.has(p.tagId)).map((p) => ({ tagId: p.tagId, probability: p.probability }));
      }
      smartMessage = predictions.length ? null : notice('The model has no confident suggestion for this image.');
    } catch (err) {
      smartMessage = unavailableMessage(err, 'The smart labeler');
    }
    renderBoxes();
    renderSmart();
  }

  function accept(sgn) {
    if (detection) {
      if (!sgn.tagId) sgn.tagId = editor.activeTag;
      if (!sgn.tagId) { toast('Pick a tag first.', 'error'); return; }
      delete sgn.suggestion;
      editor.render();
      renderBoxes();
      scheduleSave();
    } else {
      suggestions = suggestions.filter((x) => x !== sgn);
      toggleTag(sgn.tagId, true);
      renderSmart();
    }
  }

  function reject(sgn) {
    if (detection) {
      const i = image.boxes.indexOf(sgn);
      if (i >= 0) { editor.select(i); editor.deleteSelected(); }
      renderBoxes();
    } else {
      suggestions = suggestions.filter((x) => x !== sgn);
      renderSmart();
    }
  }

  // --- keyboard ----------------------------------------------------------------------------
  function onKey(e) {
    if (e.defaultPrevented || isTyping(e.target) || document.querySelector('dialog[open]') || e.ctrlKey || e.metaKey) return;
    if ((e.key === 'Enter' || e.key === ' ') && e.target instanceof Element && e.target.closest('button, a, summary')) return;
    const box = detection ? editor.selectedBox : null;
    const amount = e.shiftKey ? 10 : 1;
    const handled = (() => {
      switch (e.key) {
        case 'ArrowLeft': return box ? editor.nudge(-amount, 0, e.altKey) : (step(-1), true);
        case 'ArrowRight': return box ? editor.nudge(amount, 0, e.altKey) : (step(1), true);
        case 'ArrowUp': return box ? editor.nudge(0, -amount, e.altKey) : false;
        case 'ArrowDown': return box ? editor.nudge(0, amount, e.altKey) : false;
        case 'PageUp': case '[': step(-1); return true;
        case 'PageDown': case ']': step(1); return true;
        case 'Delete': case 'Backspace': return detection ? editor.deleteSelected() : false;
        case 'Escape': if (box) { editor.select(null); return true; } return false;
        case 'n': case 'N': if (detection) { addCenteredBox(); return true; } return false;
        case 'Enter':
          if (box && box.suggestion) { accept(box); return true; }
          if (!detection && suggestions?.length) { suggestions.slice().forEach(accept); return true; }
          return false;
        default:
          if (/^[1-9]$/.test(e.key)) {
            const tag = tags[Number(e.key) - 1];
            if (!tag) return false;
            if (detection) setActiveTag(tag.id);
            else toggleTag(tag.id, !(image?.tags || []).some((t) => t.tagId === tag.id));
            return true;
          }
          return false;
      }
    })();
    if (handled) e.preventDefault();
  }
  document.addEventListener('keydown', onKey);
  ctx.onCleanup(() => {
    document.removeEventListener('keydown', onKey);
    if (detection) flush();
  });
  const beforeUnload = (e) => { if (pendingImage) { flush(); e.preventDefault(); } };
  window.addEventListener('beforeunload', beforeUnload);
  ctx.onCleanup(() => window.removeEventListener('beforeunload', beforeUnload));

  await show(index);
}
