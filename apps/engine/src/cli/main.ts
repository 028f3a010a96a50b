#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { registerCommands } from './commands';

/** `aegle …`: operators' and vendors' command line (`npx aegle <command>`). */
const program = new Command('aegle').description('Aegle: clinical AI models in the EHR').showHelpAfterError();
registerCommands(program);
program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
