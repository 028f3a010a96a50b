import {
  BadRequestException,
  Controller,
  Get,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Query,
} from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import {
  ConsoleQueryRepository,
  AuditQueryRepository,
  RunStory,
  RunStoryView,
  RunTimings,
  Stats,
  TIMELINE_KINDS,
  TimelinePage,
} from '@aegle/store';
import { AEGLE_CONFIG, AegleConfig } from '@aegle/config';
import { Inject } from '@nestjs/common';
import { AdminApi } from '../admin/admin-token.guard';
import { NamesNoPatient } from '../admin/admin-action.interceptor';
import type { PluginsView } from '../admin/admin-api.types';
import { ConsolePlugins } from './console-plugins';

function parse<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success)
    throw new BadRequestException(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '),
    );
  return parsed.data;
}

const seq = z.string().regex(/^\d{1,18}$/, 'must be an audit sequence number');
const timelineQuery = z
  .object({
    after: seq.optional(),
    before: seq.optional(),
    kinds: z
      .string()
      .transform((s) => s.split(',').filter(Boolean))
      .pipe(z.array(z.enum(TIMELINE_KINDS)).min(1))
      .optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

/** Windows the charts offer: how far back, and the bucket that gives about 60 points. */
const WINDOWS = { '15m': [900, 15], '1h': [3600, 60], '6h': [21600, 360], '24h': [86400, 1440] } as const;
const statsQuery = z
  .object({ window: z.enum(Object.keys(WINDOWS) as Array<keyof typeof WINDOWS>).default('1h') })
  .strict();

/**
 * What the admin console reads beyond the plain admin API: a live feed over the audit chain, one
 * run's whole story, figures for the charts, and the plugins with their model cards.
 */
@ApiTags('console')
@AdminApi()
@Controller('api/console')
export class ConsoleApiController {
  constructor(
    private readonly feed: ConsoleQueryRepository,
    private readonly audit: AuditQueryRepository,
    private readonly plugins: ConsolePlugins,
    @Inject(AEGLE_CONFIG) private readonly config: AegleConfig,
  ) {}

  @Get('timeline')
  @NamesNoPatient()
  @ApiOperation({
    summary: 'Audited changes in commit order: notifications, events, runs, write-backs, dead letters',
    description:
      'Without `after`: the newest entries. With `after` (the previous answer’s `cursor`): the entries committed since, ' +
      'oldest of them first in the page; `more` says to ask again at once. Admin API calls are left out unless `kinds` names `admin_action`. ' +
      'Items name resources and plugins, never a patient.',
  })
  @ApiQuery({
    name: 'after',
    required: false,
    description: 'cursor: entries after this audit sequence number',
  })
  @ApiQuery({
    name: 'before',
    required: false,
    description: 'entries before this sequence number (older pages)',
  })
  @ApiQuery({ name: 'kinds', required: false, description: `comma-separated: ${TIMELINE_KINDS.join(', ')}` })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: '1–500, default 100' })
  @ApiOkResponse({ description: '{ items (newest first), cursor, more }' })
  timeline(@Query() query: Record<string, string>): Promise<TimelinePage> {
    const q = parse(timelineQuery, query);
    return this.feed.timeline({
      after: q.after,
      before: q.before,
      kinds: q.kinds ?? TIMELINE_KINDS.filter((k) => k !== 'admin_action'),
      limit: q.limit,
    });
  }

  @Get('runs/:id')
  @ApiOperation({
    summary: 'One plugin run’s whole story',
    description:
      'notification → event → run (model, inputs with their sources, outputs) → write-back attempts → the Observation written or the dead letter, ' +
      'with timings and the audit entries’ integrity. Under `audit.storeInputs: hash` inputs carry `valueHmac` instead of `value`.',
  })
  @ApiOkResponse({ description: 'the story, timings and the PHI policy the inputs were stored under' })
  @ApiNotFoundResponse({ description: 'no run with this id' })
  async run(@Param('id', ParseUUIDPipe) id: string): Promise<RunStoryView> {
    const story = await this.audit.runStory(id);
    if (!story) throw new NotFoundException(`no plugin run ${id}`);
    return { ...story, timings: timingsOf(story), inputsStored: this.config.audit.storeInputs };
  }

  @Get('stats')
  @NamesNoPatient()
  @ApiOperation({
    summary: 'Figures for the charts: throughput, latency percentiles and outcomes, bucketed over a window',
  })
  @ApiQuery({ name: 'window', required: false, enum: Object.keys(WINDOWS), description: 'default 1h' })
  @ApiOkResponse({ description: '{ from, to, bucketSeconds, buckets[], plugins[] }' })
  stats(@Query() query: Record<string, string>): Promise<Stats> {
    const [seconds, bucketSeconds] = WINDOWS[parse(statsQuery, query).window];
    // Buckets aligned to whole multiples, so consecutive refreshes share their buckets.
    const end = Math.ceil(Date.now() / 1000 / bucketSeconds) * bucketSeconds;
    return this.feed.stats({
      from: new Date((end - seconds) * 1000),
      to: new Date(end * 1000),
      bucketSeconds,
    });
  }

  @Get('plugins')
  @NamesNoPatient()
  @ApiOperation({
    summary:
      'Loaded plugin versions with rollout state, provider, limits and model card (markdown); rejected plugins',
  })
  @ApiOkResponse({ description: '{ plugins[], rejected[] }' })
  pluginList(): Promise<PluginsView> {
    return this.plugins.view();
  }
}

/** Durations between the steps of a run. */
function timingsOf(story: RunStory): RunTimings {
  const ms = (a: string | null | undefined, b: string | null | undefined) =>
    a && b ? Math.round((Date.parse(b) - Date.parse(a)) * 10) / 10 : null;
  const lastWrite = story.writeBacks.at(-1)?.createdAt;
  return {
    queuedMs: ms(story.notification.receivedAt, story.run.createdAt),
    runMs: ms(story.run.createdAt, story.run.finishedAt),
    inferenceMs: story.run.latencyMs,
    writeBackMs: ms(story.run.finishedAt, lastWrite),
    totalMs: ms(story.notification.receivedAt, lastWrite ?? story.run.finishedAt),
  };
}
