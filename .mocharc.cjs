'use strict';
// Tests are TypeScript, loaded through tsx. Each spec waits on events, never on sleeps.
module.exports = {
  'node-option': ['import=tsx'],
  require: ['test/support/exit-watch.cjs'],
  timeout: 30000,
  reporter: 'spec',
  exit: false,
};
