// Sign in with a training key (and, optionally, the prediction key for the prediction views).

import { getProjects } from '../api.js';
import { errorBox, h, mount } from '../dom.js';
import { session } from '../session.js';

export async function render(ctx) {
  ctx.setCrumbs([{ label: 'Sign in' }]);
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const training = h('input', { id: 'training-key', name: 'training-key', type: 'password', required: true, autocomplete: 'off', spellcheck: 'false', value: session.trainingKey });
  const prediction = h('input', { id: 'prediction-key', name: 'prediction-key', type: 'password', autocomplete: 'off', spellcheck: 'false', value: session.predictionKey });
  const button = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Sign in');

  async function submit(event) {
    event.preventDefault();
    const key = training.value.trim();
    if (!key) { mount(status, errorBox('Enter your training key.')); training.focus(); return; }
    button.disabled = true;
    mount(status, h('span', { class: 'muted' }, 'Checking the key…'));
    const previous = [session.trainingKey, session.predictionKey];
    session.signIn(key, prediction.value.trim());
    try {
      await getProjects();
      const next = ctx.query.next && ctx.query.next.startsWith('/') && !ctx.query.next.startsWith('/signin') ? ctx.query.next : '/projects';
      location.hash = `#${next}`;
    } catch (err) {
      if (previous[0]) session.signIn(previous[0], previous[1]); else session.signOut();
      mount(status, errorBox(err.unauthorized ? 'This training key is not valid on this server.' : err.message));
      button.disabled = false;
      training.focus();
      training.select();
    }
  }

  mount(ctx.main, h('section', { class: 'signin card' },
    h('h1', { tabindex: '-1' }, 'Sign in to ownvision'),
    h('p', { class: 'muted' }, 'Use the keys of your account. ', h('code', {}, 'ownvision serve'),
      ' prints them on first start; ', h('code', {}, 'ownvision accounts create NAME'), ' makes new ones.'),
    h('form', { onsubmit: submit, novalidate: true },
      h('label', { class: 'field', for: 'training-key' }, h('span', {}, 'Training key'), training),
      h('label', { class: 'field', for: 'prediction-key' }, h('span', {}, 'Prediction key ', h('small', { class: 'muted' }, '(optional, to try published models)')), prediction),
      h('p', { class: 'hint' }, 'The keys are kept in this browser tab only, and sent only to this server.'),
      status,
      h('div', { class: 'form-actions' }, button))));
  training.focus();
}
