/** What an AuditEvent for one write-back says: what Aegle wrote, about whom, with which model. */
export interface WriteBackAuditInput {
  /** `Observation/{id}` as written on the EHR. */
  target: string;
  patient: string;
  /** `Device/{id}` of the model. */
  device: string;
  organization: string;
  recorded: string;
  /** Aegle's own record of the run, so the EHR's audit can be joined to Aegle's trail. */
  runId: string;
  /** True when the resource already existed (a replay): the AuditEvent still records the attempt. */
  existed: boolean;
}

/** Aegle's identifiers in AuditEvent.entity.detail. */
export const AEGLE_RUN_DETAIL = 'aegle-run-id';

/**
 * An R4 AuditEvent recording one write-back on the EHR's own audit log (the IHE BALP "create" shape,
 * kept to core R4 codes): the model Device as the requesting agent, the Observation and its patient
 * as entities.
 */
export function buildWriteBackAuditEvent(input: WriteBackAuditInput): fhir4.AuditEvent {
  return {
    resourceType: 'AuditEvent',
    type: {
      system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
      code: 'rest',
      display: 'RESTful Operation',
    },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'create', display: 'create' }],
    action: 'C',
    recorded: input.recorded,
    outcome: '0',
    ...(input.existed ? { outcomeDesc: 'the resource already existed; nothing was written twice' } : {}),
    agent: [
      {
        type: {
          coding: [
            {
              system: 'http://dicom.nema.org/resources/ontology/DCM',
              code: '110150',
              display: 'Application',
            },
          ],
        },
        who: { reference: input.device },
        requestor: true,
      },
    ],
    source: {
      observer: { display: input.organization },
      type: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
          code: '4',
          display: 'Application Server',
        },
      ],
    },
    entity: [
      {
        what: { reference: input.target },
        type: {
          system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
          code: '2',
          display: 'System Object',
        },
        detail: [{ type: AEGLE_RUN_DETAIL, valueString: input.runId }],
      },
      {
        what: { reference: input.patient },
        type: {
          system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
          code: '1',
          display: 'Person',
        },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
      },
    ],
  };
}
