/**
 * Deterministic L2-regularised logistic regression, the objective of scikit-learn's
 * `LogisticRegression(C=1)`:
 *
 *   minimise  0.5·||w||² + C·Σᵢ logloss(yᵢ, b + w·zᵢ)
 *
 * over the weights w and an unpenalised intercept b, where zᵢ are the features standardised with the
 * training rows' mean and population SD. Solved by Newton's method (IRLS) with a Cholesky solve of the
 * (d+1)×(d+1) system and an Armijo backtracking safeguard, to a gradient below 1e-12 (machine precision): the exact optimum,
 * and the same floating-point operations in the same order on every run.
 */

export interface LogisticModel {
  /** Coefficients on the standardised features, in feature order. */
  weights: number[];
  intercept: number;
  /** Training rows' mean of each raw feature. */
  means: number[];
  /** Training rows' population SD (divide by n) of each raw feature. */
  sds: number[];
  C: number;
  /** Newton iterations taken. */
  iterations: number;
  /** max |∂objective/∂θ| at the returned solution (θ = weights and intercept). */
  gradientMaxAbs: number;
}

export interface TrainOptions {
  C?: number;
  /** Stop when max |gradient| falls below this. */
  tolerance?: number;
  maxIterations?: number;
}

export interface Standardisation {
  means: number[];
  sds: number[];
}

/** Column means and population SDs, summed in row order. */
export function standardisation(rows: readonly (readonly number[])[]): Standardisation {
  if (rows.length === 0) throw new Error('standardisation: no rows');
  const d = rows[0].length;
  const n = rows.length;
  const means = new Array<number>(d).fill(0);
  for (const row of rows) for (let j = 0; j < d; j++) means[j] += row[j];
  for (let j = 0; j < d; j++) means[j] /= n;
  const sds = new Array<number>(d).fill(0);
  for (const row of rows) {
    for (let j = 0; j < d; j++) {
      const dev = row[j] - means[j];
      sds[j] += dev * dev;
    }
  }
  for (let j = 0; j < d; j++) {
    sds[j] = Math.sqrt(sds[j] / n);
    if (!(sds[j] > 0)) throw new Error(`standardisation: feature ${j} has zero variance`);
  }
  return { means, sds };
}

export function standardise(rows: readonly (readonly number[])[], s: Standardisation): number[][] {
  return rows.map((row) => row.map((x, j) => (x - s.means[j]) / s.sds[j]));
}

/** log(1 + e^x) without overflow. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function linear(z: readonly number[], weights: readonly number[], intercept: number): number {
  let eta = intercept;
  for (let j = 0; j < z.length; j++) eta += weights[j] * z[j];
  return eta;
}

/** The objective 0.5·||w||² + C·Σ logloss on standardised rows z with labels y ∈ {0, 1}. */
export function objective(
  z: readonly (readonly number[])[],
  y: readonly number[],
  weights: readonly number[],
  intercept: number,
  C: number,
): number {
  let penalty = 0;
  for (const w of weights) penalty += w * w;
  let loss = 0;
  for (let i = 0; i < z.length; i++) {
    const eta = linear(z[i], weights, intercept);
    // logloss = -[y log p + (1-y) log(1-p)] = softplus(eta) - y·eta
    loss += softplus(eta) - y[i] * eta;
  }
  return 0.5 * penalty + C * loss;
}

/** Gradient of {@link objective}: [w + C·Zᵀ(p − y), C·Σ(p − y)] (the last entry is the intercept's). */
export function objectiveGradient(
  z: readonly (readonly number[])[],
  y: readonly number[],
  weights: readonly number[],
  intercept: number,
  C: number,
): number[] {
  const d = weights.length;
  const g = new Array<number>(d + 1).fill(0);
  for (let i = 0; i < z.length; i++) {
    const r = sigmoid(linear(z[i], weights, intercept)) - y[i];
    for (let j = 0; j < d; j++) g[j] += r * z[i][j];
    g[d] += r;
  }
  for (let j = 0; j < d; j++) g[j] = weights[j] + C * g[j];
  g[d] = C * g[d];
  return g;
}

