import { OutputSpec, PluginManifest } from './manifest';

export type Band = NonNullable<OutputSpec['bands']>[number];

/** One result the plugin produced, ready to become an Observation. */
export interface Finding {
  output: OutputSpec;
  /** In the Observation's unit, rounded to the declared decimals (bounded for a probability). */
  value: number;
  /** `<` or `>` when a probability rounded to 0 or 100 % is reported as its nearest bound. */
  comparator?: '<' | '>';
  band?: Band;
  /** The output's note with the inputs filled in. */
  note?: string;
}

export function bandFor(output: OutputSpec, value: number): Band | undefined {
  return output.bands?.find(
    (b) => (b.min === undefined || value >= b.min) && (b.max === undefined || value < b.max),
  );
}

type NoteFeatures = Record<string, { display?: string; value: number; caveat?: string }>;

/** Fills `{feature}` placeholders with what the model was given. */
export function renderNote(template: string, features: NoteFeatures): string {
  return template.replace(
    /\{([a-zA-Z][a-zA-Z0-9]*)\}/g,
    (match, name: string) => features[name]?.display ?? String(features[name]?.value ?? match),
  );
}

/**
 * A probability as it may be reported: a model is never certain, so a value that rounds to 0 or
 * to 100 % (1 in unit "1") becomes the nearest reportable value with a comparator (`< 0.1`, `> 99.9`).
 */
export function boundedValue(
  output: Pick<OutputSpec, 'probability' | 'unit' | 'decimals'>,
  value: number,
): { value: number; comparator?: '<' | '>' } {
  if (!output.probability) return { value };
  const top = output.unit === '%' ? 100 : 1;
  const step = 10 ** -(output.decimals ?? 6);
  const round = (v: number) => Math.round(v / step) * step;
  if (value <= 0) return { value: Number(round(step).toFixed(10)), comparator: '<' };
  if (value >= top) return { value: Number(round(top - step).toFixed(10)), comparator: '>' };
  return { value };
}

/** The output's note with its placeholders filled, then every caveat about what the model was given. */
function noteFor(output: OutputSpec, features: NoteFeatures): string | undefined {
  const caveats = [...new Set(Object.values(features).flatMap((f) => (f.caveat ? [f.caveat] : [])))];
  const parts = [...(output.note ? [renderNote(output.note, features)] : []), ...caveats];
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/** Maps one request's model outputs (first element of each output tensor row) to findings. */
export function interpretOutputs(
  manifest: PluginManifest,
  outputs: Record<string, number>,
  features: NoteFeatures = {},
): Finding[] {
  return manifest.outputs.map((output) => {
    const raw = outputs[output.tensor];
    if (raw === undefined || !Number.isFinite(raw)) {
      throw new Error(`model output ${output.tensor} is missing or not a finite number`);
    }
    const scaled = raw * output.scale;
    const factor = 10 ** (output.decimals ?? 6);
    const rounded = Math.round(scaled * factor) / factor;
    const band = bandFor(output, rounded);
    const { value, comparator } = boundedValue(output, rounded);
    const note = noteFor(output, features);
    return {
      output,
      value,
      ...(comparator ? { comparator } : {}),
      ...(band ? { band } : {}),
      ...(note ? { note } : {}),
    };
  });
}
