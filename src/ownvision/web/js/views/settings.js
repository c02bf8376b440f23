// Project settings: rename, describe, change domain or classification type; delete the project.

import { updateProject } from '../api.js';
import { errorBox, h, mount, toast } from '../dom.js';
import { projectFields } from './common.js';
import { removeProject } from './projects.js';

export async function render(ctx) {
  const { project, domainList } = ctx;
  ctx.setCrumbs([{ label: 'Settings' }]);
  const fields = projectFields(domainList, project);
  const status = h('div', { 'aria-live': 'polite' });
  const save = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Save changes');

  mount(ctx.body, h('div', { class: 'stack narrow' },
    h('section', { class: 'card', 'aria-labelledby': 'settings-title' },
      h('h2', { id: 'settings-title' }, 'Project settings'),
      h('form', { novalidate: true, onsubmit: async (e) => {
        e.preventDefault();
        const v = fields.values();
        if (!v.name) { mount(status, errorBox('The project needs a name.')); fields.focus(); return; }
        save.disabled = true;
        try {
          await updateProject(project.id, {
            name: v.name,
            description: v.description,
            settings: { ...project.settings, domainId: v.domainId, classificationType: v.classificationType ?? project.settings.classificationType },
          });
          toast('Project saved.', 'ok');
          ctx.navigate(`/projects/${project.id}/settings`, {}, { replace: true });
        } catch (err) {
          mount(status, errorBox(err));
          save.disabled = false;
        }
      } }, fields.element,
      h('p', { class: 'hint' }, 'Changes apply to the next training; iterations already trained keep their settings.'),
      status, h('div', { class: 'form-actions' }, save))),
    h('section', { class: 'card danger-zone', 'aria-labelledby': 'danger-title' },
      h('h2', { id: 'danger-title' }, 'Delete this project'),
      h('p', {}, 'Deletes the images, tags, iterations, published models and stored predictions of this project.'),
      h('button', { class: 'btn btn-danger', type: 'button', onclick: () => removeProject(ctx, project) }, 'Delete project…'))));
}
