import { Command } from 'commander';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runGoldenCases, runPlugin, validatePlugin } from '../harness';
import { importWithSdk } from '../plugin-code';

/** Where the commands write; tests pass their own. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: CliOutput = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/**
 * The offline harness as commands, `validate | run | test | build-model <dir>`, on `command`: the
 * SDK's own `aegle-plugin` and the engine's `aegle plugin` register the same ones.
 */
export function registerHarnessCommands(command: Command, io: CliOutput = stdio): void {
  command
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

  command
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

  command
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

  command
    .command('build-model')
    .argument('<dir>', 'the plugin folder')
    .description("write model.onnx from model/build-model.ts's buildModel() and print its sha256")
    .action(async (dir: string) => {
      const script = join(resolve(dir), 'model', 'build-model.ts');
      const { buildModel } = await importWithSdk<{ buildModel?: () => Uint8Array }>(script);
      if (typeof buildModel !== 'function') throw new Error(`${script} must export buildModel()`);
      const bytes = buildModel();
      await writeFile(join(resolve(dir), 'model.onnx'), bytes);
      io.out(`model.onnx sha256 ${createHash('sha256').update(bytes).digest('hex')}`);
    });
}
