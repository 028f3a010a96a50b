// A separate process writing audited stories into the same database, to race another writer.
import { connectAuditStore, recordStory } from './audit-db';

async function main(): Promise<void> {
  const [url, count] = process.argv.slice(2);
  const store = await connectAuditStore(url);
  await Promise.all(Array.from({ length: Number(count) }, () => recordStory(store)));
  await store.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
