import { Command } from 'commander';
import { registerAuditCommands } from './audit';
import { registerDeadLetterCommands } from './dead-letters';
import { registerPluginCommands } from './plugin.command';
import { registerSubscriptionCommands } from './subscriptions';

/** Each command group lives in its own file here and registers itself on the program. */
export function registerCommands(program: Command): void {
  registerAuditCommands(program);
  registerDeadLetterCommands(program);
  registerPluginCommands(program);
  registerSubscriptionCommands(program);
}
