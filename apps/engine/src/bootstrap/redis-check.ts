import Redis from 'ioredis';
import { redisConnection } from '@aegle/jobs';

/** Aegle cannot queue without Redis: stop at boot with a message that says how to get one. */
export async function assertRedisReachable(url: string): Promise<void> {
  const redis = new Redis({
    ...redisConnection(url),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 3000,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    const where = new URL(url);
    throw new Error(
      `Redis is not reachable at ${where.host} (${(error as Error).message}). Aegle needs Redis for its queues.\n` +
        `  Start one locally:  redis-server --daemonize yes   (Debian/Ubuntu: apt-get install redis-server)\n` +
        `  or with Docker:     docker run -d -p 6379:6379 redis:7\n` +
        `  or point REDIS_URL at an existing one.`,
    );
  } finally {
    redis.disconnect();
  }
}
