/// <reference types="fhir" preserve="true" />
/**
 * `@aegle/plugin-sdk/engine`: the whole SDK as the Aegle engine uses it (loader, evaluation,
 * input gathering, FHIR result builders, data-scope checks). Not for plugins: a plugin imports
 * only `@aegle/plugin-sdk` (and `@aegle/plugin-sdk/onnx` in model build scripts), and lint
 * rejects this entry in plugin code. It follows the engine's releases, with no semver promise.
 *
 * @packageDocumentation
 */
export * from './manifest';
export * from './patient-data';
export * from './patient-record';
export * from './inputs';
export * from './genotype';
export * from './exclusions';
export * from './image-input';
export * from './findings';
export * from './coding-match';
export * from './units';
export * from './scope';
export * from './plugin-code';
export * from './evaluate';
export * from './loader';
export * from './resource-builders';
export * from './results';
export * from './json-schema';
export * from './harness';
export * from './cli/harness-commands';
