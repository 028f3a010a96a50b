import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliOutput, registerHarnessCommands, stdio } from '@aegle/plugin-sdk/engine';
import { scaffoldPlugin } from '../plugin/scaffold';

/** The SDK's folder, where plugin.schema.json and golden.schema.json live (from source, or from dist/). */
const SDK_ROOT = [5, 6]
  .map((up) => resolve(__dirname, ...Array<string>(up).fill('..'), 'libs', 'plugin-sdk'))
  .find((dir) => existsSync(join(dir, 'plugin.schema.json')))!;

/** `aegle plugin new | validate | run | test`: vendors' tools, all offline. */
export function registerPluginCommands(program: Command, io: CliOutput = stdio): void {
  const plugin = program
    .command('plugin')
    .description('create, validate, run and test model plugins offline');

  plugin
    .command('new')
    .argument('<id>', 'the plugin id, <kind>-<name> (kind: diagnosis, treatment or prognosis)')
    .option('--dir <folder>', 'the folder to create it in', 'plugins')
    .description('scaffold a working plugin: manifest, model build script, model card, golden cases, test')
    .action(async (id: string, options: { dir: string }) => {
      const { dir, files } = await scaffoldPlugin(id, resolve(options.dir), SDK_ROOT);
      io.out(`created ${dir}`);
      for (const file of files) io.out(`  ${file}`);
      io.out(
        `next: edit model/build-model.ts and plugin.json, then \`npx aegle plugin validate ${options.dir}/${id}\``,
      );
    });

  registerHarnessCommands(plugin, io);
}
