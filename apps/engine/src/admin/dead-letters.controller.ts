import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiBody,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { z } from 'zod';
import { DeadLetterFilter } from '@aegle/store';
import { DeadLetterDetail, DeadLettersService, ReplayResult } from '@aegle/write-back';
import { AdminApi } from './admin-token.guard';

const STATUSES = ['open', 'replaying', 'resolved'] as const;

const filterSchema = z
  .object({
    status: z
      .string()
      .transform((s) => s.split(','))
      .pipe(z.array(z.enum(STATUSES)))
      .optional(),
    source: z.string().min(1).optional(),
    plugin: z.string().min(1).optional(),
    httpStatus: z.coerce.number().int().min(100).max(599).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    before: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

function toFilter(raw: unknown): DeadLetterFilter {
  const parsed = filterSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new BadRequestException(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'filter'}: ${i.message}`).join('; '),
    );
  }
  const f = parsed.data;
  return {
    status: f.status,
    sourceId: f.source,
    pluginId: f.plugin,
    httpStatus: f.httpStatus,
    since: f.since ? new Date(f.since) : undefined,
    before: f.before ? new Date(f.before) : undefined,
    limit: f.limit,
  };
}

class DeadLetterView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) runId!: string;
  @ApiProperty() sourceId!: string;
  @ApiProperty() pluginId!: string;
  @ApiProperty() pluginVersion!: string;
  @ApiProperty({ enum: STATUSES }) status!: string;
  @ApiProperty({ nullable: true, type: Number }) httpStatus!: number | null;
  @ApiProperty() reason!: string;
  @ApiProperty({ nullable: true, description: "The EHR's OperationOutcome", type: Object })
  outcome!: object | null;
  @ApiProperty() attempts!: number;
  @ApiProperty() failedAt!: Date;
  @ApiProperty() replayCount!: number;
  @ApiProperty({ nullable: true, type: Date }) replayedAt!: Date | null;
  @ApiProperty({ nullable: true, type: Date }) resolvedAt!: Date | null;
}

class ReplayFilterBody {
  @ApiPropertyOptional({ description: 'Comma-separated statuses; default open' }) status?: string;
  @ApiPropertyOptional() source?: string;
  @ApiPropertyOptional() plugin?: string;
  @ApiPropertyOptional() httpStatus?: number;
  @ApiPropertyOptional({ format: 'date-time' }) since?: string;
  @ApiPropertyOptional({ format: 'date-time' }) before?: string;
  @ApiPropertyOptional() limit?: number;
}

class ReplayResultView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['queued', 'resolved'] }) status!: string;
}

const actorHeader = {
  name: 'x-aegle-actor',
  required: false,
  description: 'Who is acting, recorded with the admin action (default: admin-api)',
};

/** Write-back dead letters: what the EHR refused, or what outlived its retry horizon. */
@ApiTags('dead letters')
@AdminApi()
@Controller('api/dead-letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLettersService) {}

  @Get()
  @ApiOperation({ summary: 'List dead letters, oldest failure first' })
  @ApiQuery({ name: 'status', required: false, description: 'open, replaying, resolved (comma-separated)' })
  @ApiQuery({ name: 'source', required: false })
  @ApiQuery({ name: 'plugin', required: false })
  @ApiQuery({ name: 'httpStatus', required: false, type: Number })
  @ApiQuery({ name: 'since', required: false, description: 'ISO date-time' })
  @ApiQuery({ name: 'before', required: false, description: 'ISO date-time' })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  @ApiOkResponse({ type: [DeadLetterView] })
  list(@Query() query: Record<string, string>): Promise<DeadLetterView[]> {
    return this.deadLetters.list(toFilter(query));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One dead letter, with every write-back attempt of its run' })
  @ApiOkResponse({ description: '{ deadLetter, attempts }' })
  @ApiNotFoundResponse({ description: 'no dead letter with this id' })
  async show(@Param('id', ParseUUIDPipe) id: string): Promise<DeadLetterDetail> {
    const found = await this.deadLetters.get(id);
    if (!found) throw new NotFoundException(`no dead letter ${id}`);
    return found;
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Replay one dead letter (idempotent: it never writes a result twice)' })
  @ApiHeader(actorHeader)
  @ApiOkResponse({ type: ReplayResultView })
  @ApiNotFoundResponse({ description: 'no dead letter with this id' })
  async replay(
    @Param('id', ParseUUIDPipe) id: string,
    @Headers('x-aegle-actor') actor?: string,
  ): Promise<ReplayResult> {
    const result = await this.deadLetters.replay(id, actor || 'admin-api');
    if (!result) throw new NotFoundException(`no dead letter ${id}`);
    return result;
  }

  @Post('replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Replay every dead letter matching a filter (open ones by default)' })
  @ApiHeader(actorHeader)
  @ApiBody({ type: ReplayFilterBody, required: false })
  @ApiOkResponse({ type: [ReplayResultView] })
  replayMatching(
    @Body() body: Record<string, unknown> | undefined,
    @Headers('x-aegle-actor') actor?: string,
  ): Promise<ReplayResult[]> {
    const stringified = Object.fromEntries(Object.entries(body ?? {}).map(([k, v]) => [k, String(v)]));
    return this.deadLetters.replayMatching(toFilter(stringified), actor || 'admin-api');
  }
}
