import { Logger as NestLogger } from '@nestjs/common';
import type { Logger as TypeOrmLogger } from 'typeorm';
import { databaseStatementsTotal } from '@aegle/telemetry';

/**
 * TypeORM's own loggers print a failing query with its parameters, and the parameters are
 * resources and patient references. This one logs what went wrong and never the values.
 */
export class QueryLogger implements TypeOrmLogger {
  private readonly logger = new NestLogger('Database');

  /** TypeORM calls this before it sends each statement: the count of round trips, never the text. */
  logQuery(): void {
    databaseStatementsTotal.inc();
  }

  logQueryError(error: string | Error): void {
    this.logger.error({ reason: typeof error === 'string' ? error : error.message }, 'query failed');
  }

  logQuerySlow(time: number): void {
    this.logger.warn({ ms: time }, 'slow query');
  }

  logSchemaBuild(): void {}

  logMigration(message: string): void {
    this.logger.log(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
  }
}
