'use strict';
// Mocha runs with exit: false, so that a test run whose code leaves sockets or timers behind is seen. This watch
// names what is still alive 10 s after the last test and then ends the process with mocha's exit code, instead of
// letting CI wait for it. Known today: rhea keeps a connection's idle-timeout timer (up to twice the idle timeout)
// after its socket was destroyed locally; lib/iot/amqp.ts and the local AMQP stand-in end rhea's side where they can.
exports.mochaHooks = {
  afterAll() {
    setTimeout(() => {
      const left = process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap');
      if (left.length > 0) console.error(`exit-watch: still alive 10 s after the last test: ${left.join(', ')}; exiting`);
      process.exit();
    }, 10_000).unref();
  },
};
