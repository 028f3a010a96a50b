import { getQueueToken } from '@nestjs/bullmq';
import {
  ConflictException,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Queue } from 'bullmq';
import { FailedJobEntity, FailedJobRepository } from '@aegle/store';
import { QUEUES } from '@aegle/jobs';
import { AdminApi } from '../admin/admin-token.guard';

const KNOWN_QUEUES = new Set<string>(Object.values(QUEUES));

/**
 * Routing and plugin-run jobs that gave up, and their replay by an operator (recorded: who, when, as
 * which job). Write-back failures are dead letters: see /api/dead-letters.
 */
@ApiTags('audit')
@AdminApi()
@Controller('api/audit/failed-jobs')
export class FailedJobController {
  constructor(
    private readonly failedJobs: FailedJobRepository,
    private readonly modules: ModuleRef,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Failed jobs, newest first' })
  @ApiOkResponse({ description: 'up to 100 failed jobs, replayed ones included' })
  list(@Query('replayed') replayed?: string): Promise<FailedJobEntity[]> {
    return this.failedJobs.list({ replayed: replayed === undefined ? undefined : replayed === 'true' });
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Put a failed job back on its queue',
    description:
      'Each failed job is replayed once; the processors are idempotent, so nothing is written twice.',
  })
  async replay(@Param('id', new ParseUUIDPipe()) id: string): Promise<{ replayJobId: string }> {
    const letter = await this.failedJobs.get(id);
    if (!letter) throw new NotFoundException(`no failed job ${id}`);
    if (letter.replayedAt) throw new ConflictException(`failed job ${id} was already replayed`);
    if (!KNOWN_QUEUES.has(letter.queue))
      throw new ConflictException(`queue ${letter.queue} no longer exists`);
    const replayJobId = `${letter.jobId}:replay:${id}`;
    // Claimed first, so two operators pressing replay at once put it back only once.
    if (!(await this.failedJobs.markReplayed(id, 'admin-token', replayJobId)))
      throw new ConflictException(`failed job ${id} was already replayed`);
    const queue = this.modules.get<Queue>(getQueueToken(letter.queue), { strict: false });
    await queue.add(letter.jobName, letter.payload, { jobId: replayJobId });
    return { replayJobId };
  }
}
