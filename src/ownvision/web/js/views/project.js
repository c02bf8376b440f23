// One project: its header and tabs, and the tab's view below them.

import { getProject } from '../api.js';
import { h, loading, mount } from '../dom.js';
import { domains, KINDS, projectKind } from './common.js';
import * as images from './images.js';
import * as label from './label.js';
import * as predictions from './predictions.js';
import * as settings from './settings.js';
import * as train from './train.js';

const TABS = [
  { id: 'images', label: 'Images', view: images.render },
  { id: 'train', label: 'Train & evaluate', view: train.render },
  { id: 'predictions', label: 'Predictions', view: predictions.render },
  { id: 'settings', label: 'Settings', view: settings.render },
];

export async function render(ctx) {
  const [pid, tabId = 'images', sub = null] = ctx.params;
  mount(ctx.main, loading('Loading the project…'));
  const [project, domainList] = await Promise.all([getProject(pid), domains()]);
  if (!ctx.active) return;
  const kind = projectKind(project, domainList);
  const isLabel = tabId === 'label';
  const tab = isLabel ? null : TABS.find((t) => t.id === tabId);
  if (!tab && !isLabel) {
    ctx.navigate(`/projects/${pid}/images`, {}, { replace: true });
    return;
  }
  const body = h('div', { class: 'project-body' });
  const activeTab = isLabel ? 'images' : tab.id;
  mount(ctx.main, h('section', { class: isLabel ? 'page page-wide' : 'page' },
    h('div', { class: 'project-head' },
      h('h1', { tabindex: '-1', class: 'project-title' }, project.name, ' ',
        h('span', { class: `badge badge-${kind}` }, KINDS[kind].short)),
      h('nav', { class: 'tabs', 'aria-label': 'Project sections' },
        TABS.map((t) => h('a', {
          href: `#/projects/${pid}/${t.id}`, class: t.id === activeTab ? 'tab active' : 'tab',
          'aria-current': t.id === activeTab ? 'page' : null,
        }, t.label)))),
    body));

  const crumbs = [{ label: 'Projects', href: '#/projects' }, { label: project.name, href: `#/projects/${pid}/images` }];
  const pctx = Object.assign(Object.create(ctx), {
    pid, project, kind, detection: kind === 'detection', domainList, body, sub,
    setCrumbs: (extra) => ctx.setCrumbs([...crumbs, ...extra]),
  });
  await (isLabel ? label.render(pctx) : tab.view(pctx));
}
