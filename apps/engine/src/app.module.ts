import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AuditModule } from '@aegle/audit';
import { AegleConfig, ConfigModule } from '@aegle/config';
import { WorkflowModule } from '@aegle/workflow';
import { DeadLettersModule } from './admin/dead-letters.module';
import { AuditApiModule } from './audit/audit-api.module';
import { HealthModule } from './health/health.module';
import { IntakeModule } from './intake/intake.module';
import { IntakeAdminModule } from './intake-admin/intake-admin.module';
import { loggerParams } from './logging';
import { MetricsModule } from './metrics/metrics.module';
import { PluginsAdminModule } from './plugins/plugins-admin.module';

@Module({})
export class AppModule {
  static forRoot(config: AegleConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot(loggerParams(config)),
        AuditModule,
        WorkflowModule,
        IntakeModule,
        IntakeAdminModule,
        HealthModule,
        MetricsModule,
        DeadLettersModule,
        PluginsAdminModule,
        AuditApiModule,
      ],
    };
  }
}
