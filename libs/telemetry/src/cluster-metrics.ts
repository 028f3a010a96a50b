import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { registry } from './metrics';

const SCRAPE = 'aegle:scrape';
const SCRAPED = 'aegle:scraped';
const SCRAPE_TIMEOUT_MS = 10_000;

/**
 * Gauges the answering process reads from shared state (Redis, the audit trail) on each scrape:
 * the same figure in every process, so never summed (their aggregator is `omit`); the answering
 * process adds its own fresh values.
 */
const READ_ON_SCRAPE = ['aegle_queue_depth', 'aegle_audit_chain_head'];

interface ScrapeMessage {
  type: typeof SCRAPE;
  id: number;
}
interface ScrapedMessage {
  type: typeof SCRAPED;
  id: number;
  text?: string;
  error?: string;
}

// A child of the HTTP processes' primary answers its requests for this process's metrics (as JSON).
if (cluster.isWorker) {
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();
}

/**
 * In the primary of the HTTP processes: a child that answers a scrape asks here, and gets every
 * child's metrics aggregated by prom-client's AggregatorRegistry (counters and histograms summed,
 * each metric by its own aggregator).
 */
export function serveClusterScrapes(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: ScrapeMessage) => {
    if (message?.type !== SCRAPE) return;
    const reply = (answer: Omit<ScrapedMessage, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: SCRAPED, id: message.id, ...answer });
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (error: unknown) => reply({ error: (error as Error).message }),
    );
  });
}

let nextScrape = 0;
const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
if (cluster.isWorker) {
  process.on('message', (message: ScrapedMessage) => {
    if (message?.type !== SCRAPED) return;
    const waiting = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined)
      waiting?.reject(new Error(`metrics of the other processes: ${message.error}`));
    else waiting?.resolve(message.text ?? '');
  });
}

function scrapeAllProcesses(): Promise<string> {
  const id = nextScrape++;
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error('metrics of the other processes: no answer from the primary'));
    }, SCRAPE_TIMEOUT_MS);
    const settle = () => clearTimeout(timer);
    pending.set(id, {
      resolve: (text) => {
        settle();
        resolve(text);
      },
      reject: (error) => {
        settle();
        reject(error);
      },
    });
    process.send!({ type: SCRAPE, id } satisfies ScrapeMessage);
  });
}

/**
 * The `/metrics` text: this process's registry, or in one of several HTTP processes, the sum over
 * all of them whichever one answers (call after refreshing the gauges read on scrape).
 */
export async function metricsText(): Promise<string> {
  if (!cluster.isWorker) return registry.metrics();
  const [all, ...own] = await Promise.all([
    scrapeAllProcesses(),
    ...READ_ON_SCRAPE.map((name) => registry.getSingleMetricAsString(name)),
  ]);
  return `${all}${own.join('\n\n')}\n`;
}
