import type { Job } from 'bullmq';
import { currentTraceparent, withTrace } from '@aegle/telemetry';
import type { TraceCarrier } from './queues';

/**
 * Runs a processor's `process(job)` in the trace its job carries, so its log lines and its calls
 * to the EHR share the notification's trace id.
 */
export function Traced(): MethodDecorator {
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const process = descriptor.value as (job: Job<TraceCarrier>) => Promise<unknown>;
    descriptor.value = function (this: unknown, job: Job<TraceCarrier>) {
      return withTrace(job.data?.traceparent, () => process.call(this, job));
    };
  };
}

/** Job data that carries the current trace on to the next queue. */
export function traced<T extends object>(data: T): T & TraceCarrier {
  const traceparent = currentTraceparent();
  return traceparent ? { ...data, traceparent } : data;
}
