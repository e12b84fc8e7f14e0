// Tests are written in TypeScript under test/ and run from their compiled form in dist/test
// (`npm test` builds first), so the processes they start run the same compiled JavaScript as `npm start`.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  testTimeout: 60000,
  // World tests start real processes; two workers keep a 2-core machine responsive.
  maxWorkers: 2,
  // Says first which tests this machine skips for a missing Debian tool or broker, and how to install them.
  globalSetup: '<rootDir>/dist/test/support/global-setup.js',
};
