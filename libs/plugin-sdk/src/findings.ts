import { OutputSpec, PluginManifest } from './manifest';

export type Band = NonNullable<OutputSpec['bands']>[number];

/** One result the plugin produced, ready to become an Observation. */
export interface Finding {
  output: OutputSpec;
  /** In the Observation's unit, rounded to the declared decimals. */
  value: number;
  band?: Band;
  /** The output's note with the inputs filled in. */
  note?: string;
}

export function bandFor(output: OutputSpec, value: number): Band | undefined {
  return output.bands?.find(
    (b) => (b.min === undefined || value >= b.min) && (b.max === undefined || value < b.max),
  );
}

/** Fills `{feature}` placeholders with what the model was given. */
export function renderNote(
  template: string,
  features: Record<string, { display?: string; value: number }>,
): string {
  return template.replace(
    /\{([a-zA-Z][a-zA-Z0-9]*)\}/g,
    (match, name: string) => features[name]?.display ?? String(features[name]?.value ?? match),
  );
}

/** Maps one request's model outputs (first element of each output tensor row) to findings. */
export function interpretOutputs(
  manifest: PluginManifest,
  outputs: Record<string, number>,
  features: Record<string, { display?: string; value: number }> = {},
): Finding[] {
  return manifest.outputs.map((output) => {
    const raw = outputs[output.tensor];
    if (raw === undefined || !Number.isFinite(raw)) {
      throw new Error(`model output ${output.tensor} is missing or not a finite number`);
    }
    const scaled = raw * output.scale;
    const factor = 10 ** (output.decimals ?? 6);
    const value = Math.round(scaled * factor) / factor;
    const band = bandFor(output, value);
    const note = output.note && renderNote(output.note, features);
    return { output, value, ...(band ? { band } : {}), ...(note ? { note } : {}) };
  });
}
