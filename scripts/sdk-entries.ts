import { readFileSync } from 'node:fs';

/** An entry point of the SDK package: its import name, declaration file and API report name. */
export interface SdkEntry {
  /** `@aegle/plugin-sdk`, `@aegle/plugin-sdk/onnx`, … */
  name: string;
  /** The declaration file, relative to the package. */
  types: string;
  /** The report's base name in libs/plugin-sdk/etc/ (`plugin-sdk`, `plugin-sdk-onnx`, …). */
  report: string;
}

/** The code entries of the package's "exports" (those with declarations; not the JSON schemas). */
export function sdkEntries(packageJsonPath: string): SdkEntry[] {
  const pkg = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as {
    name: string;
    exports: Record<string, string | { types?: string }>;
  };
  const unscoped = pkg.name.replace(/^@[^/]+\//, '');
  return Object.entries(pkg.exports).flatMap(([path, target]) => {
    if (typeof target === 'string' || !target.types) return [];
    const sub = path.replace(/^\.\/?/, '');
    return [
      {
        name: sub ? `${pkg.name}/${sub}` : pkg.name,
        types: target.types.replace(/^\.\//, ''),
        report: sub ? `${unscoped}-${sub.replace(/\//g, '-')}` : unscoped,
      },
    ];
  });
}
