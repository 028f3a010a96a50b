/** Binary classification metrics; labels are 1 = positive (malignant), 0 = negative (benign). */

export const DEFAULT_THRESHOLD = 0.5;

export interface ConfusionCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export interface ClassificationMetrics extends ConfusionCounts {
  n: number;
  threshold: number;
  accuracy: number;
  /** TP / (TP + FN): malignant cases called malignant. */
  sensitivity: number;
  /** TN / (TN + FP): benign cases called benign. */
  specificity: number;
  rocAuc: number;
}

function checkLengths(labels: readonly number[], scores: readonly number[]): void {
  if (labels.length !== scores.length) throw new Error('metrics: labels and scores differ in length');
  if (labels.length === 0) throw new Error('metrics: no cases');
  for (const label of labels) if (label !== 0 && label !== 1) throw new Error(`metrics: label ${label}`);
}

/** Counts at a threshold: a case is called positive when its score is ≥ the threshold. */
export function confusion(
  labels: readonly number[],
  scores: readonly number[],
  threshold = DEFAULT_THRESHOLD,
): ConfusionCounts {
  checkLengths(labels, scores);
  const counts: ConfusionCounts = { tp: 0, fp: 0, tn: 0, fn: 0 };
  labels.forEach((label, i) => {
    const positive = scores[i] >= threshold;
    if (label === 1) {
      if (positive) counts.tp += 1;
      else counts.fn += 1;
    } else if (positive) counts.fp += 1;
    else counts.tn += 1;
  });
  return counts;
}

export function accuracy(
  labels: readonly number[],
  scores: readonly number[],
  threshold = DEFAULT_THRESHOLD,
): number {
  const c = confusion(labels, scores, threshold);
  return (c.tp + c.tn) / labels.length;
}

export function sensitivity(
  labels: readonly number[],
  scores: readonly number[],
  threshold = DEFAULT_THRESHOLD,
): number {
  const c = confusion(labels, scores, threshold);
  return c.tp / (c.tp + c.fn);
}

export function specificity(
  labels: readonly number[],
  scores: readonly number[],
  threshold = DEFAULT_THRESHOLD,
): number {
  const c = confusion(labels, scores, threshold);
  return c.tn / (c.tn + c.fp);
}

/**
 * ROC AUC by ranks (the Mann–Whitney U statistic): scores are ranked together, tied scores get the
 * average of their ranks, and AUC = (Σ ranks of positives − n₊(n₊+1)/2) / (n₊·n₋). A tie between a
 * positive and a negative counts one half.
 */
export function rocAuc(labels: readonly number[], scores: readonly number[]): number {
  checkLengths(labels, scores);
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
  const ranks = new Array<number>(scores.length);
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && scores[order[end]] === scores[order[start]]) end += 1;
    const averageRank = (start + 1 + end) / 2; // ranks start+1 … end, 1-based
    for (let k = start; k < end; k++) ranks[order[k]] = averageRank;
    start = end;
  }
  let positives = 0;
  let rankSum = 0;
  labels.forEach((label, i) => {
    if (label === 1) {
      positives += 1;
      rankSum += ranks[i];
    }
  });
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) throw new Error('rocAuc: needs both positive and negative cases');
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function classificationMetrics(
  labels: readonly number[],
  scores: readonly number[],
  threshold = DEFAULT_THRESHOLD,
): ClassificationMetrics {
  const c = confusion(labels, scores, threshold);
  return {
    ...c,
    n: labels.length,
    threshold,
    accuracy: (c.tp + c.tn) / labels.length,
    sensitivity: c.tp / (c.tp + c.fn),
    specificity: c.tn / (c.tn + c.fp),
    rocAuc: rocAuc(labels, scores),
  };
}
