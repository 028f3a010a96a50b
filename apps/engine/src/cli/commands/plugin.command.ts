import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runGoldenCases, runPlugin, validatePlugin } from '@aegle/plugin-sdk';
import { scaffoldPlugin } from '../plugin/scaffold';

/** Where the CLI writes; tests pass their own. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

const stdio: CliOutput = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

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

  plugin
    .command('validate')
    .argument('<dir>', 'the plugin folder')
    .description(
      'check the manifest, SDK range, model sha256 and tensors, FHIRPath and code, as Aegle does at load',
    )
    .action(async (dir: string) => {
      const result = await validatePlugin(resolve(dir));
      if (result.valid) {
        io.out(`✓ ${result.key} is valid`);
        return;
      }
      io.err(`✗ ${dir} is not a valid plugin:`);
      for (const problem of result.problems) io.err(`  - ${problem}`);
      process.exitCode = 1;
    });

  plugin
    .command('run')
    .argument('<dir>', 'the plugin folder')
    .requiredOption('--bundle <file>', "a FHIR Bundle with the patient's record")
    .option('--focus <Type/id>', "the event's focus in the bundle (default: the Patient)")
    .option('--now <datetime>', 'the time the run happens at (default: now)')
    .description('run the plugin on a FHIR Bundle: the Observations it would write, or why it skips')
    .action(async (dir: string, options: { bundle: string; focus?: string; now?: string }) => {
      const bundle = JSON.parse(await readFile(resolve(options.bundle), 'utf8')) as fhir4.Bundle;
      if (bundle?.resourceType !== 'Bundle') throw new Error(`${options.bundle} is not a FHIR Bundle`);
      const result = await runPlugin(resolve(dir), bundle, {
        ...(options.focus ? { focus: options.focus } : {}),
        ...(options.now ? { now: options.now } : {}),
      });
      io.out(
        JSON.stringify(
          result.status === 'skipped'
            ? { status: 'skipped', reason: result.reason }
            : { status: 'succeeded', observations: result.observations },
          null,
          2,
        ),
      );
    });

  plugin
    .command('test')
    .argument('<dir>', 'the plugin folder')
    .description('run the golden cases in <dir>/golden/*.json (input Bundle → expected Observations or skip)')
    .action(async (dir: string) => {
      const results = await runGoldenCases(resolve(dir));
      if (results.length === 0) {
        io.err(`✗ no golden cases in ${join(dir, 'golden')}`);
        process.exitCode = 1;
        return;
      }
      for (const r of results) {
        if (r.skipped) io.out(`- ${r.file}: not run: ${r.skipped}`);
        else if (r.passed) io.out(`✓ ${r.file}${r.description ? `: ${r.description}` : ''}`);
        else {
          io.err(`✗ ${r.file}`);
          for (const problem of r.problems) io.err(`  - ${problem}`);
        }
      }
      const failed = results.filter((r) => !r.passed).length;
      io.out(`${results.length - failed} passed, ${failed} failed`);
      if (failed > 0) process.exitCode = 1;
    });
}
