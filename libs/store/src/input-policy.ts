import { createHmac } from 'node:crypto';
import type { AegleConfig } from '@aegle/config';

/**
 * Applies the PHI policy to a run's inputs before they are stored. Under `hash`, each feature's
 * `value` becomes `valueHmac` (HMAC-SHA256 with the configured key, so a small numeric domain cannot
 * be reversed by hashing every candidate); unit, source reference and version are kept, so the run
 * stays reproducible from the EHR's history and checkable by whoever holds the key.
 */
export function protectInputs(inputs: object | undefined, audit: AegleConfig['audit']): object | undefined {
  if (!inputs || audit.storeInputs === 'full') return inputs;
  const key = audit.inputHashKey!.reveal();
  return Object.fromEntries(
    Object.entries(inputs).map(([name, feature]) => {
      if (!feature || typeof feature !== 'object' || !('value' in feature)) return [name, feature];
      // `display` spells the value out ("237 mg/dL", a coded answer's text), and so do `caveat`
      // ("Race recorded as …"), `recorded` and `defaulted` (nothing on file): they go with it.
      const {
        value,
        values,
        display: _display,
        caveat: _caveat,
        recorded: _recorded,
        defaulted: _defaulted,
        ...rest
      } = feature as {
        value: unknown;
        values?: unknown;
        display?: unknown;
        caveat?: unknown;
        recorded?: unknown;
        defaulted?: unknown;
      };
      // An image input's tensor is the image itself: it is kept only as its HMAC too.
      return [
        name,
        {
          ...rest,
          valueHmac: inputHmac(key, name, value),
          ...(values !== undefined ? { valuesHmac: inputHmac(key, name, values) } : {}),
        },
      ];
    }),
  );
}

/** HMAC of one input value, bound to the feature name. */
export function inputHmac(key: string, name: string, value: unknown): string {
  return createHmac('sha256', key)
    .update(JSON.stringify([name, value]))
    .digest('hex');
}
