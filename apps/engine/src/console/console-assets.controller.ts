import {
  Controller,
  Get,
  NotFoundException,
  Param,
  Res,
  ServiceUnavailableException,
  StreamableFile,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiExcludeController } from '@nestjs/swagger';
import { ConsoleAsset, ConsoleAssets } from './console-assets';

/**
 * The page holds no data and needs no token: it asks for the admin token and calls the admin API
 * with it. Headers go through Nest's HTTP adapter.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

@ApiExcludeController()
@Controller('console')
export class ConsoleAssetsController {
  constructor(
    private readonly assets: ConsoleAssets,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  @Get()
  index(@Res({ passthrough: true }) response: unknown): StreamableFile {
    return this.send('index.html', response);
  }

  // Fastify's router (find-my-way) names the rest of the path `*`.
  @Get('*')
  file(@Param('*') path: string, @Res({ passthrough: true }) response: unknown): StreamableFile {
    return this.send(path, response);
  }

  private send(path: string, response: unknown): StreamableFile {
    if (!this.assets.built)
      throw new ServiceUnavailableException('the admin console is not built: run npm run build:console');
    const asset = this.assets.resolve(path);
    if (!asset) throw new NotFoundException(`no console file ${path}`);
    const adapter = this.adapterHost.httpAdapter;
    for (const [name, value] of Object.entries(headersFor(asset))) adapter.setHeader(response, name, value);
    return new StreamableFile(asset.body, { type: asset.contentType, length: asset.body.length });
  }
}

function headersFor(asset: ConsoleAsset): Record<string, string> {
  return {
    ...SECURITY_HEADERS,
    // The page itself is revalidated each time so a new build is picked up; hashed assets never change.
    'Cache-Control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
}
