import { createHash } from 'node:crypto';
import { rcompare } from 'semver';
import type { RunMode } from '@aegle/store';

export type { RunMode };

export interface RolloutConfig {
  live?: string;
  canary?: { version: string; percent: number };
  shadow: string[];
}

/**
 * The patient's stable bucket in [0, 100) for one plugin: the same patient always lands in the
 * same bucket, so a canary follows a patient over time rather than flickering between versions.
 */
export function canaryBucket(pluginId: string, patientKey: string): number {
  const hash = createHash('sha256').update(`${pluginId}|${patientKey}`).digest();
  return (hash.readUInt32BE(0) / 2 ** 32) * 100;
}

/**
 * Which loaded versions of one plugin run for this patient, and how. Without a rollout entry the
 * highest version is live and the others idle. A pinned live version that is not loaded is not
 * replaced by another: nothing of that plugin writes until it is fixed.
 */
export function selectVersions(
  pluginId: string,
  loaded: readonly string[],
  rollout: RolloutConfig | undefined,
  patientKey: string,
): Array<{ version: string; mode: RunMode }> {
  const has = (v: string | undefined): v is string => !!v && loaded.includes(v);
  const live = rollout?.live ?? [...loaded].sort(rcompare)[0];
  const canary = rollout?.canary;
  const writer =
    canary && has(canary.version) && canaryBucket(pluginId, patientKey) < canary.percent
      ? { version: canary.version, mode: 'canary' as const }
      : has(live)
        ? { version: live, mode: 'live' as const }
        : undefined;
  const shadows = (rollout?.shadow ?? [])
    .filter((v) => has(v) && v !== writer?.version)
    .map((version) => ({ version, mode: 'shadow' as const }));
  return [...(writer ? [writer] : []), ...shadows];
}
