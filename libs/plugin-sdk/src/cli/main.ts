import { Command } from 'commander';
import { SDK_VERSION } from '../manifest';
import { registerHarnessCommands } from './harness-commands';

/** `aegle-plugin …`: the SDK's command line, for a plugin developed outside an Aegle checkout. */
const program = new Command('aegle-plugin')
  .description('validate, run and test an Aegle plugin offline')
  .version(SDK_VERSION)
  .showHelpAfterError();
registerHarnessCommands(program);
program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
