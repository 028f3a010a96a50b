import { DynamicModule, Injectable, Module, Optional } from '@nestjs/common';
import type { WorkerExecution } from '@aegle/config';
import { InferenceModule } from '@aegle/inference';
import { RouterProcessor } from './router.processor';
import { GpuRunProcessor, RunProcessor } from './run.processor';
import { WorkflowModule } from './workflow.module';
import { WritebackProcessor } from './writeback.processor';

/** The queue workers this process runs, closed together when it drains. */
@Injectable()
export class WorkerPool {
  private readonly hosts: Array<{ worker?: { close(): Promise<void> } } | undefined>;

  constructor(
    @Optional() router?: RouterProcessor,
    @Optional() cpuRuns?: RunProcessor,
    @Optional() gpuRuns?: GpuRunProcessor,
    @Optional() writeback?: WritebackProcessor,
  ) {
    this.hosts = [router, cpuRuns, gpuRuns, writeback];
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
    const runs = { cpu: [RunProcessor], gpu: [GpuRunProcessor], any: [RunProcessor, GpuRunProcessor] };
    return {
      module: WorkersModule,
      imports: [WorkflowModule, InferenceModule],
      providers: [RouterProcessor, ...runs[execution], WritebackProcessor, WorkerPool],
      exports: [WorkerPool],
    };
  }
}
