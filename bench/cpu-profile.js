// Loaded with NODE_OPTIONS=--require (bench:e2e): a V8 CPU profile of this process, written to
// AEGLE_CPU_PROF_DIR. (Node refuses --cpu-prof itself in NODE_OPTIONS.) By default it covers the
// whole life of the process and is written at exit; with AEGLE_CPU_PROF_ON_SIGNAL=1 it covers what
// lies between two SIGUSR2 (the first starts it, the second writes it), so a bench profiles one phase.
// The same-thread inspector session answers synchronously, so the writes need no waiting.
const { Session } = require('node:inspector');
const { renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const session = new Session();
session.connect();
session.post('Profiler.enable');
let running = false;
let phase = 0;

const start = () => {
  session.post('Profiler.start');
  running = true;
};

const write = () => {
  if (!running) return;
  running = false;
  session.post('Profiler.stop', (error, result) => {
    if (error) return;
    const name = join(process.env.AEGLE_CPU_PROF_DIR, `worker-${process.pid}-${phase++}.cpuprofile`);
    // Written under another name first: a reader polling for the file never sees half of it.
    writeFileSync(`${name}.part`, JSON.stringify(result.profile));
    renameSync(`${name}.part`, name);
  });
};

if (process.env.AEGLE_CPU_PROF_ON_SIGNAL === '1') {
  process.on('SIGUSR2', () => (running ? write() : start()));
} else {
  start();
}
process.on('exit', write);
