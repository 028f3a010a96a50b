/**
 * `npm run models:train -- diagnosis-pneumonia-cxr`: trains the CNN with Debian's PyTorch
 * (`train.py`), then validates the exported ONNX file with onnxruntime-node, chooses the operating
 * threshold on the validation split, and writes `validation.json`, the sha256 and the model card's
 * figures. Installs nothing: it says what is missing.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as prettier from 'prettier';
import { renderGenerated, withGenerated, type TrainingSummary } from './card';
import {
  loadPneumoniaMnist,
  PNEUMONIAMNIST_ABSENT,
  PNEUMONIAMNIST_FILE,
  pneumoniaMnistPresent,
} from './dataset';
import {
  MODEL_CARD_FILE,
  MODEL_FILE,
  MODEL_SHA256_FILE,
  predict,
  TRAINING_FILE,
  VALIDATION_FILE,
  validationFigures,
} from './validate';

/** Debian's interpreter, where `apt-get install python3-torch python3-onnx` puts the modules. */
const PYTHON = '/usr/bin/python3';
const PYTHON_PACKAGES: Record<string, string> = {
  numpy: 'python3-numpy',
  torch: 'python3-torch',
  onnx: 'python3-onnx',
};

function missingPrerequisites(): string | undefined {
  const probe = spawnSync(
    PYTHON,
    [
      '-c',
      'import importlib.util, sys; print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))',
      ...Object.keys(PYTHON_PACKAGES),
    ],
    { encoding: 'utf8' },
  );
  if (probe.error || probe.status !== 0) {
    return `${PYTHON} does not run (${probe.error?.message ?? probe.stderr.trim()}). Install it with: apt-get install python3 ${Object.values(PYTHON_PACKAGES).join(' ')}`;
  }
  const missing = probe.stdout.trim().split(/\s+/).filter(Boolean);
  if (missing.length === 0) return undefined;
  return (
    `${PYTHON} lacks the Python module(s) ${missing.join(', ')}. Install them with: ` +
    `apt-get install ${missing.map((m) => PYTHON_PACKAGES[m]).join(' ')}`
  );
}

/** Written as `npm run lint` wants it (the card's tables padded, the JSON wrapped). */
async function writeFormatted(file: string, text: string): Promise<void> {
  const style = await prettier.resolveConfig(file);
  writeFileSync(file, await prettier.format(text, { ...style, filepath: file }));
}

async function main(): Promise<void> {
  if (!pneumoniaMnistPresent()) {
    process.stdout.write(`Not training: ${PNEUMONIAMNIST_ABSENT}\n`);
    return;
  }
  const missing = missingPrerequisites();
  if (missing) {
    process.stderr.write(`${missing}\n`);
    process.exitCode = 1;
    return;
  }
  const run = spawnSync(
    PYTHON,
    [path.join(__dirname, 'train.py'), PNEUMONIAMNIST_FILE, MODEL_FILE, TRAINING_FILE],
    // One thread everywhere: the run is then reproducible bit for bit.
    {
      stdio: 'inherit',
      env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1', PYTHONHASHSEED: '0' },
    },
  );
  if (run.status !== 0) {
    process.stderr.write(`train.py failed (${run.error?.message ?? `exit ${run.status}`})\n`);
    process.exitCode = 1;
    return;
  }

  const bytes = new Uint8Array(readFileSync(MODEL_FILE));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(MODEL_SHA256_FILE, `${sha256}  ${path.basename(MODEL_FILE)}\n`);
  const val = loadPneumoniaMnist('val');
  const figures = validationFigures(val.labels, await predict(bytes, val));
  writeFileSync(VALIDATION_FILE, `${JSON.stringify(figures, null, 2)}\n`);
  const training = JSON.parse(readFileSync(TRAINING_FILE, 'utf8')) as TrainingSummary;
  await writeFormatted(TRAINING_FILE, JSON.stringify(training));
  const card = readFileSync(MODEL_CARD_FILE, 'utf8');
  await writeFormatted(
    MODEL_CARD_FILE,
    withGenerated(card, renderGenerated(figures, training, sha256, bytes.length)),
  );

  process.stdout.write(
    `${path.relative(process.cwd(), MODEL_FILE)}: sha256 ${sha256}\n` +
      `validation (n ${figures.n}): AUC ${figures.rocAuc.toFixed(4)}, threshold ${figures.threshold}, ` +
      `sensitivity ${figures.sensitivity.toFixed(4)}, specificity ${figures.specificity.toFixed(4)}, ` +
      `Brier ${figures.brier.toFixed(4)}\n`,
  );
  if (figures.rocAuc < 0.99 || figures.sensitivity < 0.95) {
    process.stderr.write('below the floors (AUC ≥ 0.99, sensitivity ≥ 0.95): do not ship this model\n');
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
