import { startAegle } from './support/aegle-app';
import { startFhirServer } from './support/fhir-server';
it('scratch', async () => {
  const ehr = await startFhirServer();
  const aegle = await startAegle({ sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: 'tok-12345678' }] });
  const [obs] = await ehr.seed([{ resourceType: 'Observation', status: 'final', code: { text: 'x' } } as fhir4.Observation]);
  const r = await fetch(`${aegle.url}/fhir/notify/test-ehr`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', authorization: 'Bearer tok-12345678' }, body: JSON.stringify(obs) });
  console.log(r.status, await r.text());
  await aegle.waitForIdle();
  console.log(await aegle.db.query('select status, reason, enqueued_at, version_key from event'));
  const { getQueueToken } = await import('@nestjs/bullmq');
  const q = aegle.app.get(getQueueToken('aegle-events'));
  console.log(await q.getJobCounts(), (await q.getJobs(['failed','completed','delayed','waiting']))?.map((j: any) => [j.failedReason, j.finishedOn, j.opts]));
  await aegle.close(); await ehr.close();
});
