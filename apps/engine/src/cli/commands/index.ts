import { Command } from 'commander';
import { registerAuditCommands } from './audit';

/** Each command group lives in its own file here and registers itself on the program. */
export function registerCommands(program: Command): void {
  registerAuditCommands(program);
}
