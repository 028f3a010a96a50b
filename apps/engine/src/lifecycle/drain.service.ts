import { Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { WorkerPool } from '../workers/workers.module';

/**
 * Graceful shutdown, before Nest tears anything down: refuse new notifications (503, so the EHR
 * retries elsewhere or later), let accepted ones finish storing, then stop the queue workers,
 * which finish their active jobs. A job cut short by a hard kill is stalled, and BullMQ hands it
 * to another worker: nothing accepted is lost either way.
 */
@Injectable()
export class DrainService {
  private readonly logger = new Logger(DrainService.name);
  private draining = false;
  private inFlight = 0;
  private idle: Array<() => void> = [];

  constructor(private readonly moduleRef: ModuleRef) {}

  get isDraining(): boolean {
    return this.draining;
  }

  /** Counts a request that must finish before the process stops; call the result when it has. */
  track(): () => void {
    this.inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.inFlight === 0) this.idle.splice(0).forEach((resolve) => resolve());
    };
  }

  async drain(): Promise<void> {
    this.draining = true;
    this.logger.log({ inFlightRequests: this.inFlight }, 'draining: intake closed');
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    const workers = this.workerPool();
    if (workers) {
      this.logger.log('draining: waiting for active jobs');
      await workers.close();
    }
    this.logger.log('drained');
  }

  private workerPool(): WorkerPool | undefined {
    try {
      return this.moduleRef.get(WorkerPool, { strict: false });
    } catch {
      return undefined; // ROLE=api runs no workers
    }
  }
}
