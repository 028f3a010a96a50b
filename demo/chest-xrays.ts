import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pneumoniaMnistAvailable, pneumoniaMnistImage, PNEUMONIAMNIST_MISSING } from '@aegle/imaging';
import { chestStudy } from '../test/support/imaging-studies';
import { dicomWebClient, ORTHANC_URL } from '../test/support/orthanc';

/** Validation images the demo plays, normal and pneumonia mixed. */
const VALIDATION_IMAGES = [0, 3, 2, 7, 4, 11, 6, 1];
/** Every this many patients gets a chest X-ray study. */
const EVERY = 3;

export interface ChestXrays {
  /** The next patient's chest X-ray, stored in the PACS: its ImagingStudy to create in the EHR. */
  next(patientId: string): Promise<{ resource: fhir4.ImagingStudy; description: string } | undefined>;
}

/**
 * Chest X-ray studies for the demo: PneumoniaMNIST validation images wrapped as DICOM, stored in the
 * Orthanc that scripts/ensure-orthanc.sh starts, and notified as ImagingStudies naming it. Without
 * Orthanc or the data set, the demo says why and plays lab results only.
 */
export async function prepareChestXrays(
  root: string,
  say: (line: string) => void,
): Promise<ChestXrays | undefined> {
  if (!pneumoniaMnistAvailable()) {
    say(`Chest X-rays: not played. ${PNEUMONIAMNIST_MISSING}`);
    return undefined;
  }
  const ensured = spawnSync('bash', [join(root, 'scripts/ensure-orthanc.sh')], { encoding: 'utf8' });
  if (ensured.status !== 0) {
    say(`Chest X-rays: not played, no PACS: ${ensured.stderr.trim().split('\n').at(-1)}`);
    return undefined;
  }
  const dicomWebBase = process.env.AEGLE_DEMO_DICOMWEB_URL ?? `${ORTHANC_URL}/dicom-web`;
  const pacs = dicomWebClient(dicomWebBase);
  say(`PACS (Orthanc, DICOMweb) at ${dicomWebBase}: chest X-rays from the PneumoniaMNIST validation split`);
  let patients = 0;
  let played = 0;
  return {
    async next(patientId) {
      if (patients++ % EVERY !== 0) return undefined;
      const index = VALIDATION_IMAGES[played++ % VALIDATION_IMAGES.length];
      const { instance, study } = chestStudy({
        id: `cxr-${patientId}`,
        patientId,
        split: 'val',
        index,
        dicomWebBase,
        seriesModality: played % 2 ? 'CR' : 'DX',
      });
      await pacs.store([instance]);
      const label = pneumoniaMnistImage('val', index).label ? 'pneumonia' : 'normal';
      return { resource: study, description: `PneumoniaMNIST val #${index} (labelled ${label}), PA` };
    },
  };
}
