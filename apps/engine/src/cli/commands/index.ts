import { Command } from 'commander';
import { registerPluginCommands } from './plugin.command';

/** Each command group lives in its own file here and registers itself on the program. */
export function registerCommands(program: Command): void {
  registerPluginCommands(program);
}
