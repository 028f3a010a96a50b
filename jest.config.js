// Two tiers: fast unit specs beside the code (run in parallel, on every core), end-to-end specs in
// test/ against real services (two files at a time: much of an end-to-end test is waiting on other
// processes; each file clones a migrated template database and has its own queue prefix and ports).
const swc = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];
const moduleNameMapper = {
  '^@aegle/(config|fhir|plugin-sdk|inference|store|jobs|catalogue|intake|routing|runs|write-back|subscriptions|telemetry|imaging)$':
    '<rootDir>/libs/$1/src',
  '^@aegle/plugin-sdk/onnx$': '<rootDir>/libs/plugin-sdk/src/onnx/graph-builder',
  '^@aegle/plugin-sdk/engine$': '<rootDir>/libs/plugin-sdk/src/engine',
  '^@aegle/config/plugin-id$': '<rootDir>/libs/config/src/plugin-id',
};
const common = {
  // jose and content-disposition (of @fastify/static, which serves /api/docs) ship ESM only;
  // Jest's CommonJS runtime needs them compiled like our own code.
  transform: { '^.+\\.ts$': swc, '/node_modules/(jose|content-disposition)/.+\\.js$': swc },
  transformIgnorePatterns: ['/node_modules/(?!(.*/node_modules/)?(jose|content-disposition)/)'],
  moduleNameMapper,
  // The SDK package's build (npm pack): its declarations must not count as a second copy of the SDK.
  modulePathIgnorePatterns: ['<rootDir>/libs/plugin-sdk/dist/'],
  testEnvironment: '<rootDir>/test/support/node-environment.js',
};

module.exports = {
  // End-to-end tests start real services; under load a start can take longer than Jest's 5 s default.
  testTimeout: 60_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,plugins,scripts}/**/*.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'], slowTestThreshold: 30 },
  ],
};
