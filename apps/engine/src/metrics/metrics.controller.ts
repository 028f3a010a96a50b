import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { registry } from '@aegle/telemetry';
import { ScrapeRefresh } from './scrape-refresh';

/** Prometheus scrape endpoint. */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly scrape: ScrapeRefresh) {}

  @Get()
  @Header('Content-Type', registry.contentType)
  async metrics(): Promise<string> {
    await this.scrape.refresh();
    return registry.metrics();
  }
}
