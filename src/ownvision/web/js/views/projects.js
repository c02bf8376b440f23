// The project list: create, open, edit and delete projects.

import { createProject, deleteProject, getProjects } from '../api.js';
import { confirmDialog, date, errorBox, h, loading, mount, openDialog, toast } from '../dom.js';
import { domainName, domains, KINDS, projectFields, projectKind } from './common.js';

export async function render(ctx) {
  ctx.setCrumbs([{ label: 'Projects' }]);
  mount(ctx.main, loading('Loading your projects…'));
  const [list, domainList] = await Promise.all([getProjects(), domains()]);
  if (!ctx.active) return;
  list.sort((a, b) => (b.lastModified || '').localeCompare(a.lastModified || ''));

  const newButton = h('button', { class: 'btn btn-primary', type: 'button', onclick: () => createDialog(ctx, domainList) }, 'New project');
  const cards = list.map((p) => {
    const kind = projectKind(p, domainList);
    return h('li', { class: 'project-card card' },
      h('h2', {}, h('a', { href: `#/projects/${p.id}/images`, class: 'stretched' }, p.name)),
      h('p', { class: 'project-meta' },
        h('span', { class: `badge badge-${kind}` }, KINDS[kind].short), ' ',
        h('span', { class: 'muted' }, domainName(p, domainList))),
      p.description ? h('p', { class: 'project-description' }, p.description) : null,
      h('p', { class: 'muted small' }, `Changed ${date(p.lastModified)}`),
      h('div', { class: 'card-actions' },
        h('a', { class: 'btn btn-small', href: `#/projects/${p.id}/settings`, 'aria-label': `Edit ${p.name}` }, 'Edit'),
        h('button', { class: 'btn btn-small btn-danger-quiet', type: 'button', 'aria-label': `Delete ${p.name}`, onclick: () => remove(ctx, p) }, 'Delete')));
  });

  mount(ctx.main, h('section', { class: 'page' },
    h('div', { class: 'page-head' },
      h('h1', { tabindex: '-1' }, 'Projects'), newButton),
    list.length === 0
      ? h('div', { class: 'empty card' },
        h('h2', {}, 'No projects yet'),
        h('p', {}, 'A project holds your images, their tags or boxes, and the models trained on them.'),
        h('button', { class: 'btn btn-primary', type: 'button', onclick: () => createDialog(ctx, domainList) }, 'Create your first project'))
      : h('ul', { class: 'project-grid', 'aria-label': 'Projects' }, cards)));
}

async function createDialog(ctx, domainList) {
  const created = await openDialog('New project', (close) => {
    const fields = projectFields(domainList);
    const status = h('div', { 'aria-live': 'polite' });
    const submit = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Create project');
    setTimeout(fields.focus, 0);
    return h('form', { novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      const values = fields.values();
      if (!values.name) { mount(status, errorBox('Give the project a name.')); fields.focus(); return; }
      submit.disabled = true;
      try {
        close(await createProject(values));
      } catch (err) {
        mount(status, errorBox(err));
        submit.disabled = false;
      }
    } },
    fields.element, status,
    h('div', { class: 'dialog-actions' }, h('button', { class: 'btn', type: 'button', onclick: () => close(null) }, 'Cancel'), submit));
  });
  if (created) {
    toast(`Project “${created.name}” created.`, 'ok');
    ctx.navigate(`/projects/${created.id}/images`);
  }
}

async function remove(ctx, project) {
  const ok = await confirmDialog({
    title: 'Delete project?',
    message: `“${project.name}” and all its images, tags, iterations and stored predictions will be deleted. This cannot be undone.`,
    confirmLabel: 'Delete project',
  });
  if (!ok) return;
  try {
    await deleteProject(project.id);
    toast(`Project “${project.name}” deleted.`, 'ok');
    ctx.navigate('/projects');
  } catch (err) {
    toast(err.message, 'error');
  }
}

export { remove as removeProject };
