// The test FHIR server as a process of its own (see fhir-server-process.ts), so a benchmark or a
// load test does not share an event loop with the server it measures.
import { startFhirServer } from './fhir-server';
import type { FhirServerMessage, FhirServerCommand } from './fhir-server-process';

async function main(): Promise<void> {
  const send = (message: FhirServerMessage) => process.send!(message);
  const server = await startFhirServer({ validate: process.env.FHIR_VALIDATE !== 'false' });
  const watched = new Set<string>();
  server.onWrite((resource) => {
    const code = (resource as { code?: fhir4.CodeableConcept }).code?.coding?.[0]?.code;
    if (code && watched.has(`${resource.resourceType}|${code}`)) send({ type: 'write', resource });
  });
  process.on('message', (command: FhirServerCommand) => {
    if (command.type === 'watch') watched.add(`${command.resourceType}|${command.code}`);
    if (command.type === 'unwatch') watched.clear();
    if (command.type === 'traffic') send({ type: 'traffic', traffic: { ...server.traffic } });
    if (command.type === 'samples') send({ type: 'samples', samples: server.lastBundles });
    if (command.type === 'stop') void server.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0)); // the parent went away: leave nothing running
  send({ type: 'ready', baseUrl: server.baseUrl });
}

void main();
