/// <reference types="fhir" preserve="true" />
/**
 * `@aegle/plugin-sdk`: what a plugin author needs, and all a plugin may import from Aegle. The
 * manifest's types, `definePlugin` for the code the manifest cannot say, the values and findings
 * that code sees, small helpers for codes, units and genotypes, and the offline harness that
 * validates a plugin and runs its golden cases as Aegle would. Its API follows semver (see
 * docs/plugin-authors.md); `etc/plugin-sdk.api.md` is the reviewed record of it.
 *
 * It needs only production dependencies: the ONNX graph builder (onnx-proto) is
 * `@aegle/plugin-sdk/onnx`, for model build scripts only. The engine's own entry is
 * `@aegle/plugin-sdk/engine`.
 *
 * @packageDocumentation
 */
export { SDK_VERSION, PLUGIN_KINDS } from './manifest';
export type { Coding, FeatureSpec, OutputSpec, PluginManifest, PluginManifestInput } from './manifest';
export { definePlugin } from './plugin-code';
export type { ExtractContext, ExtractedValue, InterpretContext, PluginCode } from './plugin-code';
export type { FeatureProvenance, FeatureValue } from './inputs';
export type { Band, Finding } from './findings';
export type { ActiveMedication, ImageBytes, ImageLocation, PatientData } from './patient-data';
export type { ImageReference, InstanceSummary, StudyReference } from '@aegle/imaging';
export { codingMatches, conceptMatches } from './coding-match';
export { convertUnit } from './units';
export { normaliseGenotype } from './genotype';
export type { GenotypeSpec } from './genotype';
export { BundlePatientData, runGoldenCases, runPlugin, validatePlugin } from './harness';
export type { GoldenResult, PluginRunResult, RunPluginOptions, Validation } from './harness';
