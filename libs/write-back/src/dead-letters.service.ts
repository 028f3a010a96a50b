import { Injectable } from '@nestjs/common';
import {
  DeadLetterEntity,
  DeadLetterFilter,
  DeadLetterRepository,
  WriteBackEntity,
  WriteBackRepository,
} from '@aegle/store';
import { JobQueues } from '@aegle/jobs';

export interface DeadLetterDetail {
  deadLetter: DeadLetterEntity;
  /** Every write-back attempt of the run, oldest first, with the EHR's answers. */
  attempts: WriteBackEntity[];
}

export interface ReplayResult {
  id: string;
  /** `queued`: a write-back job is on its way; `resolved`: nothing to do, the result reached the EHR. */
  status: 'queued' | 'resolved';
}

/**
 * Dead letters of write-back: listed, inspected and replayed. A replay queues the run's write-back
 * again; its conditional creates make it idempotent, so replaying twice never writes twice.
 */
@Injectable()
export class DeadLettersService {
  constructor(
    private readonly deadLetters: DeadLetterRepository,
    private readonly writeBacks: WriteBackRepository,
    private readonly jobs: JobQueues,
  ) {}

  list(filter: DeadLetterFilter): Promise<DeadLetterEntity[]> {
    return this.deadLetters.list(filter);
  }

  async get(id: string): Promise<DeadLetterDetail | undefined> {
    const deadLetter = await this.deadLetters.get(id);
    if (!deadLetter) return undefined;
    return { deadLetter, attempts: await this.writeBacks.findForRun(deadLetter.runId) };
  }

  /** Replays one dead letter; undefined when there is none with this id. */
  async replay(id: string, actor: string): Promise<ReplayResult | undefined> {
    const deadLetter = await this.deadLetters.get(id);
    if (!deadLetter) return undefined;
    const replay = await this.deadLetters.startReplay(id);
    const result: ReplayResult = { id, status: replay === undefined ? 'resolved' : 'queued' };
    if (replay !== undefined) {
      // A fresh job (its own id), so the retry horizon starts again for the replay.
      await this.jobs.write([deadLetter.runId], (runId) => `${runId}-replay-${replay}`);
    }
    await this.deadLetters.recordAction({
      action: 'dead-letter.replay',
      actor,
      target: id,
      details: { runId: deadLetter.runId, result: result.status, replay },
    });
    return result;
  }

  /** Replays every dead letter matching the filter (open ones unless it says otherwise). */
  async replayMatching(filter: DeadLetterFilter, actor: string): Promise<ReplayResult[]> {
    const matching = await this.deadLetters.list({ ...filter, status: filter.status ?? ['open'] });
    const results: ReplayResult[] = [];
    for (const deadLetter of matching) {
      const result = await this.replay(deadLetter.id, actor);
      if (result) results.push(result);
    }
    return results;
  }
}
