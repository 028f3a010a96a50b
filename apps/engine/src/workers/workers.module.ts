import {
  DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { Worker } from 'bullmq';
import { AEGLE_CONFIG, AegleConfig, WorkerExecution } from '@aegle/config';
import { failedJobsTotal, withTrace } from '@aegle/telemetry';
import { consumedRunQueues, failedForGood, QUEUES, type TraceCarrier } from '@aegle/jobs';
import { RouterProcessor, RoutingModule } from '@aegle/routing';
import { GpuRunProcessor, RunProcessor, RunsModule } from '@aegle/runs';
import { WriteBackModule, WritebackProcessor } from '@aegle/write-back';
import { WorkReconciler } from './work-reconciler';
import { FailedJobRecorder } from './failed-job.recorder';

interface Host {
  worker?: Worker;
}

/**
 * The queue workers this process runs. They start only once the whole app is up (plugins loaded,
 * database migrated): a worker started with a backlog must not route events before the plugins
 * that match them exist. They are closed together when the process drains.
 */
@Injectable()
export class WorkerPool implements OnApplicationBootstrap {
  private readonly logger = new Logger(WorkerPool.name);
  private readonly hosts: Array<Host | undefined>;

  constructor(
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
    @Optional() router?: RouterProcessor,
    @Optional() cpuRuns?: RunProcessor,
    @Optional() gpuRuns?: GpuRunProcessor,
    @Optional() writeback?: WritebackProcessor,
  ) {
    this.hosts = [router, cpuRuns, gpuRuns, writeback];
  }

  onApplicationBootstrap(): void {
    for (const host of this.hosts) {
      if (host?.worker) this.applyStallSettings(host.worker);
      // The reason is an error message (ids and HTTP statuses, never resources); the job's data is not logged.
      host?.worker?.on('failed', (job, error) => {
        const entry = {
          queue: host.worker!.name,
          jobId: job?.id,
          attempt: job?.attemptsMade,
          reason: error.message,
        };
        withTrace((job?.data as TraceCarrier | undefined)?.traceparent, () => {
          if (failedForGood(job, error)) {
            failedJobsTotal.inc({ queue: host.worker!.name });
            this.logger.error(entry, 'job failed for good');
          } else {
            this.logger.warn(entry, 'job failed; will retry');
          }
        });
      });
      host?.worker?.run().catch((error: unknown) => {
        this.logger.error({ reason: (error as Error).message }, 'queue worker stopped');
      });
    }
  }

  /**
   * How soon a job whose worker stopped (its lock, renewed every 15 s, expired) is handed on, and how
   * often before it fails for good (see stalled-jobs.ts). They come from the config, and `@Processor`
   * options are static: BullMQ reads these two on each stalled check, so they are set before `run()`.
   */
  private applyStallSettings(worker: Worker): void {
    worker.opts.stalledInterval = this.config.stalledIntervalMs;
    worker.opts.maxStalledCount = this.config.maxStalledCount;
  }

  /** Stops taking jobs and waits for the active ones to finish (BullMQ's `worker.close()`). */
  async close(): Promise<void> {
    await Promise.all(this.hosts.map((host) => host?.worker?.close()));
  }
}

/**
 * The queue processors, for `ROLE=worker|all`. Every worker routes events and writes results back;
 * plugin runs are taken from the CPU queue, the GPU queue, or both, as `execution` says.
 */
@Module({})
export class WorkersModule {
  static forRoot(execution: WorkerExecution): DynamicModule {
    const runs = { [QUEUES.runs]: RunProcessor, [QUEUES.gpuRuns]: GpuRunProcessor };
    return {
      module: WorkersModule,
      imports: [RoutingModule, RunsModule, WriteBackModule],
      providers: [
        RouterProcessor,
        ...consumedRunQueues(execution).map((queue) => runs[queue]),
        WritebackProcessor,
        WorkerPool,
        WorkReconciler,
        FailedJobRecorder,
      ],
      exports: [WorkerPool],
    };
  }
}
