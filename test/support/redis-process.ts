import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './ports';

/** A private redis-server child process a test can stop and start again on the same port. */
export interface RedisProcess {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisProcess(): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const redis: RedisProcess = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      if (child && child.exitCode === null) return; // already running
      const started = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      child = started;
      let output = '';
      await new Promise<void>((resolve, reject) => {
        started.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('Ready to accept connections')) resolve();
        });
        started.once('exit', (code) => {
          if (child === started) child = undefined;
          reject(new Error(`redis-server exited (${code}): ${output}`));
        });
      });
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      child = undefined;
    },
  };
  await redis.start();
  return redis;
}
