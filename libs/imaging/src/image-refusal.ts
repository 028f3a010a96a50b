/**
 * An image Aegle will not feed a model: wrong modality or body part, no frontal view, a transfer
 * syntax it cannot decode, a corrupt or oversized file. The run is skipped with this reason; the
 * image is never guessed at.
 */
export class ImageRefusal extends Error {
  override name = 'ImageRefusal';
}

/** The image could not be fetched for now (the PACS is down or busy): worth another try later. */
export class ImageSourceUnavailable extends Error {
  override name = 'ImageSourceUnavailable';
  constructor(
    message: string,
    /** HTTP status of the PACS; undefined for network errors and timeouts. */
    readonly status?: number,
  ) {
    super(message);
  }
}
