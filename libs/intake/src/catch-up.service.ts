import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { CatchUpEntity, IntakeRepository, SubscriptionTouch } from '@aegle/store';
import { SourceConfig } from '@aegle/config';
import { EhrClients, EhrRequestError } from '@aegle/fhir';
import { CLASSIC_SUBSCRIPTION } from './notification-rows';
import { NotificationWriter } from './notification-writer';

const SWEEP_INTERVAL_MS = 5_000;
/** With a sweep every 5 s, an EHR that is down for five minutes still gets caught up. */
const MAX_ATTEMPTS = 60;
const SEARCH_PAGE = 500;

/**
 * Closes the gaps in what EHRs tell Aegle. It tracks event numbers per subscription and, on a jump
 * or a status/heartbeat whose count is ahead, asks the EHR for the missing events through
 * `$events` where it supports it, else with a `_lastUpdated` search over the source's criteria
 * (also the answer to a classic ping and to `empty` content). It flags subscriptions whose heartbeat
 * is overdue. Every catch-up is a row in `catch_up`, so the audit trail shows each gap and its fate.
 */
@Injectable()
export class CatchUpService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(CatchUpService.name);
  private timer: NodeJS.Timeout | undefined;
  private readonly toCheck = new Map<string, { sourceId: string; subscription: string }>();
  private running: Promise<void> | undefined;
  private again = false;
  private stopping = false;

  constructor(
    private readonly intake: IntakeRepository,
    private readonly ehr: EhrClients,
    // Recovered notifications are stored as the intake stores them, so they are deduplicated alike.
    private readonly writer: NotificationWriter,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
    this.kick();
  }

  /** Before the database pool closes: stop taking work, let the current catch-up finish. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.idle();
  }

  /** Called after each stored notification: look for gaps it reveals, run catch-ups it opened. */
  afterIntake(touch: SubscriptionTouch, openedCatchUp: boolean): void {
    if (touch.highest !== null || touch.eventsSinceStart !== null) {
      this.toCheck.set(`${touch.sourceId}\u0000${touch.subscription}`, touch);
    }
    if (openedCatchUp || this.toCheck.size > 0) this.kick();
  }

  /** Resolves once no check or catch-up is pending (tests and the CLI wait on it). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Starts the worker unless it runs; if it does, it goes round once more. */
  kick(): void {
    if (this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.work().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Periodic: overdue heartbeats, gaps and catch-ups left from before a restart or a failure. */
  async sweep(): Promise<void> {
    try {
      for (const source of this.sources()) {
        const heartbeat = source.subscription.heartbeatSeconds;
        if (!heartbeat) continue;
        for (const subscription of await this.intake.flagOverdue(source.id, 2 * heartbeat)) {
          this.logger.warn(
            { source: source.id, subscription },
            'subscription heartbeat overdue; catching up',
          );
        }
      }
      for (const state of await this.intake.subscriptions()) {
        if (state.highestEventNumber !== null || state.eventsSinceStart !== null) {
          this.toCheck.set(`${state.sourceId}\u0000${state.subscription}`, state);
        }
      }
      this.kick();
    } catch (error) {
      this.logger.warn({ reason: (error as Error).message }, 'catch-up sweep failed; will retry');
    }
  }

  private async work(): Promise<void> {
    try {
      for (const [key, { sourceId, subscription }] of this.toCheck) {
        if (this.stopping) return;
        this.toCheck.delete(key);
        await this.checkGaps(sourceId, subscription);
      }
      // A catch-up that fails for a reason worth retrying is tried again on the next sweep, not at once.
      const tried: string[] = [];
      while (!this.stopping) {
        const catchUp = await this.intake.claimCatchUp(tried);
        if (!catchUp) break;
        tried.push(catchUp.id);
        await this.run(catchUp);
      }
    } catch (error) {
      this.logger.warn({ reason: (error as Error).message }, 'catch-up worker failed; will retry');
    }
  }

  /** Opens a catch-up for the numbers missing since the watermark, then moves the watermark past them. */
  private async checkGaps(sourceId: string, subscription: string): Promise<void> {
    for (;;) {
      let { missing, checkedThrough } = await this.intake.missingEventNumbers(sourceId, subscription);
      if (checkedThrough === null) return;
      if (missing.length > 0) {
        await this.writer.settled();
        ({ missing, checkedThrough } = await this.intake.missingEventNumbers(sourceId, subscription));
        if (checkedThrough === null) return;
      }
      if (missing.length > 0) {
        const state = await this.intake.state(sourceId, subscription);
        const highest = Number(state?.highestEventNumber ?? 0);
        const [from, to] = [missing[0], missing[missing.length - 1]];
        const reason = from > highest ? 'heartbeat-ahead' : 'gap';
        await this.intake.openCatchUp({ sourceId, subscription, reason, fromEvent: from, toEvent: to });
        this.logger.warn({ source: sourceId, subscription, from, to, reason }, 'missed events; catching up');
      }
      await this.intake.advanceWatermark(sourceId, subscription, checkedThrough);
      if (this.stopping) return;
    }
  }

  private async run(catchUp: CatchUpEntity): Promise<void> {
    const source = this.ehr.source(catchUp.sourceId);
    if (!source) {
      return this.intake.finishCatchUp(catchUp.id, {
        status: 'failed',
        method: null,
        recovered: 0,
        error: `source ${catchUp.sourceId} is no longer configured`,
      });
    }
    const byNumber =
      source.subscription.eventsOperation &&
      catchUp.subscription !== CLASSIC_SUBSCRIPTION &&
      catchUp.fromEvent !== null &&
      catchUp.toEvent !== null;
    const method = byNumber ? '$events' : 'search';
    try {
      const recovered = byNumber
        ? await this.byEvents(source, catchUp)
        : await this.bySearch(source, catchUp);
      await this.intake.finishCatchUp(catchUp.id, { status: 'done', method, recovered, error: null });
      this.logger.log(
        { source: source.id, subscription: catchUp.subscription, method, recovered },
        'caught up',
      );
    } catch (error) {
      const message = (error as Error).message.slice(0, 1000);
      const retry = !(error instanceof EhrRequestError) || error.retryable;
      if (retry && catchUp.attempts < MAX_ATTEMPTS) {
        await this.intake.retryLater(catchUp.id, message);
      } else {
        await this.intake.finishCatchUp(catchUp.id, {
          status: 'failed',
          method,
          recovered: 0,
          error: message,
        });
      }
      this.logger.warn({ source: source.id, method, reason: message }, 'catch-up failed');
    }
  }

  /** `Subscription/{id}/$events`: the EHR replays the numbered events, which the intake takes as usual. */
  private async byEvents(source: SourceConfig, catchUp: CatchUpEntity): Promise<number> {
    const bundle = await this.ehr
      .for(source.id)
      .operation<fhir4.Bundle>({ resourceType: 'Subscription', id: catchUp.subscription }, '$events', {
        eventsSinceNumber: String(catchUp.fromEvent),
        eventsUntilNumber: String(catchUp.toEvent),
        content: 'full-resource',
      });
    return this.deliver(source.id, catchUp, bundle);
  }

  /** `_lastUpdated` search over the source's criteria since the newest change Aegle has seen. */
  private async bySearch(source: SourceConfig, catchUp: CatchUpEntity): Promise<number> {
    if (source.subscription.criteria.length === 0) {
      throw new EhrRequestError(
        400,
        undefined,
        `source ${source.id} declares no subscription.criteria, so there is nothing to search`,
      );
    }
    await this.intake.absorbPendingSearches(source.id, catchUp.subscription, catchUp.id);
    const state = await this.intake.state(source.id, catchUp.subscription);
    const since =
      catchUp.since ?? state?.lastSeenAt ?? new Date(Date.now() - source.subscription.lookbackSeconds * 1000);
    let recovered = 0;
    let newest = since.getTime();
    for (const criteria of source.subscription.criteria) {
      const [resourceType, query = ''] = criteria.split('?');
      const params: Record<string, string | number> = Object.fromEntries(new URLSearchParams(query));
      params._lastUpdated = `ge${since.toISOString()}`;
      params._count = SEARCH_PAGE;
      const found = await this.ehr.for(source.id).search(resourceType, params);
      for (const resource of found) {
        recovered += await this.deliver(source.id, catchUp, resource);
        const at = Date.parse(String(resource.meta?.lastUpdated ?? ''));
        if (!Number.isNaN(at)) newest = Math.max(newest, at);
      }
    }
    await this.intake.advanceLastSeen(source.id, catchUp.subscription, new Date(newest).toISOString());
    return recovered;
  }

  private async deliver(sourceId: string, catchUp: CatchUpEntity, body: fhir4.Resource): Promise<number> {
    const bodyBytes = Buffer.from(JSON.stringify(body));
    const written = await this.writer.write({
      sourceId,
      method: 'POST',
      body,
      headers: {},
      bodyBytes,
      contentType: 'application/fhir+json',
      recordedHeaders: { 'x-aegle-catch-up': catchUp.id, 'x-aegle-catch-up-reason': catchUp.reason },
    });
    this.afterIntake(written.subscription, written.openedCatchUp);
    return written.result.accepted;
  }

  private sources(): SourceConfig[] {
    return this.ehr.sources();
  }
}
