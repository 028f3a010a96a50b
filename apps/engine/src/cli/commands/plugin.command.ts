import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliOutput, registerHarnessCommands, stdio } from '@aegle/plugin-sdk/engine';
import { scaffoldPlugin } from '../plugin/scaffold';

/**
 * The SDK package as the repository's plugins see it, `node_modules/@aegle/plugin-sdk` (else its
 * source folder), from source or from dist/: where plugin.schema.json and golden.schema.json are.
 */
const SDK_DIR = [5, 6]
  .flatMap((up) =>
    [
      ['node_modules', '@aegle', 'plugin-sdk'],
      ['libs', 'plugin-sdk'],
    ].map((path) => resolve(__dirname, ...Array<string>(up).fill('..'), ...path)),
  )
  .find((dir) => existsSync(join(dir, 'plugin.schema.json')))!;

/** `aegle plugin new | validate | run | test`: vendors' tools, all offline. */
export function registerPluginCommands(program: Command, io: CliOutput = stdio): void {
  const plugin = program
    .command('plugin')
    .description('create, validate, run and test model plugins offline');

  plugin
    .command('new')
    .argument('<id>', 'the plugin id, <kind>-<name> (kind: diagnosis, treatment or prognosis)')
    .option('--dir <folder>', 'the folder to create it in (default: plugins, or . with --standalone)')
    .option('--standalone', 'a package of its own, outside Aegle: depends on @aegle/plugin-sdk, own scripts')
    .description('scaffold a working plugin: manifest, model build script, model card, golden cases, test')
    .action(async (id: string, options: { dir?: string; standalone?: boolean }) => {
      const parent = options.dir ?? (options.standalone ? '.' : 'plugins');
      const { dir, files } = await scaffoldPlugin(id, resolve(parent), {
        sdkDir: SDK_DIR,
        standalone: options.standalone === true,
      });
      io.out(`created ${dir}`);
      for (const file of files) io.out(`  ${file}`);
      io.out(
        options.standalone
          ? `next: \`cd ${join(parent, id)} && npm install && npm test\`, then edit model/build-model.ts and plugin.json`
          : `next: edit model/build-model.ts and plugin.json, then \`npx aegle plugin validate ${parent}/${id}\``,
      );
    });

  registerHarnessCommands(plugin, io);
}
