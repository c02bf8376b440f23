// Things several views share: the domain list, project kinds, and the project form fields.

import { getDomains } from '../api.js';
import { h } from '../dom.js';

let domainsPromise = null;

/** GetDomains, fetched once per page load. */
export function domains() {
  if (!domainsPromise) domainsPromise = getDomains().catch((err) => { domainsPromise = null; throw err; });
  return domainsPromise;
}

export const KINDS = {
  multiclass: { label: 'Classification: one tag per image', short: 'Multiclass', detection: false },
  multilabel: { label: 'Classification: several tags per image', short: 'Multilabel', detection: false },
  detection: { label: 'Object detection: boxes around objects', short: 'Object detection', detection: true },
};

/** 'detection' | 'multiclass' | 'multilabel' for a project (its domain decides detection). */
export function projectKind(project, domainList) {
  const domain = domainList.find((d) => d.id === project.settings.domainId);
  if (domain && domain.type === 'ObjectDetection') return 'detection';
  return project.settings.classificationType === 'Multilabel' ? 'multilabel' : 'multiclass';
}

export function domainName(project, domainList) {
  return domainList.find((d) => d.id === project.settings.domainId)?.name || 'Unknown domain';
}

/**
 * The fields of the project form: name, description, kind and domain. Returns {element, values()}.
 * With `fixedType`, the kind can only change between multiclass and multilabel (the server refuses
 * to turn a classification project into a detection one and back).
 */
export function projectFields(domainList, project = null) {
  const current = project ? projectKind(project, domainList) : 'multiclass';
  const name = h('input', { id: 'project-name', name: 'name', required: true, maxlength: '256', value: project?.name || '', autocomplete: 'off' });
  const description = h('textarea', { id: 'project-description', name: 'description', rows: '2', maxlength: '1024' });
  description.value = project?.description || '';
  const domain = h('select', { id: 'project-domain', name: 'domain' });
  const kindInputs = Object.entries(KINDS).map(([value, kind]) => {
    const disabled = project && kind.detection !== KINDS[current].detection;
    return h('label', { class: disabled ? 'choice disabled' : 'choice' },
      h('input', { type: 'radio', name: 'kind', value, checked: value === current, disabled, onchange: fillDomains }),
      kind.label);
  });

  function kind() {
    return kindInputs.map((l) => l.querySelector('input')).find((i) => i.checked)?.value || 'multiclass';
  }

  function fillDomains() {
    const wanted = KINDS[kind()].detection ? 'ObjectDetection' : 'Classification';
    const keep = domain.value || project?.settings.domainId;
    const options = domainList.filter((d) => d.type === wanted && d.enabled !== false);
    domain.replaceChildren(...options.map((d) => h('option', { value: d.id }, d.exportable ? `${d.name} · exportable` : d.name)));
    const preferred = options.find((d) => d.id === keep) || options.find((d) => d.name === 'General') || options[0];
    if (preferred) domain.value = preferred.id;
  }
  fillDomains();

  const element = h('div', { class: 'fields' },
    h('label', { class: 'field', for: 'project-name' }, h('span', {}, 'Name'), name),
    h('label', { class: 'field', for: 'project-description' }, h('span', {}, 'Description ', h('small', { class: 'muted' }, '(optional)')), description),
    h('fieldset', { class: 'field' }, h('legend', {}, 'Project type'), ...kindInputs),
    h('label', { class: 'field', for: 'project-domain' }, h('span', {}, 'Domain'), domain,
      h('small', { class: 'hint' }, 'Compact domains train smaller models that can be exported.')));

  return {
    element,
    focus: () => name.focus(),
    values: () => ({
      name: name.value.trim(),
      description: description.value.trim(),
      domainId: domain.value,
      classificationType: KINDS[kind()].detection ? undefined : (kind() === 'multilabel' ? 'Multilabel' : 'Multiclass'),
    }),
  };
}

/** A labelled <select> of tags. */
export function tagSelect(tags, { id, label, empty = null, value = '' } = {}) {
  const select = h('select', { id },
    empty !== null ? h('option', { value: '' }, empty) : null,
    tags.map((t) => h('option', { value: t.id }, t.name)));
  select.value = value;
  return { select, element: h('label', { class: 'field-inline', for: id }, h('span', {}, label), select) };
}

/** A text input plus button that creates a tag; calls onCreate(name). */
export function newTagForm(onCreate, { id = 'new-tag' } = {}) {
  const input = h('input', { id, type: 'text', placeholder: 'New tag name', maxlength: '256', autocomplete: 'off' });
  const form = h('form', { class: 'inline-form', onsubmit: async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) { input.focus(); return; }
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await onCreate(value);
      input.value = '';
    } finally {
      button.disabled = false;
    }
  } },
  h('label', { class: 'sr-only', for: id }, 'New tag name'), input,
  h('button', { class: 'btn', type: 'submit' }, 'Add tag'));
  return form;
}
