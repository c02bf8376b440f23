// Small DOM helpers. Text always goes in through textContent, never innerHTML, so names and
// messages from the server cannot inject markup into the page that holds the keys.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') {
      for (const [prop, v] of Object.entries(value)) {
        if (prop.startsWith('--')) el.style.setProperty(prop, v); else el.style[prop] = v;
      }
    }
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected' || key === 'indeterminate') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Create an HTML element: h('button', {class: 'btn', onclick: fn}, 'Save'). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** Create an SVG element (same signature as h). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** Replace the children of el. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const item = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : null }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 4000);
}

/** An inline error message for an ApiError or any Error. */
export function errorBox(err, prefix = '') {
  const message = err && err.message ? err.message : String(err);
  return h('div', { class: 'alert alert-error', role: 'alert' }, prefix ? `${prefix}: ${message}` : message);
}

export function notice(message, kind = 'info') {
  return h('div', { class: `alert alert-${kind}`, role: 'status' }, message);
}

/**
 * A modal dialog built on <dialog>. `build(close)` returns the body; the promise resolves with
 * whatever close() is given (undefined when dismissed with Escape).
 */
export function openDialog(title, build, { wide = false } = {}) {
  return new Promise((resolve) => {
    let result;
    const dialog = h('dialog', { class: wide ? 'dialog dialog-wide' : 'dialog', 'aria-labelledby': 'dialog-title' });
    const close = (value) => { result = value; dialog.close(); };
    dialog.append(h('h2', { id: 'dialog-title' }, title), build(close));
    dialog.addEventListener('close', () => { dialog.remove(); resolve(result); });
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector('[autofocus], input, select, textarea, button.btn-primary, button');
    if (first) first.focus();
  });
}

/**
 * Ask before a destructive action. With `typed`, the user must type that exact text to enable the button.
 */
export function confirmDialog({ title, message, confirmLabel = 'Delete', danger = true, typed = null }) {
  return openDialog(title, (close) => {
    const ok = h('button', { class: danger ? 'btn btn-danger' : 'btn btn-primary', type: 'submit', disabled: Boolean(typed) }, confirmLabel);
    const input = typed ? h('input', {
      type: 'text', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'typed-hint',
      oninput: () => { ok.disabled = input.value.trim() !== typed; },
    }) : null;
    return h('form', { method: 'dialog', onsubmit: (e) => { e.preventDefault(); if (!ok.disabled) close(true); } },
      h('p', {}, message),
      typed ? h('label', { class: 'field' },
        h('span', { id: 'typed-hint' }, 'Type ', h('code', {}, typed), ' to confirm'), input) : null,
      h('div', { class: 'dialog-actions' },
        h('button', { class: 'btn', type: 'button', onclick: () => close(false) }, 'Cancel'), ok));
  }).then(Boolean);
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

export function pct(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return `${(x * 100).toFixed(digits)}%`;
}

export function date(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A spinner line shown while a view loads. */
export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** Stable colour for a tag (by its position in the tag list), readable on white. */
const PALETTE = ['#0b5cad', '#b42318', '#1a7f37', '#8250df', '#b35900', '#0a7b83', '#bf3989', '#5a6b00', '#6e5494', '#a0522d'];
export function tagColor(index) {
  return PALETTE[((index % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

/** Download a Blob under a file name. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}
