// The Custom Vision Training and Prediction APIs, as this server speaks them.
// Every error body is {"code", "message"}; ApiError carries both plus the HTTP status.

import { session } from './session.js';

export const TRAINING = '/customvision/v3.3/training';
export const PREDICTION = '/customvision/v3.1/prediction';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** True when the server has no such operation (an older server, or a feature not built yet). */
  get unavailable() {
    return (this.status === 404 && this.code === 'NotFound') || this.status === 405 || this.status === 501;
  }

  get unauthorized() { return this.status === 401; }
}

let onUnauthorized = () => {};
/** Called when the server refuses the key (e.g. it was rotated); the app signs out. */
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

async function errorFrom(response) {
  let code = `Http${response.status}`;
  let message = `The server answered ${response.status} ${response.statusText || ''}`.trim();
  try {
    const body = await response.json();
    if (body && typeof body === 'object') {
      code = body.code || code;
      message = body.message || message;
    }
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(response.status, code, message);
}

/**
 * One API call. `key` picks the header ('training' or 'prediction'); `json` is sent as the body;
 * `raw` returns the Response itself (for downloads).
 */
export async function request(method, path, { params, json, body, key = 'training', raw = false, signal, base = TRAINING } = {}) {
  const headers = {};
  if (key === 'training') headers['Training-Key'] = session.trainingKey;
  if (key === 'prediction') headers['Prediction-Key'] = session.predictionKey;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(`${base}${path}${query(params)}`, { method, headers, body, signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'NetworkError', `Cannot reach the server (${err.message}). Check that it is running.`);
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (error.status === 401 && key === 'training') onUnauthorized(error);
    throw error;
  }
  if (raw) return response;
  if (response.status === 204 || response.status === 202) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

const get = (path, params, opts) => request('GET', path, { params, ...opts });

/**
 * POST files as multipart/form-data with upload progress (fetch cannot report it).
 * Resolves with {status, body}; rejects with ApiError on a non-2xx answer.
 */
export function uploadForm(path, params, form, onProgress, { key = 'training', base = TRAINING } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${base}${path}${query(params)}`);
    if (key === 'training') xhr.setRequestHeader('Training-Key', session.trainingKey);
    else xhr.setRequestHeader('Prediction-Key', session.predictionKey);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded, e.total); };
    xhr.onerror = () => reject(new ApiError(0, 'NetworkError', 'The upload was interrupted (is the server running?).'));
    xhr.onload = () => {
      let parsed = null;
      try { parsed = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve({ status: xhr.status, body: parsed });
      else reject(new ApiError(xhr.status, parsed?.code || `Http${xhr.status}`, parsed?.message || `The server answered ${xhr.status}.`));
    };
    xhr.send(form);
  });
}

function chunks(items, size) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// --- Domains and projects -------------------------------------------------------------------

export const getDomains = () => get('/domains');
export const getProjects = () => get('/projects');
export const getProject = (pid) => get(`/projects/${pid}`);
export const createProject = ({ name, description, domainId, classificationType }) =>
  request('POST', '/projects', { params: { name, description, domainId, classificationType } });
export const updateProject = (pid, project) => request('PATCH', `/projects/${pid}`, { json: project });
export const deleteProject = (pid) => request('DELETE', `/projects/${pid}`);

// --- Tags ------------------------------------------------------------------------------------

export const getTags = (pid, iterationId) => get(`/projects/${pid}/tags`, { iterationId });
export const createTag = (pid, name, type = 'Regular') => request('POST', `/projects/${pid}/tags`, { params: { name, type } });
export const deleteTag = (pid, tagId) => request('DELETE', `/projects/${pid}/tags/${tagId}`);

// --- Images ----------------------------------------------------------------------------------

/** filter: {taggingStatus: 'All'|'Tagged'|'Untagged', tagIds: [...]} */
export const getImages = (pid, filter, skip = 0, take = 50) =>
  get(`/projects/${pid}/images`, { taggingStatus: filter.taggingStatus, tagIds: filter.tagIds, skip, take });
export const getImageCount = (pid, filter) =>
  get(`/projects/${pid}/images/count`, { taggingStatus: filter.taggingStatus, tagIds: filter.tagIds });
export const getImagesByIds = (pid, imageIds) => get(`/projects/${pid}/images/id`, { imageIds });

export async function deleteImages(pid, imageIds) {
  for (const part of chunks(imageIds, 256)) await request('DELETE', `/projects/${pid}/images`, { params: { imageIds: part } });
}

export async function tagImages(pid, imageIds, tagIds) {
  const pairs = imageIds.flatMap((imageId) => tagIds.map((tagId) => ({ imageId, tagId })));
  for (const part of chunks(pairs, 128)) await request('POST', `/projects/${pid}/images/tags`, { json: { tags: part } });
}

export async function untagImages(pid, imageIds, tagIds) {
  for (const part of chunks(imageIds, 64)) {
    await request('DELETE', `/projects/${pid}/images/tags`, { params: { imageIds: part, tagIds } });
  }
}

export const createRegions = (pid, regions) => request('POST', `/projects/${pid}/images/regions`, { json: { regions } });
export const deleteRegions = (pid, regionIds) => request('DELETE', `/projects/${pid}/images/regions`, { params: { regionIds } });

// Smart labeler (may be missing on a server: callers check ApiError.unavailable).
export const regionProposals = (pid, imageId) => request('POST', `/projects/${pid}/images/${imageId}/regionproposals`);
export const suggestTagsAndRegions = (pid, iterationId, imageIds) =>
  request('POST', `/projects/${pid}/tagsandregions/suggestions`, { params: { iterationId, imageIds } });

// --- Training and iterations -----------------------------------------------------------------

export const train = (pid, { trainingType, reservedBudgetInHours, forceTrain }) =>
  request('POST', `/projects/${pid}/train`, { params: { trainingType, reservedBudgetInHours, forceTrain } });
export const getIterations = (pid) => get(`/projects/${pid}/iterations`);
export const getIteration = (pid, iid) => get(`/projects/${pid}/iterations/${iid}`);
export const renameIteration = (pid, iid, name) => request('PATCH', `/projects/${pid}/iterations/${iid}`, { json: { name } });
export const deleteIteration = (pid, iid) => request('DELETE', `/projects/${pid}/iterations/${iid}`);
export const getPerformance = (pid, iid, threshold, overlapThreshold) =>
  get(`/projects/${pid}/iterations/${iid}/performance`, { threshold, overlapThreshold });
export const getImagePerformanceCount = (pid, iid) => get(`/projects/${pid}/iterations/${iid}/performance/images/count`);

/** Every held-out image with its predictions (paged 256 at a time, up to `limit`). */
export async function getAllImagePerformances(pid, iid, limit = 4096) {
  const total = Math.min(await getImagePerformanceCount(pid, iid), limit);
  const out = [];
  while (out.length < total) {
    const page = await get(`/projects/${pid}/iterations/${iid}/performance/images`, { skip: out.length, take: 256 });
    if (!page || page.length === 0) break;
    out.push(...page);
  }
  return out;
}

export const publish = (pid, iid, publishName, predictionId = 'ownvision') =>
  request('POST', `/projects/${pid}/iterations/${iid}/publish`, { params: { publishName, predictionId } });
export const unpublish = (pid, iid) => request('DELETE', `/projects/${pid}/iterations/${iid}/publish`);

export const exportIteration = (pid, iid, platform, flavor) =>
  request('POST', `/projects/${pid}/iterations/${iid}/export`, { params: { platform, flavor } });
export const getExports = (pid, iid) => get(`/projects/${pid}/iterations/${iid}/export`);

// --- Predictions -----------------------------------------------------------------------------

export function quickTest(pid, file, { iterationId, store = true } = {}, onProgress) {
  const form = new FormData();
  form.append('imageData', file, file.name || 'image');
  return uploadForm(`/projects/${pid}/quicktest/image`, { iterationId, store }, form, onProgress).then((r) => r.body);
}

/** ClassifyImage or DetectImage on a published iteration, with the Prediction-Key. */
export function predictPublished(pid, publishName, file, detect) {
  const form = new FormData();
  form.append('imageData', file, file.name || 'image');
  const path = `/${pid}/${detect ? 'detect' : 'classify'}/iterations/${encodeURIComponent(publishName)}/image`;
  return uploadForm(path, {}, form, null, { key: 'prediction', base: PREDICTION }).then((r) => r.body);
}

export const queryPredictions = (pid, token) => request('POST', `/projects/${pid}/predictions/query`, { json: token });
export async function deletePredictions(pid, ids) {
  for (const part of chunks(ids, 64)) await request('DELETE', `/projects/${pid}/predictions`, { params: { ids: part } });
}
export const createImagesFromPredictions = (pid, batch) => request('POST', `/projects/${pid}/images/predictions`, { json: batch });

// --- Account (may be missing on a server: callers check ApiError.unavailable) ----------------

export const getAccount = () => get('/account');
export const exportAccount = (signal) => request('GET', '/account/export', { raw: true, signal });
export const deleteAccount = (accountId) => request('DELETE', '/account', { params: { confirm: accountId } });
