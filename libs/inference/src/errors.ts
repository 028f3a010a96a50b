/** `require-gpu` was asked and CUDA could not be used; the message names the reason. */
export class GpuUnavailableError extends Error {
  override name = 'GpuUnavailableError';
}

/** The model's tensors are of a kind Aegle cannot feed (e.g. strings, or dynamic inner dimensions). */
export class UnsupportedModelError extends Error {
  override name = 'UnsupportedModelError';
}

/** The model loaded but its warm-up run failed, so it would fail every request. */
export class ModelWarmUpError extends Error {
  override name = 'ModelWarmUpError';
}

/** No model is loaded under this key (never loaded, or unloaded). */
export class ModelNotLoadedError extends Error {
  override name = 'ModelNotLoadedError';
  constructor(readonly key: string) {
    super(`model ${key} is not loaded`);
  }
}

/** A request whose row does not fit the model's inputs; it never reaches a batch. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
}
