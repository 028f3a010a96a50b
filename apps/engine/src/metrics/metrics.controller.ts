import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { metricsText, registry } from '@aegle/telemetry';
import { ScrapeRefresh } from './scrape-refresh';

/** Prometheus scrape endpoint; with several HTTP processes, whichever answers gives the sum over all. */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly scrape: ScrapeRefresh) {}

  @Get()
  @Header('Content-Type', registry.contentType)
  async metrics(): Promise<string> {
    await this.scrape.refresh();
    return metricsText();
  }
}
