import { Command } from 'commander';
import { registerDeadLetterCommands } from './dead-letters';

/** Each command group lives in its own file here and registers itself on the program. */
export function registerCommands(program: Command): void {
  registerDeadLetterCommands(program);
}
