import { Command } from 'commander';
import { registerSubscriptionCommands } from './subscriptions';

/** Each command group lives in its own file here and registers itself on the program. */
export function registerCommands(program: Command): void {
  registerSubscriptionCommands(program);
}
