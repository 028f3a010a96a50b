// What a run stores and write-back reads, declared once. No imports: the admin console's own build
// (apps/console) imports these types too, to show a run's outputs as the engine stored them.

/** A finding as a run stores it (see `Finding`), enough to build its Observation later. */
export interface StoredFinding {
  tensor: string;
  code: { system: string; code: string; display?: string };
  value: number;
  /** `<` or `>`: a probability reported at its bound (see `boundedValue`). */
  comparator?: '<' | '>';
  /** The output's unit, for the audit trail (the Observation takes it from the manifest). */
  unit: string;
  band?: {
    text: string;
    min?: number;
    max?: number;
    interpretation?: { system: string; code: string; display?: string };
  };
  /** The output's note with the inputs filled in. */
  note?: string;
}

/**
 * What a successful run stores (`plugin_runs.outputs`) and write-back reads: everything the
 * result's Observations need, without re-running anything.
 */
export interface RunResult {
  /** The model's outputs, by tensor. */
  raw: Record<string, number[]>;
  findings: StoredFinding[];
  /** Clinical time of the newest input. */
  effective: string;
  /** Version-specific references of the inputs. */
  sources: string[];
  /** Reference of the event's focus (version-specific when known). */
  focus: string;
  encounter?: string;
}
