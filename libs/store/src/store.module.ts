import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { AdminActionRepository } from './admin-action.repository';
import { AuditQueryRepository } from './audit-query.repository';
import { AuditChain, AuditRetention } from './audit-chain';
import { ConsoleQueryRepository } from './console-query.repository';
import { DeadLetterRepository } from './dead-letter.repository';
import { AUDIT_ENTITIES } from './entities';
import { EventRepository } from './event.repository';
import { AUDIT_MIGRATIONS, migrateExclusively } from './migrations';
import { PluginRunRepository } from './plugin-run.repository';
import { QueryLogger } from './query-logger';
import { WriteBackRepository } from './write-back.repository';
import { FailedJobRepository } from './failed-job.repository';
import { IntakeRepository } from './intake.repository';
import { EventClaims } from './event-claims';
import { UnfinishedWork } from './unfinished-work';

const repositories = [
  AuditChain,
  AuditRetention,
  EventRepository,
  PluginRunRepository,
  WriteBackRepository,
  DeadLetterRepository,
  FailedJobRepository,
  AdminActionRepository,
  AuditQueryRepository,
  ConsoleQueryRepository,
  IntakeRepository,
  EventClaims,
  UnfinishedWork,
];

/** PostgreSQL through TypeORM: explicit migrations run at boot (one process at a time), never `synchronize`. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AEGLE_CONFIG],
      useFactory: (config: AegleConfig) => {
        if (!config.databaseUrl)
          throw new Error('DATABASE_URL is not set and no embedded PostgreSQL was started');
        return {
          type: 'postgres' as const,
          url: config.databaseUrl,
          entities: AUDIT_ENTITIES,
          migrations: AUDIT_MIGRATIONS,
          synchronize: false,
          extra: { max: 10 },
          logger: new QueryLogger(),
        };
      },
      // Migrations under a lock (not `migrationsRun`): processes starting together take turns.
      dataSourceFactory: async (options) => {
        const db = await new DataSource(options!).initialize();
        try {
          await migrateExclusively(db);
        } catch (error) {
          await db.destroy();
          throw error;
        }
        return db;
      },
    }),
  ],
  providers: repositories,
  exports: repositories,
})
export class StoreModule {}
