// The box editor: an <img> with an SVG layer on top where boxes are drawn, selected, moved and
// resized with the mouse (or touch/pen), or nudged with the keyboard.
//
// Boxes are plain objects in normalised image coordinates, shared with the caller:
//   {tagId, left, top, width, height, regionId?, suggestion?: {probability, source}}
// The editor mutates them in place and calls onChange(kind) when an edit is finished
// ('add', 'move', 'resize', 'delete', 'tag'); suggestions are drawn dashed and cannot be edited.

import { h, s } from './dom.js';

const MIN_PX = 5;
const HANDLE_PX = 9;
const HANDLES = ['nw', 'n', 'ne', 'e', 'se', 's', 'sw', 'w'];

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

export class BoxEditor {
  /**
   * @param {{onChange: Function, onSelect: Function, colorOf: Function, nameOf: Function}} options
   * colorOf(tagId) and nameOf(tagId) give a box's colour and label.
   */
  constructor({ onChange, onSelect, colorOf, nameOf }) {
    this.onChange = onChange;
    this.onSelect = onSelect || (() => {});
    this.colorOf = colorOf;
    this.nameOf = nameOf;
    this.boxes = [];
    this.selected = null;
    this.activeTag = null;
    this.drag = null;
    this.img = h('img', { class: 'stage-image', alt: '', draggable: 'false' });
    this.svg = s('svg', { class: 'stage-layer', role: 'application', 'aria-label': 'Image with boxes. Drag on the image to draw a box.', tabindex: '-1' });
    this.element = h('div', { class: 'stage' }, this.img, this.svg);
    this.svg.addEventListener('pointerdown', (e) => this.pointerDown(e));
    this.svg.addEventListener('pointermove', (e) => this.pointerMove(e));
    this.svg.addEventListener('pointerup', (e) => this.pointerUp(e));
    this.svg.addEventListener('pointercancel', () => { this.drag = null; this.render(); });
    this.resizeObserver = new ResizeObserver(() => this.render());
    this.resizeObserver.observe(this.img);
  }

  destroy() { this.resizeObserver.disconnect(); }

  /** Show an image; resolves once it has loaded (or failed). */
  setImage(url, alt) {
    this.img.alt = alt || '';
    return new Promise((resolve) => {
      this.img.onload = () => { this.render(); resolve(true); };
      this.img.onerror = () => resolve(false);
      this.img.src = url;
    });
  }

  setBoxes(boxes) {
    this.boxes = boxes;
    this.selected = null;
    this.drag = null;
    this.render();
  }

  select(index) {
    this.selected = index === null || index === undefined || !this.boxes[index] ? null : index;
    this.render();
    this.onSelect(this.selected);
  }

  get selectedBox() { return this.selected === null ? null : this.boxes[this.selected]; }

  /** Add a box (e.g. from the keyboard, or an accepted suggestion) and select it. */
  addBox(box) {
    this.boxes.push(box);
    this.select(this.boxes.length - 1);
  }

  deleteSelected() {
    if (this.selected === null) return false;
    const [box] = this.boxes.splice(this.selected, 1);
    this.selected = null;
    this.render();
    this.onSelect(null);
    this.onChange(box.suggestion ? 'reject' : 'delete', box);
    return true;
  }

  /** Move (or with resize, grow) the selected box by a number of screen pixels. */
  nudge(dxPx, dyPx, resize = false) {
    const box = this.selectedBox;
    if (!box || box.suggestion) return false;
    const { width: W, height: H } = this.size();
    const dx = dxPx / W;
    const dy = dyPx / H;
    if (resize) {
      box.width = clamp(box.width + dx, MIN_PX / W, 1 - box.left);
      box.height = clamp(box.height + dy, MIN_PX / H, 1 - box.top);
    } else {
      box.left = clamp(box.left + dx, 0, 1 - box.width);
      box.top = clamp(box.top + dy, 0, 1 - box.height);
    }
    this.render();
    this.onChange(resize ? 'resize' : 'move', box);
    return true;
  }

  size() {
    const r = this.svg.getBoundingClientRect();
    return { width: Math.max(1, r.width), height: Math.max(1, r.height), left: r.left, top: r.top };
  }

  point(e) {
    const r = this.size();
    return { x: clamp((e.clientX - r.left) / r.width, 0, 1), y: clamp((e.clientY - r.top) / r.height, 0, 1) };
  }

  pointerDown(e) {
    if (e.button !== 0) return;
    e.preventDefault();
    const p = this.point(e);
    const handle = e.target.closest('[data-handle]');
    const group = e.target.closest('[data-index]');
    if (handle && this.selectedBox) {
      this.drag = { mode: 'resize', handle: handle.dataset.handle, start: p, orig: { ...this.selectedBox }, moved: false };
    } else if (group) {
      const index = Number(group.dataset.index);
      this.select(index);
      const box = this.boxes[index];
      this.drag = box.suggestion ? null : { mode: 'move', start: p, orig: { ...box }, moved: false };
    } else {
      if (this.selected !== null) this.select(null);
      this.drag = { mode: 'draw', start: p, current: p, moved: false };
    }
    if (this.drag) this.svg.setPointerCapture(e.pointerId);
  }

