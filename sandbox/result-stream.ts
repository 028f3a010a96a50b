import { cholesterolResult, PatientProfile, Rng } from './synthetic-patients';

/**
 * A kind of result an EHR receives from elsewhere (a lab, a genomics service) and stores: the
 * demo plays a mix of them into the sandbox. Add a kind by adding a stream to {@link RESULT_STREAMS}
 * (genotype reports will join once a plugin uses them).
 */
export interface ResultStream {
  name: string;
  /** How often this kind comes up relative to the others. */
  weight: number;
  /** The next result of this kind for the patient, or undefined when it has none to give. */
  next(patient: PatientProfile, now: Date, rng: Rng): fhir4.Resource | undefined;
}

export const labResults: ResultStream = {
  name: 'lab results (total cholesterol)',
  weight: 1,
  next: (patient, now) => cholesterolResult(patient, now.toISOString()),
};

export const RESULT_STREAMS: ResultStream[] = [labResults];

/** Picks a stream by weight, then a result from it. */
export function nextResult(
  streams: ResultStream[],
  patient: PatientProfile,
  now: Date,
  rng: Rng,
): fhir4.Resource | undefined {
  const total = streams.reduce((sum, s) => sum + s.weight, 0);
  let r = rng() * total;
  const stream = streams.find((s) => (r -= s.weight) < 0) ?? streams[0];
  return stream.next(patient, now, rng);
}
