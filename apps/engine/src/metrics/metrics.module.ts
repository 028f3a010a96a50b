import { Module } from '@nestjs/common';
import { WorkflowModule } from '@aegle/workflow';
import { MetricsController } from './metrics.controller';
import { ScrapeRefresh } from './scrape-refresh';

@Module({ imports: [WorkflowModule], controllers: [MetricsController], providers: [ScrapeRefresh] })
export class MetricsModule {}