  pointerMove(e) {
    if (!this.drag) return;
    const p = this.point(e);
    const d = this.drag;
    const { width: W, height: H } = this.size();
    if (!d.moved && Math.hypot((p.x - d.start.x) * W, (p.y - d.start.y) * H) < 3) return;
    d.moved = true;
    if (d.mode === 'draw') {
      d.current = p;
    } else if (d.mode === 'move') {
      const box = this.selectedBox;
      box.left = clamp(d.orig.left + p.x - d.start.x, 0, 1 - box.width);
      box.top = clamp(d.orig.top + p.y - d.start.y, 0, 1 - box.height);
    } else if (d.mode === 'resize') {
      this.resize(this.selectedBox, d.orig, d.handle, p, W, H);
    }
    this.render();
  }

  resize(box, orig, handle, p, W, H) {
    let x0 = orig.left;
    let y0 = orig.top;
    let x1 = orig.left + orig.width;
    let y1 = orig.top + orig.height;
    if (handle.includes('w')) x0 = Math.min(p.x, x1 - MIN_PX / W);
    if (handle.includes('e')) x1 = Math.max(p.x, x0 + MIN_PX / W);
    if (handle.includes('n')) y0 = Math.min(p.y, y1 - MIN_PX / H);
    if (handle.includes('s')) y1 = Math.max(p.y, y0 + MIN_PX / H);
    box.left = clamp(x0, 0, 1);
    box.top = clamp(y0, 0, 1);
    box.width = clamp(x1, 0, 1) - box.left;
    box.height = clamp(y1, 0, 1) - box.top;
  }

  pointerUp(e) {
    const d = this.drag;
    this.drag = null;
    if (this.svg.hasPointerCapture(e.pointerId)) this.svg.releasePointerCapture(e.pointerId);
    if (!d || !d.moved) { this.render(); return; }
    if (d.mode === 'draw') {
      const { width: W, height: H } = this.size();
      const left = Math.min(d.start.x, d.current.x);
      const top = Math.min(d.start.y, d.current.y);
      const width = Math.abs(d.current.x - d.start.x);
      const height = Math.abs(d.current.y - d.start.y);
      if (width * W < MIN_PX || height * H < MIN_PX) { this.render(); return; }
      const box = { tagId: this.activeTag, left, top, width, height };
      this.boxes.push(box);
      this.selected = this.boxes.length - 1;
      this.render();
      this.onSelect(this.selected);
      this.onChange('add', box);
    } else {
      this.render();
      this.onChange(d.mode, this.selectedBox);
    }
  }

  render() {
    const { width: W, height: H } = this.size();
    this.svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const items = this.boxes.map((box, index) => this.boxElement(box, index, W, H));
    const d = this.drag;
    if (d && d.mode === 'draw' && d.moved) {
      items.push(s('rect', {
        class: 'box-draft', x: Math.min(d.start.x, d.current.x) * W, y: Math.min(d.start.y, d.current.y) * H,
        width: Math.abs(d.current.x - d.start.x) * W, height: Math.abs(d.current.y - d.start.y) * H,
        stroke: this.colorOf(this.activeTag),
      }));
    }
    // Draw the selected box last so that its handles are on top.
    if (this.selected !== null && items[this.selected]) items.push(items.splice(this.selected, 1)[0]);
    this.svg.replaceChildren(...items);
  }

  boxElement(box, index, W, H) {
    const x = box.left * W;
    const y = box.top * H;
    const w = box.width * W;
    const hgt = box.height * H;
    const color = this.colorOf(box.tagId);
    const selected = index === this.selected;
    const label = box.suggestion
      ? `${box.tagId ? this.nameOf(box.tagId) : 'Object?'} ${Math.round((box.suggestion.probability || 0) * 100)}%`
      : (box.tagId ? this.nameOf(box.tagId) : 'No tag');
    const labelWidth = Math.min(Math.max(w, 24), label.length * 7.2 + 10);
    const labelY = y >= 18 ? y - 18 : y;
    const g = s('g', {
      class: ['box', selected && 'selected', box.suggestion && 'suggested'], 'data-index': index,
      style: { color },
    },
    s('rect', { class: 'box-rect', x, y, width: w, height: hgt }),
    s('rect', { class: 'box-label-bg', x, y: labelY, width: labelWidth, height: 18 }),
    s('text', { class: 'box-label', x: x + 5, y: labelY + 13 }, label));
    if (selected && !box.suggestion) {
      const half = HANDLE_PX / 2;
      const pos = { nw: [x, y], n: [x + w / 2, y], ne: [x + w, y], e: [x + w, y + hgt / 2], se: [x + w, y + hgt], s: [x + w / 2, y + hgt], sw: [x, y + hgt], w: [x, y + hgt / 2] };
      for (const name of HANDLES) {
        const [hx, hy] = pos[name];
        g.append(s('rect', { class: `handle handle-${name}`, 'data-handle': name, x: hx - half, y: hy - half, width: HANDLE_PX, height: HANDLE_PX }));
      }
    }
    return g;
  }
}
