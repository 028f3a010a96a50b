import { childTraceparent, currentTraceparent, traceIdOf, withTrace } from './trace-context';
import { auditChainHead, refreshAuditChainHead, registry, reportAuditChainHead } from './metrics';

describe('trace context', () => {
  const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('keeps the trace id and makes a new span', () => {
    const child = childTraceparent(parent);
    expect(traceIdOf(child)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(child).not.toBe(parent);
    expect(child).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('starts a new trace from a missing or malformed traceparent', () => {
    for (const bad of [undefined, '', 'garbage', '00-00000000000000000000000000000000-00f067aa0ba902b7-01']) {
      expect(traceIdOf(bad)).toBeUndefined();
      expect(traceIdOf(childTraceparent(bad))).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('is current across awaits inside withTrace, and only there', async () => {
    expect(currentTraceparent()).toBeUndefined();
    await withTrace(parent, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      expect(currentTraceparent()).toBe(parent);
    });
    expect(currentTraceparent()).toBeUndefined();
  });
});

describe('audit chain head metric', () => {
  it('reports what the registered reader returns, on each refresh', async () => {
    await refreshAuditChainHead();
    expect((await auditChainHead.get()).values).toHaveLength(0);
    let head = { seq: 41, hash: 'ab12' };
    reportAuditChainHead(async () => head);
    await refreshAuditChainHead();
    expect(await registry.getSingleMetricAsString('aegle_audit_chain_head')).toMatch(
      /aegle_audit_chain_head\{hash="ab12"\} 41/,
    );
    head = { seq: 42, hash: 'cd34' };
    await refreshAuditChainHead();
    const values = (await auditChainHead.get()).values;
    expect(values).toEqual([{ labels: { hash: 'cd34' }, value: 42 }]);
  });
});
