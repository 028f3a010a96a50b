import type { Band, Coding } from '@aegle/plugin-sdk';

/** What a successful run stores: enough to write the result back without re-running anything. */
export interface RunOutputs {
  raw: Record<string, number[]>;
  findings: Array<{
    tensor: string;
    code: Coding;
    value: number;
    comparator?: '<' | '>';
    unit: string;
    band?: Band;
    note?: string;
  }>;
  /** Clinical time of the newest input. */
  effective: string;
  /** Version-specific references of the inputs. */
  sources: string[];
  focus: string;
  encounter?: string;
}
