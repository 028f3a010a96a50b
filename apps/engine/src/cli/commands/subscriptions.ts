import { Command } from 'commander';
import { loadConfig } from '@aegle/config';
import { EhrClients } from '@aegle/fhir';
import { ManagedSubscription, SubscriptionManager } from '@aegle/subscriptions';

function manager(): SubscriptionManager {
  const config = loadConfig();
  return new SubscriptionManager(config, new EhrClients(config));
}

function print(subscriptions: ManagedSubscription[]): void {
  if (subscriptions.length === 0) {
    process.stdout.write('no Aegle subscription on this source\n');
    return;
  }
  for (const s of subscriptions) {
    process.stdout.write(
      `Subscription/${s.id}  ${s.status.padEnd(9)}  ${s.kind.padEnd(8)}  ${s.criteria}` +
        (s.error ? `  error: ${s.error}` : '') +
        '\n',
    );
  }
}

/** `aegle subscriptions create|status|reactivate|delete --source <id>`: the EHR side of the intake. */
export function registerSubscriptionCommands(program: Command): void {
  const group = program
    .command('subscriptions')
    .description('manage the Subscriptions on a source EHR that make it notify Aegle');

  group
    .command('create')
    .description('create them (classic rest-hook per criteria, or Backport topic-based when a topic is set)')
    .requiredOption('--source <id>', 'the source, as named in aegle.config.yaml')
    .option(
      '--endpoint <url>',
      'where the EHR should send notifications (default: {intake.publicUrl}/fhir/notify/{source})',
    )
    .action(async (options: { source: string; endpoint?: string }) => {
      print(await manager().create(options.source, options.endpoint));
    });

  group
    .command('status')
    .description("show Aegle's subscriptions on the EHR and their status there")
    .requiredOption('--source <id>', 'the source')
    .action(async (options: { source: string }) => print(await manager().status(options.source)));

  group
    .command('reactivate')
    .description('set errored or switched-off subscriptions back to requested')
    .requiredOption('--source <id>', 'the source')
    .action(async (options: { source: string }) => print(await manager().reactivate(options.source)));

  group
    .command('delete')
    .description("remove Aegle's subscriptions from the EHR")
    .requiredOption('--source <id>', 'the source')
    .action(async (options: { source: string }) => {
      process.stdout.write(`removed ${await manager().remove(options.source)} subscription(s)\n`);
    });
}
