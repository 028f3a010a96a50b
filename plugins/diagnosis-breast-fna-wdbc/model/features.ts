/**
 * The 30 Wisconsin (WDBC) FNA cytology features, in the order of the data file's columns and of the
 * ONNX graph's `features` input. Codes are those of the Aegle CodeSystem in `../codesystem.json`
 * (`https://fhir.aegle.dev/CodeSystem/wdbc-fna-features`).
 */

export const WDBC_CODESYSTEM_URL = 'https://fhir.aegle.dev/CodeSystem/wdbc-fna-features';

/** The ten nuclear features computed for each nucleus in the digitised image, in data-file order. */
export const NUCLEAR_FEATURES = [
  'radius',
  'texture',
  'perimeter',
  'area',
  'smoothness',
  'compactness',
  'concavity',
  'concave-points',
  'symmetry',
  'fractal-dimension',
] as const;

/** The three summaries over the nuclei of one image, in data-file order (all means, then SEs, then worsts). */
export const SUMMARIES = ['mean', 'se', 'worst'] as const;

/** Feature codes in model-input order: `radius-mean` … `fractal-dimension-mean`, `radius-se` …, `radius-worst` …. */
export const FEATURE_CODES: readonly string[] = SUMMARIES.flatMap((summary) =>
  NUCLEAR_FEATURES.map((feature) => `${feature}-${summary}`),
);

/** The column names the data file's distributor (scikit-learn) uses, same order as {@link FEATURE_CODES}. */
export const CSV_FEATURE_NAMES: readonly string[] = SUMMARIES.flatMap((summary) =>
  NUCLEAR_FEATURES.map((feature) => {
    const words = feature.replace('-', ' ');
    if (summary === 'mean') return `mean ${words}`;
    if (summary === 'se') return `${words} error`;
    return `worst ${words}`;
  }),
);

export const FEATURE_COUNT = 30;
