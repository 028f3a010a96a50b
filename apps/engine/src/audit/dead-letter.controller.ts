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
import { DeadLetterEntity, DeadLetterRepository } from '@aegle/audit';
import { QUEUES } from '@aegle/workflow';
import { AdminApi } from '../admin/admin-token.guard';

const KNOWN_QUEUES = new Set<string>(Object.values(QUEUES));

/** Jobs that gave up, and their replay by an operator (recorded: who, when, as which job). */
@ApiTags('audit')
@AdminApi()
@Controller('api/audit/dead-letters')
export class DeadLetterController {
  constructor(
    private readonly deadLetters: DeadLetterRepository,
    private readonly modules: ModuleRef,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Dead letters, newest first' })
  @ApiOkResponse({ description: 'up to `limit` dead letters (default 100), replayed ones included' })
  list(@Query('replayed') replayed?: string): Promise<DeadLetterEntity[]> {
    return this.deadLetters.list({ replayed: replayed === undefined ? undefined : replayed === 'true' });
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Put a dead letter back on its queue',
    description:
      'Each dead letter is replayed once; the processors are idempotent, so nothing is written twice.',
  })
  async replay(@Param('id', new ParseUUIDPipe()) id: string): Promise<{ replayJobId: string }> {
    const letter = await this.deadLetters.get(id);
    if (!letter) throw new NotFoundException(`no dead letter ${id}`);
    if (letter.replayedAt) throw new ConflictException(`dead letter ${id} was already replayed`);
    if (!KNOWN_QUEUES.has(letter.queue))
      throw new ConflictException(`queue ${letter.queue} no longer exists`);
    const replayJobId = `${letter.jobId}:replay:${id}`;
    // Claimed first, so two operators pressing replay at once put it back only once.
    if (!(await this.deadLetters.markReplayed(id, 'admin-token', replayJobId)))
      throw new ConflictException(`dead letter ${id} was already replayed`);
    const queue = this.modules.get<Queue>(getQueueToken(letter.queue), { strict: false });
    await queue.add(letter.jobName, letter.payload, { jobId: replayJobId });
    return { replayJobId };
  }
}
