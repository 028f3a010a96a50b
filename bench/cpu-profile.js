// Loaded with NODE_OPTIONS=--require (bench:e2e --cpu-prof): writes a V8 CPU profile of this process
// when it exits. (Node refuses --cpu-prof itself in NODE_OPTIONS.) The same-thread inspector session
// answers synchronously, so this works inside an 'exit' handler.
const { Session } = require('node:inspector');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    if (!error) {
      writeFileSync(
        join(process.env.AEGLE_CPU_PROF_DIR, `worker-${process.pid}.cpuprofile`),
        JSON.stringify(result.profile),
      );
    }
  });
});