/** Solves A x = b for a symmetric positive-definite A by Cholesky factorisation (A = L Lᵀ). */
export function choleskySolve(a: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = b.length;
  const l: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i][j];
      for (let k = 0; k < j; k++) sum -= l[i][k] * l[j][k];
      if (i === j) {
        if (!(sum > 0)) throw new Error('choleskySolve: matrix is not positive definite');
        l[i][i] = Math.sqrt(sum);
      } else {
        l[i][j] = sum / l[j][j];
      }
    }
  }
  const v = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l[i][k] * v[k];
    v[i] = sum / l[i][i];
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let sum = v[i];
    for (let k = i + 1; k < n; k++) sum -= l[k][i] * x[k];
    x[i] = sum / l[i][i];
  }
  return x;
}

function maxAbs(values: readonly number[]): number {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

/** Fits the model on raw training rows (standardised here with their own mean and population SD). */
export function trainLogistic(
  rows: readonly (readonly number[])[],
  y: readonly number[],
  options: TrainOptions = {},
): LogisticModel {
  const C = options.C ?? 1;
  const tolerance = options.tolerance ?? 1e-12;
  const maxIterations = options.maxIterations ?? 100;
  if (rows.length !== y.length) throw new Error('trainLogistic: rows and labels differ in length');

  const s = standardisation(rows);
  const z = standardise(rows, s);
  const d = s.means.length;
  let weights = new Array<number>(d).fill(0);
  let intercept = 0;
  let f = objective(z, y, weights, intercept, C);
  let g = objectiveGradient(z, y, weights, intercept, C);
  let iterations = 0;

  while (maxAbs(g) >= tolerance) {
    if (iterations >= maxIterations) {
      throw new Error(`trainLogistic: no convergence in ${maxIterations} iterations (max |g| ${maxAbs(g)})`);
    }
    iterations += 1;

    // Hessian: diag(1, …, 1, 0) + C·Σ pᵢ(1 − pᵢ) z̃ᵢ z̃ᵢᵀ with z̃ᵢ = [zᵢ, 1].
    const h: number[][] = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
    for (let i = 0; i < z.length; i++) {
      const p = sigmoid(linear(z[i], weights, intercept));
      const sw = p * (1 - p);
      const zi = z[i];
      for (let j = 0; j <= d; j++) {
        const zj = j < d ? zi[j] : 1;
        for (let k = 0; k <= j; k++) h[j][k] += sw * zj * (k < d ? zi[k] : 1);
      }
    }
    for (let j = 0; j <= d; j++) {
      for (let k = 0; k <= j; k++) {
        h[j][k] *= C;
        if (j === k && j < d) h[j][k] += 1;
        h[k][j] = h[j][k];
      }
    }
    const step = choleskySolve(h, g);

    // Armijo backtracking; a full Newton step is accepted near the optimum.
    let slope = 0;
    for (let j = 0; j <= d; j++) slope += g[j] * step[j];
    let t = 1;
    let nextW: number[] = weights;
    let nextB = intercept;
    let nextF = f;
    for (let halvings = 0; ; halvings++) {
      nextW = weights.map((w, j) => w - t * step[j]);
      nextB = intercept - t * step[d];
      nextF = objective(z, y, nextW, nextB, C);
      if (nextF <= f - 1e-4 * t * slope) break;
      if (halvings >= 60) {
        // No decrease representable in floating point: we are at the optimum to machine precision.
        nextW = weights;
        nextB = intercept;
        nextF = f;
        break;
      }
      t /= 2;
    }
    const stalled = nextW === weights;
    weights = nextW;
    intercept = nextB;
    f = nextF;
    g = objectiveGradient(z, y, weights, intercept, C);
    if (stalled) break;
  }

  const gradientMaxAbs = maxAbs(g);
  if (gradientMaxAbs > 1e-8) throw new Error(`trainLogistic: gradient ${gradientMaxAbs} not at an optimum`);
  return { weights, intercept, means: s.means, sds: s.sds, C, iterations, gradientMaxAbs };
}

/** P(y = 1) for raw (unstandardised) rows, as the ONNX graph computes it. */
export function predictProbabilities(model: LogisticModel, rows: readonly (readonly number[])[]): number[] {
  return rows.map((row) => {
    if (row.length !== model.weights.length) {
      throw new Error(`predictProbabilities: expected ${model.weights.length} features, got ${row.length}`);
    }
    let eta = model.intercept;
    for (let j = 0; j < row.length; j++) eta += model.weights[j] * ((row[j] - model.means[j]) / model.sds[j]);
    return sigmoid(eta);
  });
}
