// The portal's entry point: hash routing, the top bar, and the life cycle of views.
// A view is `render(ctx)`; it draws into ctx.main and registers cleanups (timers, key handlers)
// with ctx.onCleanup; ctx.signal is aborted when the user navigates away.

import { setUnauthorizedHandler } from './api.js';
import { h, mount, toast } from './dom.js';
import { session } from './session.js';
import * as account from './views/account.js';
import * as project from './views/project.js';
import * as projects from './views/projects.js';
import * as signin from './views/signin.js';

const GUID = '([0-9a-fA-F-]{36})';
const ROUTES = [
  { pattern: /^\/signin$/, view: signin.render, open: true },
  { pattern: /^\/projects$/, view: projects.render },
  { pattern: new RegExp(`^/projects/${GUID}(?:/([a-z]+))?(?:/${GUID})?$`), view: project.render },
  { pattern: /^\/account$/, view: account.render },
];

const main = document.getElementById('main');
let current = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/projects';
  const [path, search = ''] = raw.split('?');
  return { path, query: Object.fromEntries(new URLSearchParams(search)) };
}

export function navigate(path, query = {}, { replace = false } = {}) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();
  const hash = `#${path}${q ? `?${q}` : ''}`;
  if (replace) {
    history.replaceState(null, '', hash);
    route();
  } else if (location.hash === hash) {
    route();
  } else {
    location.hash = hash;
  }
}

/** Change the address without re-rendering (the labeler steps through images this way). */
export function setAddress(path, query = {}) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();
  history.replaceState(null, '', `#${path}${q ? `?${q}` : ''}`);
}

function setCrumbs(items) {
  const nav = document.getElementById('crumbs');
  const list = h('ol');
  items.forEach((item, i) => {
    const last = i === items.length - 1;
    list.append(h('li', {}, last || !item.href ? h('span', { 'aria-current': last ? 'page' : null }, item.label)
      : h('a', { href: item.href }, item.label)));
  });
  mount(nav, list);
  document.title = items.length ? `${items[items.length - 1].label} · ownvision` : 'ownvision';
}

function renderSession() {
  const box = document.getElementById('session');
  if (!session.signedIn) { mount(box); return; }
  mount(box,
    h('a', { class: 'btn btn-quiet', href: '#/account' }, 'Account'),
    h('button', { class: 'btn btn-quiet', type: 'button', onclick: signOut }, 'Sign out'));
}

function signOut() {
  session.signOut();
  navigate('/signin');
}

async function route() {
  if (current) {
    current.controller.abort();
    for (const fn of current.cleanups.splice(0)) {
      try { fn(); } catch (err) { console.error(err); }
    }
  }
  const { path, query } = parseHash();
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  renderSession();
  if (!match) {
    setCrumbs([{ label: 'Not found' }]);
    mount(main, h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, h('a', { href: '#/projects' }, 'Back to your projects'))));
    return;
  }
  if (!match.r.open && !session.signedIn) {
    navigate('/signin', { next: location.hash.replace(/^#/, '') }, { replace: true });
    return;
  }
  const controller = new AbortController();
  const cleanups = [];
  current = { controller, cleanups };
  const ctx = {
    main, query, path, params: match.m.slice(1), signal: controller.signal,
    onCleanup: (fn) => cleanups.push(fn), setCrumbs, navigate, setAddress,
    get active() { return !controller.signal.aborted; },
  };
  try {
    await match.r.view(ctx);
  } catch (err) {
    if (controller.signal.aborted || err.name === 'AbortError') return;
    console.error(err);
    mount(main, h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, 'Something went wrong'),
      h('div', { class: 'alert alert-error', role: 'alert' }, err.message || String(err)),
      h('p', {}, h('a', { href: '#/projects' }, 'Back to your projects'))));
  }
}

setUnauthorizedHandler((err) => {
  if (!session.signedIn) return;
  session.signOut();
  toast(`Signed out: ${err.message}`, 'error');
  navigate('/signin');
});

window.addEventListener('hashchange', route);
route();
