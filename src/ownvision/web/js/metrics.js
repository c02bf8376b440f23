// Precision-recall curves and mistakes, computed in the page from GetImagePerformances: every
// held-out image with its predicted probabilities (and boxes) and its true tags (and regions).

/** Intersection over union of two normalised boxes {left, top, width, height}. */
export function iou(a, b) {
  const x0 = Math.max(a.left, b.left);
  const y0 = Math.max(a.top, b.top);
  const x1 = Math.min(a.left + a.width, b.left + b.width);
  const y1 = Math.min(a.top + a.height, b.top + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Walk scored items (highest first) into a curve. items: [{score, tp: bool}], positives: how many
 * true objects there are. Returns {points: [{threshold, precision, recall}], ap}; AP is the area
 * under the interpolated curve (precision made monotone from the right), as in VOC/COCO.
 */
export function curve(items, positives) {
  const sorted = items.slice().sort((a, b) => b.score - a.score);
  const points = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i].tp) tp++; else fp++;
    const last = i === sorted.length - 1 || sorted[i + 1].score !== sorted[i].score;
    if (last) points.push({ threshold: sorted[i].score, precision: tp / (tp + fp), recall: positives ? tp / positives : 0 });
  }
  let ap = 0;
  let prevRecall = 0;
  for (let i = 0; i < points.length; i++) {
    let best = 0;
    for (let j = i; j < points.length; j++) best = Math.max(best, points[j].precision);
    ap += (points[i].recall - prevRecall) * best;
    prevRecall = points[i].recall;
  }
  return { points, ap: positives ? ap : null };
}

function trueTags(image) {
  return new Set((image.tags || []).map((t) => t.tagId));
}

/** Match detections to true regions of one tag in one image, highest score first. */
function matchImage(image, tagId, overlap) {
  const truth = (image.regions || []).filter((r) => r.tagId === tagId);
  const used = new Array(truth.length).fill(false);
  const dets = (image.predictions || []).filter((p) => p.tagId === tagId && p.boundingBox).sort((a, b) => b.probability - a.probability);
  return {
    truth: truth.length,
    dets: dets.map((d) => {
      let best = -1;
      let bestIou = overlap;
      truth.forEach((r, k) => {
        if (used[k]) return;
        const v = iou(d.boundingBox, r);
        if (v >= bestIou) { best = k; bestIou = v; }
      });
      if (best >= 0) used[best] = true;
      return { score: d.probability, tp: best >= 0, box: d.boundingBox };
    }),
  };
}

/**
 * Per-tag PR curves. tags: [{id, name}]. Returns [{tag, points, ap, positives}].
 */
export function prCurves(images, tags, { detection = false, overlap = 0.5 } = {}) {
  return tags.map((tag) => {
    const items = [];
    let positives = 0;
    for (const image of images) {
      if (detection) {
        const m = matchImage(image, tag.id, overlap);
        positives += m.truth;
        items.push(...m.dets);
      } else {
        const isTrue = trueTags(image).has(tag.id);
        if (isTrue) positives++;
        const p = (image.predictions || []).find((x) => x.tagId === tag.id);
        items.push({ score: p ? p.probability : 0, tp: isTrue });
      }
    }
    return { tag, positives, ...curve(items, positives) };
  });
}

/**
 * The held-out images the model got wrong at `threshold`: a true tag (or box) missed, or a tag
 * (or box) predicted that is not there. Returns [{image, missed: [tagId], extra: [{tagId, probability}]}].
 */
export function mistakes(images, { threshold = 0.5, detection = false, overlap = 0.5 } = {}) {
  const out = [];
  for (const image of images) {
    const missed = [];
    const extra = [];
    if (detection) {
      const tagIds = new Set([...(image.regions || []).map((r) => r.tagId), ...(image.predictions || []).map((p) => p.tagId)]);
      for (const tagId of tagIds) {
        const truth = (image.regions || []).filter((r) => r.tagId === tagId);
        const used = new Array(truth.length).fill(false);
        const dets = (image.predictions || []).filter((p) => p.tagId === tagId && p.boundingBox && p.probability >= threshold)
          .sort((a, b) => b.probability - a.probability);
        for (const d of dets) {
          const k = truth.findIndex((r, i) => !used[i] && iou(d.boundingBox, r) >= overlap);
          if (k >= 0) used[k] = true; else extra.push({ tagId, probability: d.probability });
        }
        used.forEach((u) => { if (!u) missed.push(tagId); });
      }
    } else {
      const truth = trueTags(image);
      const predicted = (image.predictions || []).filter((p) => p.probability >= threshold);
      for (const tagId of truth) if (!predicted.some((p) => p.tagId === tagId)) missed.push(tagId);
      for (const p of predicted) if (!truth.has(p.tagId)) extra.push({ tagId: p.tagId, probability: p.probability });
    }
    if (missed.length || extra.length) out.push({ image, missed, extra });
  }
  return out;
}

/** The point of a curve at a threshold: the last point whose threshold is still >= t. */
export function pointAt(points, threshold) {
  let found = null;
  for (const p of points) if (p.threshold >= threshold) found = p;
  return found;
}
