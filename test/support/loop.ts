import { RunningAegle, startAegle } from './aegle-app';
import { startFhirServer, TestFhirServer } from './fhir-server';
import { json } from './http';

export const INBOUND_TOKEN = 'e2e-inbound-token';
export const SOURCE_ID = 'test-ehr';

/** The whole loop for a test file: a FHIR server as the EHR and Aegle subscribed to it. */
export interface Loop {
  ehr: TestFhirServer;
  aegle: RunningAegle;
  /** Sends a resource as an R4 rest-hook notification with the source's token. */
  notify(body: unknown, init?: { token?: string; contentType?: string; source?: string }): Promise<Response>;
  /** Observations on the EHR for a patient and one or more `system|code` tokens. */
  observations(patientId: string, ...codes: string[]): Promise<fhir4.Observation[]>;
  close(): Promise<void>;
}

export async function startLoop(): Promise<Loop> {
  const ehr = await startFhirServer();
  const aegle = await startAegle({
    sources: [{ id: SOURCE_ID, fhirBaseUrl: ehr.baseUrl, bearerToken: INBOUND_TOKEN }],
  });
  return {
    ehr,
    aegle,
    notify: (body, init = {}) =>
      fetch(`${aegle.url}/fhir/notify/${init.source ?? SOURCE_ID}`, {
        method: 'POST',
        headers: {
          'content-type': init.contentType ?? 'application/fhir+json',
          authorization: `Bearer ${init.token ?? INBOUND_TOKEN}`,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    observations: async (patientId, ...codes) => {
      const bundle = await json<fhir4.Bundle>(
        fetch(`${ehr.baseUrl}/Observation?subject=Patient/${patientId}&code=${codes.join(',')}`),
      );
      return (bundle.entry ?? []).map((e) => e.resource as fhir4.Observation);
    },
    close: async () => {
      await aegle.close();
      await ehr.close();
    },
  };
}
