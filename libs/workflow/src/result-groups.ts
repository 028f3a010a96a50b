import type { OutputSpec } from '@aegle/plugin-sdk';
import { RunOutputs } from './run-outputs';

type Finding = RunOutputs['findings'][number];

/** One Observation to write: a single finding, or several sharing a code as its components. */
export interface ResultGroup {
  /** The first output of the group: its code, category, unit and method head the Observation. */
  spec: OutputSpec;
  findings: Array<{ finding: Finding; spec: OutputSpec }>;
}

/**
 * Findings by the Observation they become: outputs that share a code and declare a `component`
 * are one Observation with components; every other output is an Observation of its own.
 */
export function groupFindings(findings: Finding[], specs: OutputSpec[]): ResultGroup[] {
  const groups = new Map<string, ResultGroup>();
  for (const finding of findings) {
    const spec = specs.find((o) => o.tensor === finding.tensor && o.code.code === finding.code.code);
    if (!spec) continue;
    const key = spec.component
      ? `${spec.code.system}|${spec.code.code}`
      : `${spec.tensor}|${spec.code.system}|${spec.code.code}`;
    const group = groups.get(key) ?? { spec, findings: [] };
    group.findings.push({ finding, spec });
    groups.set(key, group);
  }
  return [...groups.values()];
}
