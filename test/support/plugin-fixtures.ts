import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginManifestInput } from '@aegle/plugin-sdk';

/** The PCE reference plugin's folder: the fixture tests derive broken or variant plugins from. */
export const PCE_DIR = join(__dirname, '..', '..', 'plugins', 'prognosis-ascvd-pce');

/**
 * A copy of the PCE plugin (manifest, model, golden cases) in a temporary folder, with the
 * manifest edited and extra files written: for tests of the loader, the harness and the engine.
 */
export async function pluginVariant(
  parent: string | undefined,
  name: string,
  edit: (manifest: PluginManifestInput) => void = () => undefined,
  files: Record<string, string | Uint8Array> = {},
): Promise<string> {
  const root = parent ?? (await mkdtemp(join(tmpdir(), 'aegle-plugin-')));
  const dir = join(root, name);
  await cp(PCE_DIR, dir, {
    recursive: true,
    filter: (src) => !/\/(test|model)(\/|$)/.test(src.slice(PCE_DIR.length)),
  });
  const manifest = JSON.parse(await readFile(join(dir, 'plugin.json'), 'utf8')) as PluginManifestInput;
  delete manifest.$schema;
  edit(manifest);
  await writeFile(join(dir, 'plugin.json'), JSON.stringify(manifest, null, 2));
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
  return dir;
}

export async function removeFolder(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
