import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { StoreModule } from '@aegle/store';
import { AegleConfig, ConfigModule, Role } from '@aegle/config';
import { WorkersModule } from './workers/workers.module';
import { DeadLettersModule } from './admin/dead-letters.module';
import { AuditApiModule } from './audit/audit-api.module';
import { ConsoleModule } from './console/console.module';
import { HealthModule } from './health/health.module';
import { IntakeApiModule } from './intake/intake.module';
import { IntakeAdminModule } from './intake-admin/intake-admin.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { loggerParams } from './logging';
import { MetricsModule } from './metrics/metrics.module';
import { PluginsAdminModule } from './plugins/plugins-admin.module';

/** What each role runs on top of health and metrics: intake and admin, the queue workers, or both. */
function roleModules(config: AegleConfig): Record<Role, DynamicModule['imports']> {
  const api = [
    IntakeApiModule,
    IntakeAdminModule,
    DeadLettersModule,
    PluginsAdminModule,
    AuditApiModule,
    ConsoleModule,
  ];
  const worker = [WorkersModule.forRoot(config.workerExecution)];
  return { api, worker, all: [...api, ...worker] };
}

@Module({})
export class AppModule {
  static forRoot(config: AegleConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot(loggerParams(config)),
        LifecycleModule,
        StoreModule,
        HealthModule,
        MetricsModule,
        ...(roleModules(config)[config.role] ?? []),
      ],
    };
  }
}
