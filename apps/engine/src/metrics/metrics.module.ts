import { Module } from '@nestjs/common';
import { JobsModule } from '@aegle/jobs';
import { MetricsController } from './metrics.controller';
import { ScrapeRefresh } from './scrape-refresh';

@Module({ imports: [JobsModule], controllers: [MetricsController], providers: [ScrapeRefresh] })
export class MetricsModule {}
